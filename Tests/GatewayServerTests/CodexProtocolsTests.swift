import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import NIOCore
import Synchronization
import Testing

/// The real Codex engine through every protocol but exec (which `CodexEngineTests` covers):
/// JSON-RPC, WebSocket and webhooks run a tool turn; approvals reach watching sockets and webhook
/// callbacks; another key gets nothing of a conversation; the engine survives its child being
/// killed mid-turn and recycles a child that holds too many threads (PROTOCOLS §10).
@Suite("The Codex engine through JSON-RPC, WebSocket and webhooks", .serialized)
struct CodexProtocolsTests: LiveHTTPRequests {
    static let toolTurn = "#fake-codex add hello.txt"

    /// The items of a tool turn: the file added, the command and its output, the final message.
    ///
    /// Codex 0.147 sometimes completes a short command with an empty `aggregated_output` (and no
    /// output delta) although the model got the output (seen in about 1 run in 3 on a loaded
    /// machine, with and without the gateway): the final message, which fake-openai writes only when
    /// the last tool output showed the file's text, is what proves the output; a non-empty
    /// `aggregated_output` must still be that text.
    static func expectToolItems(_ items: [[String: Any]], _ context: String) {
        let change = items.first { $0["type"] as? String == "file_change" }
        #expect((change?["changes"] as? [[String: Any]])?.first?["kind"] as? String == "add", "\(context): \(items)")
        let command = items.first { $0["type"] as? String == "command_execution" }
        #expect(command?["command"] as? String != nil, "\(context): \(items)")
        let output = command?["aggregated_output"] as? String ?? ""
        #expect(output.isEmpty || output.contains("hello from fake-openai"), "\(context): \(items)")
        #expect(command?["exit_code"] as? Int == 0)
        let message = items.last { $0["type"] as? String == "agent_message" }
        #expect((message?["text"] as? String)?.hasPrefix("Done:") == true, "\(context): \(items)")
    }

    static func workspaceFile(_ setup: CodexTestSetup, conversation: String, _ name: String) -> Bool {
        let root = setup.codexHome + "/workspaces"
        let paths = (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []
        return paths.contains { $0.hasSuffix("/\(conversation)/\(name)") }
    }

    @Test(arguments: ["jsonrpc", "websocket", "webhook"])
    func aToolTurnWritesItsFileAndReportsItsItemsThrough(via: String) async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "responses")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let conversation: String
                switch via {
                case "jsonrpc":
                    let reply = try await jsonRPCRequest(
                        port: port, #"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":{"prompt":"\#(Self.toolTurn)"}}"#, timeout: .seconds(120))
                    conversation = try #require(reply[path: "result.conversation_id"] as? String, "\(reply)")
                    #expect((reply[path: "result.content"] as? String)?.hasPrefix("Done:") == true, "\(reply)")
                    Self.expectToolItems(reply[path: "result.items"] as? [[String: Any]] ?? [], via)
                case "websocket":
                    let started = Mutex("")
                    try await WebSocketTests().connect(port: port, timeout: .seconds(120)) { inbound, outbound, _ in
                        var messages = ServerMessages(inbound)
                        try await outbound.send(#"{"type":"exec","prompt":"\#(Self.toolTurn)","id":"w1"}"#)
                        let events = try await messages.events(until: "turn.completed")
                        started.withLock { $0 = threadID(in: events) ?? "" }
                        let items = events.filter { $0[path: "event.type"] as? String == "item.completed" }.compactMap { $0[path: "event.item"] as? [String: Any] }
                        Self.expectToolItems(items, via)
                    }
                    conversation = started.withLock { $0 }
                default:
                    let accepted = try await Self.send(port: port, "POST", "/webhook", #"{"event":"prompt","data":{"prompt":"\#(Self.toolTurn)"}}"#)
                    #expect(accepted.status == 202)
                    let id = try #require(accepted.json["id"] as? String)
                    let delivery = try await Self.poll(port: port, "/webhook/\(id)") { ($0["status"] as? String).map { ["completed", "failed"].contains($0) } ?? false }
                    #expect(delivery["status"] as? String == "completed", "\(delivery)")
                    #expect((delivery["result"] as? String)?.hasPrefix("Done:") == true)
                    conversation = try #require(delivery["conversation_id"] as? String)
                    // The turn's items are the conversation's, whoever asked: read them over JSON-RPC.
                }
                #expect(Self.workspaceFile(setup, conversation: conversation, "hello.txt"), "\(via): hello.txt in the conversation's workspace")
            }
        }
    }

    /// A turn run on one socket asks for an approval; a second socket of the same key that watches
    /// the conversation gets it too; whichever answers first decides, and both hear the answer.
    @Test(arguments: ["accept", "decline"])
    func anApprovalReachesEveryWatchingSocketAndTheFirstAnswerDecides(decision: String) async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let file = "\(decision)-ws.txt"
                let started = Mutex("")
                try await WebSocketTests().connect(port: port, timeout: .seconds(120)) { inbound, outbound, _ in
                    var runner = ServerMessages(inbound)
                    try await outbound.send(##"{"type":"exec","prompt":"#fake-agent:command:touch "## + file + ##"","approval_policy":"untrusted","id":"r"}"##)
                    let opening = try await runner.read(until: "thread.started")
                    let conversation = try #require(threadID(in: opening))
                    started.withLock { $0 = conversation }
                    let asked = try await runner.read(until: "approval_request")
                    let approval = try #require(asked.last?["approval"] as? [String: Any])
                    let approvalID = try #require(approval["id"] as? String)
                    let command = approval["command"] as? String
                    #expect(asked.last?["id"] as? String == "r", "the running socket's request carries its exec id")

                    try await WebSocketTests().connect(port: port, timeout: .seconds(60)) { inbound, watcherOut, _ in
                        var watcher = ServerMessages(inbound)
                        try await watcherOut.send(#"{"type":"watch","conversation_id":"\#(conversation)"}"#)
                        let ack = try await watcher.next()
                        #expect(ack["type"] as? String == "ack" && ack["message"] as? String == "watching", "\(ack)")
                        let relayed = try await watcher.next()
                        #expect(relayed["type"] as? String == "approval_request", "\(relayed)")
                        #expect(relayed[path: "approval.id"] as? String == approvalID)
                        #expect(relayed[path: "approval.command"] as? String == command)
                        // The watcher answers; the first answer wins.
                        try await watcherOut.send(#"{"type":"approval","approval_id":"\#(approvalID)","decision":"\#(decision)"}"#)
                        let resolved = try await watcher.next()
                        #expect(resolved[path: "event.type"] as? String == "approval.resolved", "\(resolved)")
                        #expect(resolved[path: "event.approval.decision"] as? String == decision)
                    }
                    // Too late from the running socket.
                    try await outbound.send(#"{"type":"approval","approval_id":"\#(approvalID)","decision":"accept"}"#)
                    let rest = try await runner.read(until: "turn.completed")
                    #expect(first(rest, "approval.resolved")?[path: "event.approval.decision"] as? String == decision, "\(rest)")
                    #expect(rest.contains { $0["code"] as? String == "approval_already_answered" }, "\(rest)")
                }
                #expect(Self.workspaceFile(setup, conversation: started.withLock { $0 }, file) == (decision == "accept"))
            }
        }
    }

    /// A webhook turn that asks for an approval POSTs it to the callback URL; answered at
    /// POST /approvals/{id}, the turn goes on and its outcome is called back as well.
    @Test func aWebhookTurnsApprovalIsCalledBackAndAnsweredOverREST() async throws {
        let receiver = CallbackReceiver()
        try await receiver.run { url in
            try await withFakeUpstream { fake in
                let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: ["OUTBOUND_ALLOW_PRIVATE": "true"])
                defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
                try await withLiveGateway(setup.gateway) { port in
                    let body = ##"{"event":"prompt","data":{"prompt":"#fake-agent:command:touch hooked.txt","approval_policy":"untrusted","callback_url":"\##(url)"}}"##
                    let accepted = try await Self.send(port: port, "POST", "/webhook", body)
                    #expect(accepted.status == 202, "\(accepted.json)")
                    let deliveryID = try #require(accepted.json["id"] as? String)
                    var asked: [String: Any]?
                    for _ in 0..<600 where asked == nil {
                        asked = receiver.received.lazy.compactMap { Self.object($0.body) }.first { $0["event"] as? String == "approval.requested" }
                        if asked == nil { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    let call = try #require(asked, "the approval was called back")
                    #expect(call["delivery_id"] as? String == deliveryID)
                    let approvalID = try #require(call[path: "approval.id"] as? String)
                    #expect((call[path: "approval.command"] as? String)?.contains("touch hooked.txt") == true, "\(call)")
                    #expect(receiver.received.first?.headers[HTTPField.Name("X-Webhook-Timestamp")!] != nil, "signed like every callback")
                    let answer = try await Self.send(port: port, "POST", "/approvals/\(approvalID)", #"{"decision":"accept"}"#)
                    #expect(answer.status == 200)
                    let delivery = try await Self.poll(port: port, "/webhook/\(deliveryID)") { $0[path: "callback.status"] as? String == "delivered" }
                    #expect(delivery["status"] as? String == "completed", "\(delivery)")
                    let conversation = try #require(delivery["conversation_id"] as? String)
                    #expect(Self.workspaceFile(setup, conversation: conversation, "hooked.txt"))
                    let outcome = receiver.received.compactMap { Self.object($0.body) }.last
                    #expect(outcome?["status"] as? String == "completed", "\(String(describing: outcome))")
                }
            }
        }
    }

    /// A webhook's turn options are checked when it is accepted, as /exec checks them.
    @Test func aWebhookWithBadTurnOptionsIsRefusedBeforeItIsStored() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: ["GATEWAY_MAX_SANDBOX": "read-only"])
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let cases: [(String, Int, String)] = [
                    (#"{"prompt":"hi","sandbox":"danger-full-access"}"#, 403, "sandbox_not_allowed"),
                    (#"{"prompt":"hi","workspace":"../elsewhere"}"#, 400, "data.workspace"),
                    (#"{"prompt":"hi","approval_policy":"sometimes"}"#, 400, "data.approval_policy"),
                    (#"{"prompt":"hi","model":7}"#, 400, "data.model"),
                ]
                for (data, status, mention) in cases {
                    let response = try await Self.send(port: port, "POST", "/webhook", #"{"event":"prompt","data":\#(data)}"#)
                    #expect(response.status == status, "\(data): \(response.json)")
                    #expect("\(response.json)".contains(mention), "\(data): \(response.json)")
                }
            }
        }
    }

    /// `approval_policy: never`: a command that writes outside the workspace is refused by the
    /// sandbox, and nothing is written.
    @Test func theSandboxRefusesAWriteOutsideTheWorkspace() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let outside = setup.codexHome + "/outside.txt"
                let response = try await HTTPClient.shared.execute(
                    execRequest(port: port, ##"{"prompt":"#fake-agent:write-outside:"## + outside + ##"","approval_policy":"never"}"##), timeout: .seconds(120))
                var lines = LineReader(iterator: response.body.makeAsyncIterator())
                var seen: [[String: Any]] = []
                while let line = try await lines.next() { seen.append(line) }
                #expect(seen.last?["type"] as? String == "turn.completed", "\(seen.suffix(3))")
                let command = seen.compactMap { $0["item"] as? [String: Any] }.last { $0["type"] as? String == "command_execution" }
                #expect(command?["exit_code"] as? Int != 0, "\(String(describing: command))")
                #expect(!FileManager.default.fileExists(atPath: outside), "nothing was written outside the workspace")
            }
        }
    }

    /// Bob gets nothing of Alice's conversation: not its approval, not a turn, not a watch.
    @Test func anotherKeyIsRefusedEverythingOfAForeignConversation() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: ["GATEWAY_API_KEY": "\(Owners.alice),\(Owners.bob)"])
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let response = try await HTTPClient.shared.execute(
                    execRequest(port: port, ##"{"prompt":"#fake-agent:command:touch alice.txt","approval_policy":"untrusted"}"##), timeout: .seconds(120))
                var lines = LineReader(iterator: response.body.makeAsyncIterator())
                var seen: [[String: Any]] = []
                var approval: [String: Any]?
                while approval == nil, let line = try await lines.next() {
                    seen.append(line)
                    approval = line["approval"] as? [String: Any]
                }
                let approvalID = try #require(approval?["id"] as? String, "\(seen.suffix(3))")
                let conversation = try #require(seen.first?["thread_id"] as? String)
                let bob = Owners.bob

                #expect((try await Self.send(port: port, "GET", "/approvals", key: bob).json["approvals"] as? [Any])?.isEmpty == true)
                #expect(try await Self.send(port: port, "POST", "/approvals/\(approvalID)", #"{"decision":"accept"}"#, key: bob).status == 404)
                let rpc = try await jsonRPCRequest(
                    port: port, key: bob, #"{"jsonrpc":"2.0","id":1,"method":"approval.respond","params":{"approval_id":"\#(approvalID)","decision":"accept"}}"#)
                #expect(rpc["error"] != nil, "\(rpc)")
                for method in ["conversation.cancel", "conversation.history"] {
                    let reply = try await jsonRPCRequest(port: port, key: bob, #"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{"conversation_id":"\#(conversation)"}}"#)
                    #expect(reply[path: "error.code"] as? Int == -32004, "\(method): \(reply)")
                }
                let exec = try await Self.send(port: port, "POST", "/exec", #"{"prompt":"hi","conversation_id":"\#(conversation)"}"#, key: bob)
                #expect(exec.status == 404, "\(exec.json)")
                let hook = try await Self.send(port: port, "POST", "/webhook", #"{"event":"prompt","data":{"prompt":"hi","conversation_id":"\#(conversation)"}}"#, key: bob)
                #expect(hook.status == 400 && "\(hook.json)".contains("conversation_not_found"), "\(hook.json)")
                try await WebSocketTests().connect(port: port, headers: .apiKey(bob)) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"watch","conversation_id":"\#(conversation)"}"#)
                    let refused = try await messages.next()
                    #expect(refused["code"] as? String == "conversation_not_found", "\(refused)")
                    try await outbound.send(#"{"type":"approval","approval_id":"\#(approvalID)","decision":"accept"}"#)
                    #expect(try await messages.next()["code"] as? String == "approval_not_found")
                }
                // Still Alice's to answer.
                #expect(try await CodexEngineTests.post(port: port, "/approvals/\(approvalID)", #"{"decision":"decline"}"#) == 200)
                while let line = try await lines.next() { seen.append(line) }
                #expect(seen.last?["type"] as? String == "turn.completed")
                #expect(!Self.workspaceFile(setup, conversation: conversation, "alice.txt"))
            }
        }
    }

    /// The `codex app-server` child is killed while a turn runs a command: the turn fails with a
    /// clear message, the command does not outlive it, and the next turn resumes the conversation
    /// in the new child.
    @Test func anEngineKilledMidTurnFailsThatTurnAndTheNextTurnResumes() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let first = try await HTTPClient.shared.execute(execRequest(port: port, ##"{"prompt":"#fake-agent:command:touch first.txt"}"##), timeout: .seconds(120))
                var firstLines = LineReader(iterator: first.body.makeAsyncIterator())
                var seen: [[String: Any]] = []
                while let line = try await firstLines.next() { seen.append(line) }
                let conversation = try #require(seen.first?["thread_id"] as? String)
                #expect(seen.last?["type"] as? String == "turn.completed", "\(seen.suffix(2))")

                let response = try await HTTPClient.shared.execute(
                    execRequest(port: port, ##"{"prompt":"#fake-agent:sleep","conversation_id":"\##(conversation)"}"##), timeout: .seconds(120))
                var lines = LineReader(iterator: response.body.makeAsyncIterator())
                seen = []
                var running = false
                while !running, let line = try await lines.next() {
                    seen.append(line)
                    running = line["type"] as? String == "item.started" && line[path: "item.type"] as? String == "command_execution"
                }
                #expect(running, "\(seen.suffix(2))")
                let child = try #require(Self.appServers().first, "the gateway runs a codex app-server")
                kill(child, SIGKILL)
                while let line = try await lines.next() { seen.append(line) }
                #expect(seen.last?["type"] as? String == "turn.failed", "\(seen.suffix(2))")
                #expect((seen.last?["error"] as? [String: Any])?["message"] as? String != nil || seen.last?["message"] != nil)
                var left = CodexEngineTests.processes(running: "sleep 60")
                for _ in 0..<100 where left > 0 {
                    try await Task.sleep(for: .milliseconds(100))
                    left = CodexEngineTests.processes(running: "sleep 60")
                }
                #expect(left == 0, "the command did not outlive the engine")

                let next = try await HTTPClient.shared.execute(
                    execRequest(port: port, ##"{"prompt":"#fake-agent:command:touch after.txt","conversation_id":"\##(conversation)"}"##), timeout: .seconds(120))
                var nextLines = LineReader(iterator: next.body.makeAsyncIterator())
                seen = []
                while let line = try await nextLines.next() { seen.append(line) }
                #expect(seen.last?["type"] as? String == "turn.completed", "\(seen.suffix(3))")
                #expect(Self.workspaceFile(setup, conversation: conversation, "after.txt"), "the resumed thread works in the same workspace")
                #expect(Self.appServers().first != child)
            }
        }
    }

    /// With ENGINE_MAX_LOADED_THREADS=1, the child is recycled once idle with two threads loaded;
    /// the first conversation's next turn resumes it in the new child.
    @Test func aChildHoldingTooManyThreadsIsRecycledWhenIdleAndConversationsGoOn() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: ["ENGINE_MAX_LOADED_THREADS": "1"])
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                func turn(_ body: String) async throws -> [[String: Any]] {
                    let response = try await HTTPClient.shared.execute(execRequest(port: port, body), timeout: .seconds(120))
                    var lines = LineReader(iterator: response.body.makeAsyncIterator())
                    var seen: [[String: Any]] = []
                    while let line = try await lines.next() { seen.append(line) }
                    #expect(seen.last?["type"] as? String == "turn.completed", "\(seen.suffix(3))")
                    return seen
                }
                let one = try #require(try await turn(##"{"prompt":"#fake-agent:command:touch one.txt"}"##).first?["thread_id"] as? String)
                let before = try #require(Self.appServers().first)
                _ = try await turn(##"{"prompt":"#fake-agent:command:touch two.txt"}"##)
                var after = Self.appServers().first
                for _ in 0..<100 where after == nil || after == before {
                    try await Task.sleep(for: .milliseconds(100))
                    after = Self.appServers().first
                }
                #expect(after != nil && after != before, "the child was recycled")
                _ = try await turn(##"{"prompt":"#fake-agent:command:touch again.txt","conversation_id":"\##(one)"}"##)
                #expect(Self.workspaceFile(setup, conversation: one, "again.txt"))
            }
        }
    }

    // MARK: Helpers

    /// The pids of this process's `codex app-server` children.
    static func appServers() -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"),
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let arguments = String(decoding: cmdline, as: UTF8.self).split(separator: "\0")
            return fields.count > 2 && Int32(fields[1]) == me && arguments.contains("app-server")
        }
    }

    static func object(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    /// Polls GET `path` until `done` holds (at most two minutes) and returns the last answer.
    static func poll(port: Int, _ path: String, until done: ([String: Any]) -> Bool) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        for _ in 0..<1200 {
            last = try await send(port: port, "GET", path).json
            if done(last) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return last
    }
}
