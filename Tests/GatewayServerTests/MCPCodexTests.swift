import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import NIOCore
import Testing

/// `/mcp`'s tools with the real Codex (`codex app-server`) against fake-openai: a `codex` call
/// writes a file and streams progress, `codex-reply` continues the conversation, an approval is
/// answered through elicitation, and a long turn ends when the call is cancelled or its client goes.
@Suite("MCP tools with the real Codex", .serialized)
struct MCPCodexTests {
    static func call(id: Int, tool: String, arguments: String, progressToken: String? = nil) -> String {
        let meta = progressToken.map { #","_meta":{"progressToken":"\#($0)"}"# } ?? ""
        return #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(tool)","arguments":\#(arguments)\#(meta)}}"#
    }

    /// Runs `body` with a live codex-engine gateway on fake-openai.
    static func withCodexGateway(_ body: (CodexTestSetup, Int) async throws -> Void) async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "responses")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in try await body(setup, port) }
        }
    }

    @Test(arguments: ["2025-11-25", "2026-07-28"])
    func codexWritesAFileWithProgressAndCodexReplyContinues(version: String) async throws {
        try await Self.withCodexGateway { setup, port in
            let stateless = version == "2026-07-28"
            let client = stateless ? MCPTestClient(port: port) : try await MCPTestClient.initialized(port: port, version: version)
            func send(_ id: Int, _ tool: String, _ arguments: String, progress: String?) async throws -> MCPTestClient.Reply {
                guard stateless else { return try await client.send(.POST, Self.call(id: id, tool: tool, arguments: arguments, progressToken: progress)) }
                let built = MCPTestClient.stateless(
                    id: id, method: "tools/call", params: #""name":"\#(tool)","arguments":\#(arguments)"#, meta: progress.map { #""progressToken":"\#($0)""# })
                return try await client.send(.POST, built.body, headers: built.headers + [("Mcp-Name", tool)])
            }
            let first = try await send(1, "codex", ##"{"prompt":"#fake-codex add hello.txt"}"##, progress: "p1")
            #expect(first.status == 200 && first.contentType.hasPrefix("text/event-stream"), "\(first.messages)")
            let progress = first.messages.filter { $0["method"] as? String == "notifications/progress" }
            #expect(progress.count >= 3, "progress while the turn runs: \(progress)")
            #expect(progress.allSatisfy { $0[path: "params.progressToken"] as? String == "p1" })
            #expect(progress.contains { ($0[path: "params.message"] as? String)?.hasPrefix("Running: ") == true }, "\(progress)")
            let result = first.response
            #expect(result[path: "result.isError"] as? Bool == false, "\(first.messages)")
            let thread = try #require(result[path: "result.structuredContent.threadId"] as? String, "\(result)")
            #expect((result[path: "result.structuredContent.content"] as? String)?.hasPrefix("Done:") == true)
            #expect(((result[path: "result.content"] as? [[String: Any]])?.first?["text"] as? String)?.hasPrefix("Done:") == true)
            CodexProtocolsTests.expectToolItems(result[path: "result.structuredContent.items"] as? [[String: Any]] ?? [], "mcp \(version)")
            #expect(result[path: "result.structuredContent.usage.output_tokens"] is Int)
            #expect(stateless == (result[path: "result.resultType"] as? String == "complete"))
            #expect(CodexProtocolsTests.workspaceFile(setup, conversation: thread, "hello.txt"), "hello.txt in the conversation's workspace")

            let second = try await send(2, "codex-reply", ##"{"threadId":"\##(thread)","prompt":"#fake-agent:command:ls"}"##, progress: nil)
            let reply = second.response
            #expect(reply[path: "result.isError"] as? Bool == false, "\(second.messages)")
            #expect(reply[path: "result.structuredContent.threadId"] as? String == thread)
            let listing = (reply[path: "result.structuredContent.items"] as? [[String: Any]])?.first { $0["type"] as? String == "command_execution" }
            #expect((listing?["aggregated_output"] as? String)?.contains("hello.txt") == true, "the reply runs in the same workspace: \(reply)")

            // JSON only: the same kind of call answers one object.
            if !stateless {
                let json = try await client.send(
                    .POST, Self.call(id: 3, tool: "codex-reply", arguments: ##"{"conversationId":"\##(thread)","prompt":"#fake-agent:command:true"}"##),
                    accept: "application/json")
                #expect(json.contentType.hasPrefix("application/json") && json.response[path: "result.isError"] as? Bool == false, "\(json.messages)")
            }
        }
    }

    @Test(arguments: ["notification", "disconnect"])
    func aLongCallEndsWhenCancelled(by how: String) async throws {
        try await Self.withCodexGateway { _, port in
            let client = try await MCPTestClient.initialized(port: port)
            let request = client.request(.POST, Self.call(id: 7, tool: "codex", arguments: ##"{"prompt":"#fake-agent:sleep"}"##, progressToken: "long"))
            let (signals, signal) = AsyncStream.makeStream(of: Data.self)
            // Reads the call's stream in a task of its own, so the client can go away by cancelling it.
            let reader = Task {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                var events = SSEMessages(iterator: response.body.makeAsyncIterator())
                var seen: [[String: Any]] = []
                var running = false
                while let message = try await events.next() {
                    seen.append(message)
                    if !running, (message[path: "params.message"] as? String)?.hasPrefix("Running: ") == true {
                        running = true
                        signal.yield(try JSONSerialization.data(withJSONObject: seen))
                    }
                }
                signal.yield(try JSONSerialization.data(withJSONObject: seen))
                signal.finish()
            }
            var updates = signals.makeAsyncIterator()
            func nextUpdate() async -> [[String: Any]]? {
                guard let data = await updates.next() else { return nil }
                return (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
            }
            var seen = await nextUpdate() ?? []
            let running = seen.contains { (($0[path: "params.message"] as? String)?.hasPrefix("Running: ")) == true }
            #expect(running, "the agent started its command: \(seen)")
            var started = CodexEngineTests.processes(running: "sleep 60")
            for _ in 0..<200 where started == 0 {
                try await Task.sleep(for: .milliseconds(100))
                started = CodexEngineTests.processes(running: "sleep 60")
            }
            #expect(started > 0, "the command runs")
            if how == "notification" {
                let cancelled = try await client.send(.POST, #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"test"}}"#)
                #expect(cancelled.status == 202)
                seen = await nextUpdate() ?? seen
                #expect(!seen.contains { $0["id"] as? Int == 7 }, "no response to a cancelled request: \(seen.suffix(2))")
            } else {
                reader.cancel()
            }
            _ = await reader.result
            var left = CodexEngineTests.processes(running: "sleep 60")
            for _ in 0..<150 where left > 0 {
                try await Task.sleep(for: .milliseconds(100))
                left = CodexEngineTests.processes(running: "sleep 60")
            }
            #expect(left == 0, "the interrupted command was ended (\(how))")
            // The conversation is free again: the session's next call runs.
            let thread = try #require(seen.compactMap { ($0[path: "params.message"] as? String).flatMap { $0.hasPrefix("Conversation ") ? String($0.dropFirst(13)) : nil } }.first)
            var next = try await client.send(.POST, Self.call(id: 8, tool: "codex-reply", arguments: ##"{"threadId":"\##(thread)","prompt":"#fake-agent:command:true"}"##))
            // The interrupted turn may take a moment to end after its command did.
            for attempt in 9..<60 where next.response[path: "result.isError"] as? Bool == true {
                try await Task.sleep(for: .milliseconds(200))
                next = try await client.send(.POST, Self.call(id: attempt, tool: "codex-reply", arguments: ##"{"threadId":"\##(thread)","prompt":"#fake-agent:command:true"}"##))
            }
            #expect(next.response[path: "result.isError"] as? Bool == false, "\(next.messages)")
        }
    }

    @Test(arguments: ["accept", "decline"])
    func anApprovalIsAskedThroughElicitation(decision: String) async throws {
        try await Self.withCodexGateway { setup, port in
            let client = try await MCPTestClient.initialized(port: port, capabilities: #"{"elicitation":{"form":{}}}"#)
            let file = "elicited-\(decision).txt"
            let arguments = ##"{"prompt":"#fake-agent:command:touch "## + file + ##"","approval-policy":"untrusted"}"##
            let request = client.request(.POST, Self.call(id: 1, tool: "codex", arguments: arguments))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            var events = SSEMessages(iterator: response.body.makeAsyncIterator())
            var asked: [String: Any]?
            var seen: [[String: Any]] = []
            while asked == nil, let message = try await events.next() {
                seen.append(message)
                if message["method"] as? String == "elicitation/create" { asked = message }
            }
            let elicitation = try #require(asked, "an elicitation/create request: \(seen)")
            #expect((elicitation[path: "params.message"] as? String)?.contains("touch") == true, "\(elicitation)")
            #expect(elicitation[path: "params.mode"] as? String == "form")
            #expect(elicitation[path: "params.requestedSchema.properties.decision.enum"] != nil)
            let id = try #require(elicitation["id"] as? String)
            let answer = decision == "accept"
                ? #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"accept","content":{"decision":"accept"}}}"#
                : #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"decline"}}"#
            #expect(try await client.send(.POST, answer).status == 202)
            while let message = try await events.next() { seen.append(message) }
            let result = try #require(seen.last { $0["id"] as? Int == 1 }, "\(seen.suffix(2))")
            #expect(result[path: "result.isError"] as? Bool == false, "\(result)")
            let thread = try #require(result[path: "result.structuredContent.threadId"] as? String)
            #expect(CodexProtocolsTests.workspaceFile(setup, conversation: thread, file) == (decision == "accept"))
        }
    }
}
