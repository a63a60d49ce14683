import CodexAppServer
import Foundation
import GatewayRuntime
import Testing

/// Lines written from the schema (definitions.json) for what a turn against fake-openai does not
/// show: command approvals, reasoning, plans, errors, unknown kinds; and what the gateway sends.
@Suite("Encoding and decoding app-server messages")
struct AppServerMessageTests {
    @Test func responsesErrorsNotificationsAndRequestsAreToldApartWithIntegerOrStringIDs() throws {
        #expect(try decodeMessage(#"{"id":7,"result":{}}"#) == .response(id: 7, result: .object([:])))
        #expect(try decodeMessage(#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#) == .response(id: "a", result: .object(["x": .integer(1)])))
        #expect(
            try decodeMessage(#"{"error":{"code":-32600,"message":"no active turn to interrupt"},"id":6}"#)
                == .errorResponse(id: 6, error: .init(code: AppServer.ResponseError.invalidRequest, message: "no active turn to interrupt"))
        )
        #expect(
            try decodeMessage(#"{"id":null,"error":{"code":-32700,"message":"parse","data":{"at":3}}}"#)
                == .errorResponse(id: nil, error: .init(code: -32700, message: "parse", data: .object(["at": .integer(3)])))
        )
        guard case .request(let id, .unknown(let method, let params)) = try decodeMessage(#"{"id":"s1","method":"item/tool/requestUserInput","params":{"q":1}}"#)
        else { Issue.record("expected an unknown server request"); return }
        #expect(id == "s1")
        #expect(method == "item/tool/requestUserInput")
        #expect(params == .object(["q": .integer(1)]))
        #expect(try decodeMessage(#"{"method":"warning"}"#) == .notification(.unknown(method: "warning", params: .null)))
    }

    @Test func aLineThatIsNoMessageIsADecodingError() {
        #expect(throws: DecodingError.self) { try decodeMessage(#"{"id":1}"#) }
        #expect(throws: DecodingError.self) { try decodeMessage(#"{"result":{}}"#) }
        #expect(throws: DecodingError.self) { try decodeMessage(#"[1]"#) }
        #expect(throws: DecodingError.self) { try decodeMessage(#"{"id":1.5,"result":{}}"#) }
    }

    @Test func aCommandApprovalRequestCarriesTheCommandAndIsAnsweredWithADecision() throws {
        let line = #"""
            {"id":3,"method":"item/commandExecution/requestApproval","params":{"threadId":"t","turnId":"u","itemId":"call_1",
            "startedAtMs":1796634269686,"command":"rm -rf build","cwd":"/srv/ws","reason":"outside the sandbox",
            "commandActions":[{"type":"unknown","command":"rm -rf build"}],"availableDecisions":["accept","acceptForSession","decline","cancel"]}}
            """#
        guard case .request(let id, .commandExecutionApproval(let params)) = try decodeMessage(line) else {
            Issue.record("expected a command approval")
            return
        }
        #expect(id == 3)
        #expect(params.threadId == "t")
        #expect(params.turnId == "u")
        #expect(params.itemId == "call_1")
        #expect(params.command == "rm -rf build")
        #expect(params.cwd == "/srv/ws")
        #expect(params.reason == "outside the sandbox")
        #expect(params.availableDecisions?.count == 4)

        for decision in AppServer.ApprovalDecision.allCases {
            let answer = AppServer.OutgoingResponse(id: id, result: AppServer.ApprovalResponse(decision: decision))
            #expect(try json(encoding: answer) == json(#"{"id":3,"result":{"decision":"\#(decision.rawValue)"}}"#))
        }
        #expect(AppServer.ApprovalDecision.allCases.map(\.rawValue) == ["accept", "acceptForSession", "decline", "cancel"])
        let refusal = AppServer.OutgoingErrorResponse(id: "s1", error: .init(code: -32601, message: "not supported"))
        #expect(try json(encoding: refusal) == json(#"{"id":"s1","error":{"code":-32601,"message":"not supported"}}"#))
    }

    @Test func anApprovalWhoseParamsDoNotMatchTheModelIsUnknownSoItCanBeRefused() throws {
        guard case .request(let id, .unknown(let method, _)) = try decodeMessage(#"{"id":4,"method":"item/fileChange/requestApproval","params":{"threadId":"t"}}"#)
        else { Issue.record("expected an unknown server request"); return }
        #expect(id == 4)
        #expect(AppServer.ServerRequest.knownMethods.contains(method))
    }

    @Test func reasoningPlanErrorAndStatusNotificationsDecode() throws {
        #expect(
            try decodeMessage(#"{"method":"item/reasoning/summaryTextDelta","params":{"threadId":"t","turnId":"u","itemId":"r","delta":"Look","summaryIndex":0}}"#)
                .notification?.method == "item/reasoning/summaryTextDelta"
        )
        guard case .notification(.reasoningTextDelta(let text)) = try decodeMessage(
            #"{"method":"item/reasoning/textDelta","params":{"threadId":"t","turnId":"u","itemId":"r","delta":"x","contentIndex":2}}"#
        ) else { Issue.record("expected a reasoning text delta"); return }
        #expect(text.delta == "x")
        #expect(text.contentIndex == 2)

        guard case .notification(.turnPlanUpdated(let plan)) = try decodeMessage(
            #"{"method":"turn/plan/updated","params":{"threadId":"t","turnId":"u","explanation":null,"plan":[{"step":"Write","status":"completed"},{"step":"Test","status":"inProgress"},{"step":"Ship","status":"pending"}]}}"#
        ) else { Issue.record("expected a plan update"); return }
        #expect(plan.plan.map(\.step) == ["Write", "Test", "Ship"])
        #expect(plan.plan.map(\.status) == [.completed, .inProgress, .pending])

        guard case .notification(.error(let error)) = try decodeMessage(
            #"{"method":"error","params":{"threadId":"t","turnId":"u","willRetry":true,"error":{"message":"stream disconnected","codexErrorInfo":{"responseStreamDisconnected":{"httpStatusCode":502}},"additionalDetails":null}}}"#
        ) else { Issue.record("expected an error notification"); return }
        #expect(error.willRetry)
        #expect(error.error.message == "stream disconnected")
        #expect(error.error.codexErrorInfo?["responseStreamDisconnected"]?["httpStatusCode"] == .integer(502))

        guard case .notification(.turnCompleted(let failed)) = try decodeMessage(
            #"{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u","items":[],"status":"failed","error":{"message":"unauthorized","codexErrorInfo":"unauthorized"}}}}"#
        ) else { Issue.record("expected turn/completed"); return }
        #expect(failed.turn.status == .failed)
        #expect(failed.turn.error?.codexErrorInfo == .string("unauthorized"))
        #expect(failed.threadId == "t")
        #expect(AppServer.ServerNotification.turnCompleted(failed).threadID == "t")
    }

    @Test func theItemKindsTheGatewayMapsDecodeAndOthersStayAsSent() throws {
        let items = try JSONDecoder().decode([AppServer.ThreadItem].self, from: Data(#"""
            [{"type":"reasoning","id":"r1","summary":["Looking"],"content":[]},
             {"type":"reasoning","id":"r2"},
             {"type":"plan","id":"p","text":"1. write"},
             {"type":"webSearch","id":"w","query":"swift nio","action":{"type":"search","query":"swift nio"}},
             {"type":"mcpToolCall","id":"m","server":"docs","tool":"find","status":"failed","arguments":{"q":1},"error":{"message":"down"},"result":null},
             {"type":"contextCompaction","id":"c"},
             {"type":"fileChange","id":"f","status":"inProgress","changes":[{"path":"a","kind":{"type":"update","move_path":"b"},"diff":"@@"},{"path":"c","kind":{"type":"delete"},"diff":""}]},
             {"type":"imageView","id":"i","path":"/x.png"},
             {"type":"agentMessage","id":"bad"}]
            """#.utf8))
        #expect(items.map(\.type) == ["reasoning", "reasoning", "plan", "webSearch", "mcpToolCall", "contextCompaction", "fileChange", "imageView", "agentMessage"])
        #expect(items.map(\.id) == ["r1", "r2", "p", "w", "m", "c", "f", "i", "bad"])
        if case .reasoning(let reasoning) = items[0] { #expect(reasoning.summary == ["Looking"]) } else { Issue.record("reasoning") }
        if case .reasoning(let reasoning) = items[1] { #expect(reasoning.summary.isEmpty && reasoning.content.isEmpty) } else { Issue.record("bare reasoning") }
        if case .mcpToolCall(let call) = items[4] {
            #expect(call.status == .failed)
            #expect(call.error?.message == "down")
            #expect(call.arguments == .object(["q": .integer(1)]))
        } else { Issue.record("mcpToolCall") }
        if case .fileChange(let change) = items[6] {
            #expect(change.changes.map(\.kind) == [.update(movePath: "b"), .delete])
        } else { Issue.record("fileChange") }
        guard case .unknown(let type, let value) = items[7] else { Issue.record("imageView should be unknown"); return }
        #expect(type == "imageView")
        #expect(value["path"] == .string("/x.png"))
        guard case .unknown(_, let malformed) = items[8] else { Issue.record("an agentMessage without text should be unknown"); return }
        #expect(malformed == .object(["type": .string("agentMessage"), "id": .string("bad")]))

        // What decodes encodes back to the same JSON (item type included).
        for item in items {
            #expect(try JSONDecoder().decode(AppServer.ThreadItem.self, from: JSONEncoder().encode(item)) == item)
        }
    }

    @Test func requestsAreEncodedAsTheSchemaSpellsThem() throws {
        let initialize = AppServer.OutgoingRequest(
            id: 1,
            params: AppServer.InitializeParams(clientInfo: .init(name: "codex-gateway", version: "1"), capabilities: .init(experimentalApi: true))
        )
        #expect(
            try json(encoding: initialize)
                == json(#"{"id":1,"method":"initialize","params":{"clientInfo":{"name":"codex-gateway","version":"1"},"capabilities":{"experimentalApi":true}}}"#)
        )
        #expect(try json(encoding: AppServer.OutgoingNotification.initialized) == json(#"{"method":"initialized"}"#))

        let start = AppServer.ThreadStartParams(
            cwd: "/srv/ws", approvalPolicy: .onRequest, sandbox: .workspaceWrite, model: "gpt-5.4",
            config: ["model_provider": .string("gateway")], developerInstructions: "Be brief.", environments: []
        )
        #expect(
            try json(encoding: AppServer.OutgoingRequest(id: 2, params: start))
                == json(#"""
                    {"id":2,"method":"thread/start","params":{"cwd":"/srv/ws","approvalPolicy":"on-request","sandbox":"workspace-write",
                    "model":"gpt-5.4","config":{"model_provider":"gateway"},"developerInstructions":"Be brief.","environments":[]}}
                    """#)
        )
        let resume = AppServer.ThreadResumeParams(threadId: "t", overrides: .init(cwd: "/srv/ws", approvalPolicy: .never, sandbox: .readOnly))
        #expect(
            try json(encoding: AppServer.OutgoingRequest(id: 3, params: resume))
                == json(#"{"id":3,"method":"thread/resume","params":{"threadId":"t","cwd":"/srv/ws","approvalPolicy":"never","sandbox":"read-only"}}"#)
        )
        #expect(try JSONDecoder().decode(AppServer.ThreadResumeParams.self, from: JSONEncoder().encode(resume)) == resume)
        #expect(try json(encoding: AppServer.ThreadReadParams(threadId: "t", includeTurns: true)) == json(#"{"threadId":"t","includeTurns":true}"#))
        #expect(try json(encoding: AppServer.ThreadListParams()) == json(#"{"modelProviders":[]}"#))

        let turn = AppServer.TurnStartParams(
            threadId: "t", input: [.text("Write a hello function")], approvalPolicy: .untrusted,
            sandboxPolicy: .workspaceWrite(.init(writableRoots: ["/srv/ws"])), outputSchema: .object(["type": .string("object")]),
            environments: [.init(cwd: "/srv/ws")]
        )
        #expect(
            try json(encoding: AppServer.OutgoingRequest(id: "t1", params: turn))
                == json(#"""
                    {"id":"t1","method":"turn/start","params":{"threadId":"t","input":[{"type":"text","text":"Write a hello function"}],
                    "approvalPolicy":"untrusted","outputSchema":{"type":"object"},"environments":[{"environmentId":"local","cwd":"/srv/ws"}],
                    "sandboxPolicy":{"type":"workspaceWrite","writableRoots":["/srv/ws"],"networkAccess":false,"excludeTmpdirEnvVar":false,"excludeSlashTmp":false}}}
                    """#)
        )
        #expect(try json(encoding: AppServer.SandboxPolicy.readOnly(networkAccess: false)) == json(#"{"type":"readOnly","networkAccess":false}"#))
        #expect(try json(encoding: AppServer.SandboxPolicy.dangerFullAccess) == json(#"{"type":"dangerFullAccess"}"#))
        #expect(
            try json(encoding: AppServer.OutgoingRequest(id: 5, params: AppServer.TurnInterruptParams(threadId: "t", turnId: "u")))
                == json(#"{"id":5,"method":"turn/interrupt","params":{"threadId":"t","turnId":"u"}}"#)
        )
        #expect(
            try json(encoding: AppServer.OutgoingRequest(id: 6, params: AppServer.ThreadBackgroundTerminalsCleanParams(threadId: "t")))
                == json(#"{"id":6,"method":"thread/backgroundTerminals/clean","params":{"threadId":"t"}}"#)
        )
    }

    @Test func everyMessageEncodesBackToWhatItWasDecodedFrom() throws {
        for fixture in ["turn-accept-file-change.jsonl", "turn-decline-file-change.jsonl"] {
            for line in try fixtureLines(fixture) {
                let message = try decodeMessage(line)
                #expect(try decodeMessage(JSONEncoder().encode(message)) == message)
            }
        }
    }

    @Test func anApprovalPolicyOrSandboxCodexAddsLaterDecodesAsSent() throws {
        let policy = try JSONDecoder().decode(AppServer.AskForApproval.self, from: Data(#"{"granular":{"rules":true}}"#.utf8))
        #expect(policy == .other(.object(["granular": .object(["rules": .bool(true)])])))
        #expect(try JSONDecoder().decode(AppServer.AskForApproval.self, from: Data(#""on-request""#.utf8)) == .onRequest)
        let sandbox = try JSONDecoder().decode(AppServer.SandboxPolicy.self, from: Data(#"{"type":"externalSandbox","networkAccess":"enabled"}"#.utf8))
        #expect(sandbox == .other(.object(["type": .string("externalSandbox"), "networkAccess": .string("enabled")])))
        #expect(try json(encoding: sandbox) == json(#"{"type":"externalSandbox","networkAccess":"enabled"}"#))
        let status = try JSONDecoder().decode(AppServer.ThreadStatus.self, from: Data(#"{"type":"hibernating"}"#.utf8))
        #expect(status == .other(type: "hibernating"))
        #expect(AppServer.TurnStatus(rawValue: "paused").rawValue == "paused")
    }
}

extension AppServer.Message {
    /// The notification, when this is one.
    fileprivate var notification: AppServer.ServerNotification? {
        if case .notification(let notification) = self { return notification }
        return nil
    }
}
