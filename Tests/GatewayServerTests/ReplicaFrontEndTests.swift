import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdWSClient
import WSCore
import NIOCore
import NIOHTTP1
import Testing

/// What the HTTP forwarding of ``ReplicaForwardingTests`` cannot carry whole (PROTOCOLS.md §12): a
/// WebSocket on B running turns of a conversation homed on A, MCP sessions that move between
/// replicas, one list of conversations whichever replica answers, and the client's own address at
/// the home. Two live gateways on one PostgreSQL, as there.
@Suite("Replicas: WebSocket, MCP, lists and client addresses across replicas", .serialized)
struct ReplicaFrontEndTests {
    typealias Replicas = ReplicaForwardingTests

    /// A conversation started on A over REST; its answer's conversation id.
    static func startConversation(on port: Int, _ prompt: String) async throws -> String {
        let started = try await Replicas.send(port, .POST, "/exec", body: #"{"prompt":"\#(prompt)"}"#, headers: [("Accept", "application/json")])
        return try #require(started.json["conversation_id"] as? String, "\(started.json)")
    }

    /// A WebSocket on `port` opened with a one-time ticket (no reusable credential on it).
    static func withTicketSocket(port: Int, _ body: @escaping @Sendable (inout ServerMessages, WebSocketOutboundWriter) async throws -> Void) async throws {
        let ticket = try #require(try await Replicas.send(port, .POST, "/ws/ticket").json["ticket"] as? String)
        try await WebSocketTests().connect(port: port, path: "/ws?ticket=\(ticket)", headers: [:], timeout: .seconds(120)) { inbound, outbound, _ in
            var messages = ServerMessages(inbound)
            try await body(&messages, outbound)
        }
    }

    @Test func aConversationStartedOnAIsContinuedOverAWebSocketOnB() async throws {
        try await withFakeUpstream { fake in
            try await Replicas.withReplicas(fake: fake) { portA, portB in
                let id = try await Self.startConversation(on: portA, "first on A")
                try await Self.withTicketSocket(port: portB) { messages, outbound in
                    try await outbound.send(#"{"type":"exec","prompt":"second via B","conversation_id":"\#(id)","id":"w1"}"#)
                    let ack = try await messages.next()
                    #expect(ack["message"] as? String == "accepted" && ack["conversation_id"] as? String == id, "\(ack)")
                    let events = try await messages.events(until: "turn.completed")
                    #expect(threadID(in: events) == id, "\(events)")
                    #expect(first(events, "item.completed")?[path: "event.item.text"] as? String == "Echo: second via B", "\(events)")
                    #expect(events.allSatisfy { $0["id"] as? String == "w1" })
                    // Forwarded too: an interrupt with nothing running there, and `watch`.
                    try await outbound.send(#"{"type":"interrupt","conversation_id":"\#(id)"}"#)
                    #expect(try await messages.next()["code"] as? String == "conversation_not_running")
                    try await outbound.send(#"{"type":"watch","conversation_id":"\#(id)"}"#)
                    #expect(try await messages.next()["message"] as? String == "watching")
                }
                // The turn ran on A: its history there has it.
                let history = try await jsonRPCRequest(
                    port: portA, #"{"jsonrpc":"2.0","id":3,"method":"conversation.history","params":{"conversation_id":"\#(id)"}}"#)
                let texts = (history[path: "result.messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } ?? []
                #expect(texts == ["first on A", "Echo: first on A", "second via B", "Echo: second via B"], "\(history)")
            }
        }
    }

    /// The real Codex on A; the client on B's WebSocket answers the approval A's turn asks for, and
    /// interrupts a command running on A.
    @Test func anApprovalAndAnInterruptOverBsWebSocketReachTheTurnOnA() async throws {
        try await withFakeUpstream { fake in
            try await Replicas.withCodexReplicas(fake: fake) { a, portA, portB in
                let id = try await Self.startConversation(on: portA, "#fake-agent:command:true")
                try await Self.withTicketSocket(port: portB) { messages, outbound in
                    let exec = ##"{"type":"exec","prompt":"#fake-agent:command:touch ws-through-b.txt","approval_policy":"untrusted","conversation_id":"\##(id)"}"##
                    try await outbound.send(exec)
                    let asked = try await messages.read(until: "approval_request")
                    let approval = try #require(asked.last?[path: "approval.id"] as? String, "\(asked.suffix(2))")
                    try await outbound.send(#"{"type":"approval","approval_id":"\#(approval)","decision":"accept"}"#)
                    let rest = try await messages.events(until: "turn.completed")
                    #expect(first(rest, "approval.resolved")?[path: "event.approval.decision"] as? String == "accept", "\(rest.suffix(3))")

                    try await outbound.send(##"{"type":"exec","prompt":"#fake-agent:sleep","approval_policy":"never","conversation_id":"\##(id)"}"##)
                    var started = 0
                    _ = try await messages.read(until: "item.started")
                    for _ in 0..<100 where started == 0 {
                        try await Task.sleep(for: .milliseconds(100))
                        started = CodexEngineTests.processes(running: "sleep 60")
                    }
                    #expect(started > 0, "the agent's command runs on A")
                    try await outbound.send(#"{"type":"interrupt","conversation_id":"\#(id)"}"#)
                    // The turn's end and the interrupt's ack, in either order.
                    var ended = try await messages.read(until: "turn.failed")
                    if !ended.contains(where: { $0["message"] as? String == "cancelled" }) { ended += try await messages.read(until: "ack") }
                    #expect(ended.contains { $0["message"] as? String == "cancelled" }, "\(ended.suffix(3))")
                }
                let made = FileManager.default.fileExists(atPath: Replicas.workspace(of: id, under: a.codexHome) + "/ws-through-b.txt")
                #expect(made, "the approved command ran in A's workspace")
                var left = CodexEngineTests.processes(running: "sleep 60")
                for _ in 0..<100 where left > 0 {
                    try await Task.sleep(for: .milliseconds(100))
                    left = CodexEngineTests.processes(running: "sleep 60")
                }
                #expect(left == 0, "the interrupted command was ended")
            }
        }
    }

    @Test func anMCPSessionOpenedOnAIsUsedThroughBAndCodexReplyOnBContinuesAConversationOfA() async throws {
        try await withFakeUpstream { fake in
            try await Replicas.withReplicas(fake: fake) { portA, portB in
                var session = try await MCPTestClient.initialized(port: portA)
                #expect(session.sessionID != nil)
                session.port = portB
                let listed = try await session.send(.POST, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
                #expect(listed.status == 200 && (listed.response[path: "result.tools"] as? [Any])?.isEmpty == false, "\(listed.messages)")
                let call = MCPCodexTests.call(id: 2, tool: "codex", arguments: #"{"prompt":"by MCP via B"}"#)
                let ran = try await session.send(.POST, call)
                #expect(ran.response[path: "result.structuredContent.content"] as? String == "Echo: by MCP via B", "\(ran.messages)")
                let thread = try #require(ran.response[path: "result.structuredContent.threadId"] as? String)
                #expect(try await Replicas.send(portA, .GET, "/conversations/\(thread)").status == 200, "the session's turn ran on A")
                // GET has no standalone stream here (405, §11): through B, A's answer as A gives it.
                let stream = try await session.send(.GET, nil, accept: "text/event-stream")
                #expect(stream.status == 405 && stream.headers.first(name: "Allow") != nil, "\(stream.messages)")
                let ended = try await session.send(.DELETE, nil)
                #expect((200..<300).contains(ended.status), "\(ended.messages)")
                session.port = portA
                #expect(try await session.send(.POST, #"{"jsonrpc":"2.0","id":3,"method":"ping"}"#).status == 404, "ended on A")

                // A session on B continues a conversation homed on A.
                let id = try await Self.startConversation(on: portA, "first on A")
                let onB = try await MCPTestClient.initialized(port: portB)
                let reply = try await onB.send(.POST, MCPCodexTests.call(id: 4, tool: "codex-reply", arguments: #"{"threadId":"\#(id)","prompt":"reply via B"}"#))
                #expect(reply.response[path: "result.structuredContent.content"] as? String == "Echo: reply via B", "\(reply.messages)")
                #expect(reply.response[path: "result.structuredContent.threadId"] as? String == id)
            }
        }
    }

    @Test func theListOfConversationsIsTheSameWhicheverReplicaAnswers() async throws {
        try await withFakeUpstream { fake in
            try await Replicas.withReplicas(fake: fake) { portA, portB in
                var started: [String] = []
                for (port, prompt) in [(portA, "one on A"), (portB, "two on B"), (portA, "three on A")] {
                    started.append(try await Self.startConversation(on: port, prompt))
                }
                let newestFirst = Array(started.reversed())
                func ids(_ json: [String: Any]) -> [String] {
                    (json["conversations"] as? [[String: Any]])?.compactMap { $0["conversation_id"] as? String } ?? []
                }
                for port in [portA, portB] {
                    #expect(ids(try await Replicas.send(port, .GET, "/conversations").json) == newestFirst, "on :\(port)")
                    // Page by page through the other replica's conversations too.
                    let first = try await Replicas.send(port, .GET, "/conversations?limit=2").json
                    let cursor = try #require(first["next_cursor"] as? String, "\(first)")
                    let second = try await Replicas.send(port, .GET, "/conversations?limit=2&cursor=\(cursor)").json
                    #expect(ids(first) + ids(second) == newestFirst, "\(first) \(second)")
                    #expect(second["next_cursor"] == nil || second["next_cursor"] is NSNull, "\(second)")
                }
                let rpc = try await jsonRPCRequest(port: portB, #"{"jsonrpc":"2.0","id":1,"method":"conversation.list","params":{}}"#)
                #expect(ids(rpc["result"] as? [String: Any] ?? [:]) == newestFirst, "\(rpc)")
            }
        }
    }

    /// Failed sign-ins from 127.0.0.2 through B count against 127.0.0.2 at A, not against B's own
    /// address (127.0.0.1); an unsigned claim of an address is refused.
    @Test func failedSignInsThroughBCountAgainstTheClientsAddressOnA() async throws {
        try await withFakeUpstream { fake in
            try await Replicas.withReplicas(fake: fake, extra: ["AUTH_FAILURE_BUDGET_PER_MINUTE": "3"]) { portA, portB in
                let id = try await Self.startConversation(on: portA, "on A")
                func status(_ port: Int, from source: String, key: String) async throws -> Int {
                    let channel = try await rawConnection(port: port, from: source)
                    let head = try await channel.executeThenClose { inbound, outbound in
                        try await outbound.write(
                            ByteBuffer(string: "GET /conversations/\(id) HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(key)\r\nConnection: close\r\n\r\n"))
                        var text = ""
                        for try await chunk in inbound {
                            text += String(buffer: chunk)
                            if text.contains("\r\n") { break }
                        }
                        return text
                    }
                    return Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                }
                for _ in 0..<3 {
                    #expect(try await status(portB, from: "127.0.0.2", key: "wrong-key-000000000000000000000000000") == 401)
                }
                #expect(try await status(portA, from: "127.0.0.2", key: TestGateway.apiKey) == 429, "A counted the client's address")
                #expect(try await status(portA, from: "127.0.0.1", key: TestGateway.apiKey) == 200, "not the forwarding replica's")
                let forged = try await Replicas.send(portA, .GET, "/conversations/\(id)", headers: [("Codex-Gateway-Client-Address", "10.0.0.9")])
                #expect(forged.status == 403 && forged.json["code"] as? String == "replica_signature_invalid", "\(forged.json)")
            }
        }
    }
}
