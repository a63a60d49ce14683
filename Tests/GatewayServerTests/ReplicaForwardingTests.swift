import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// Two gateways on one PostgreSQL database, each with its own `CODEX_HOME` (so its own
/// conversations on disk) and `REPLICA_URL`: a conversation started on A is continued, read and
/// cancelled through B, which forwards those requests to A (PROTOCOLS.md §12).
@Suite("Replicas forward a conversation's requests to its home", .serialized)
struct ReplicaForwardingTests {
    /// A loopback port free at the time of asking (the replica's URL must be known before it starts).
    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress?.port ?? 0
    }

    /// A replica on `database`, listening on `port`, which is also where the others reach it.
    static func replicaEnvironment(database: String, port: Int) -> [String: String] {
        ["DATABASE_URL": database, "REPLICA_URL": "http://127.0.0.1:\(port)", "PORT": String(port)]
    }

    /// Runs `body` with replicas A and B (their ports) on one fresh database; nil setup (the
    /// test returns) when PostgreSQL is not available outside CI.
    static func withReplicas(
        fake: FakeOpenAIServer, extra: [String: String] = [:], _ body: (Int, Int) async throws -> Void
    ) async throws {
        guard let server = try PostgresTestServer.require() else { return }
        let database = try await PostgresTestServer.freshDatabase(on: server).urlString
        let ports = (try freePort(), try freePort())
        func replica(_ port: Int) throws -> TestGateway {
            let environment = replicaEnvironment(database: database, port: port).merging(extra) { _, new in new }
            return try CodexTestSetup.make(fake: fake, model: "fake-echo", environment: environment).gateway
        }
        let a = try replica(ports.0)
        let b = try replica(ports.1)
        try await withLiveGateway(a) { portA in
            try await withLiveGateway(b) { portB in
                try await waitUntilReady(portA)
                try await waitUntilReady(portB)
                try await body(portA, portB)
            }
        }
    }

    static func waitUntilReady(_ port: Int) async throws {
        for _ in 0..<100 {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/ready"), timeout: .seconds(5))
            if response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("replica :\(port) never became ready")
    }

    static func send(_ port: Int, _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = [])
        async throws -> (status: Int, headers: HTTPHeaders, json: [String: Any])
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), response.headers, json)
    }

    @Test func aConversationStartedOnAIsContinuedReadAndStreamedThroughB() async throws {
        try await withFakeUpstream { fake in
            try await Self.withReplicas(fake: fake) { portA, portB in
                let started = try await jsonRPCRequest(
                    port: portA, #"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":{"prompt":"first on A"}}"#)
                let id = try #require(started[path: "result.conversation_id"] as? String, "\(started)")

                // JSON-RPC through B: the turn runs on A, where the conversation is.
                let second = try await jsonRPCRequest(
                    port: portB, #"{"jsonrpc":"2.0","id":2,"method":"conversation.prompt","params":{"prompt":"second via B","conversation_id":"\#(id)"}}"#)
                #expect(second[path: "result.conversation_id"] as? String == id, "\(second)")
                #expect(second[path: "result.content"] as? String == "Echo: second via B", "\(second)")

                // Exec through B streams A's events as they come.
                let response = try await HTTPClient.shared.execute(
                    execRequest(port: portB, #"{"prompt":"third via B","conversation_id":"\#(id)"}"#), timeout: .seconds(60))
                #expect(response.status == .ok)
                var lines = LineReader(iterator: response.body.makeAsyncIterator())
                var events: [[String: Any]] = []
                while let line = try await lines.next() { events.append(line) }
                #expect(events.first?["thread_id"] as? String == id, "\(events)")
                #expect(events.last?["type"] as? String == "turn.completed", "\(events)")

                // REST through B reads A's conversation: its last turn's answer.
                let read = try await Self.send(portB, .GET, "/conversations/\(id)")
                #expect(read.status == 200, "\(read.json)")
                #expect(read.json["answer"] as? String == "Echo: third via B", "\(read.json)")

                // A webhook through B that continues the conversation is stored and run by A.
                let accepted = try await Self.send(
                    portB, .POST, "/webhook", body: #"{"event":"prompt","data":{"prompt":"fourth by webhook","conversation_id":"\#(id)"}}"#)
                #expect(accepted.status == 202, "\(accepted.json)")
                let delivery = try #require(accepted.json["id"] as? String, "\(accepted.json)")
                var outcome: [String: Any] = [:]
                for _ in 0..<100 {
                    outcome = try await Self.send(portB, .GET, "/webhook/\(delivery)").json
                    if ["completed", "failed"].contains(outcome["status"] as? String ?? "") { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(outcome["status"] as? String == "completed", "\(outcome)")
                #expect(outcome["result"] as? String == "Echo: fourth by webhook", "\(outcome)")

                // B has nothing of it on its own disk (without forwarding, a 404): the history is A's.
                let history = try await jsonRPCRequest(
                    port: portB, #"{"jsonrpc":"2.0","id":3,"method":"conversation.history","params":{"conversation_id":"\#(id)"}}"#)
                let texts = (history[path: "result.messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } ?? []
                #expect(
                    texts == [
                        "first on A", "Echo: first on A", "second via B", "Echo: second via B", "third via B", "Echo: third via B",
                        "fourth by webhook", "Echo: fourth by webhook",
                    ], "\(history)")
            }
        }
    }

    @Test func aForgedReplicaSignatureIsRefusedAndAnUnknownConversationIsAnsweredWhereItLands() async throws {
        try await withFakeUpstream { fake in
            try await Self.withReplicas(fake: fake) { _, portB in
                let forged = try await Self.send(
                    portB, .GET, "/conversations/01a2514f-35ef-74f3-a4d3-b8b8e0424177",
                    headers: [("Codex-Gateway-Replica", "t=\(Int(Date().timeIntervalSince1970)),v2=\(String(repeating: "0", count: 64))")])
                #expect(forged.status == 403)
                #expect(forged.json["code"] as? String == "replica_signature_invalid", "\(forged.json)")

                let unknown = try await Self.send(portB, .GET, "/conversations/01a2514f-35ef-74f3-a4d3-b8b8e0424177")
                #expect(unknown.status == 404, "\(unknown.json)")
            }
        }
    }

    @Test func aConversationWhoseHomeIsGoneAnswers503WithRetryAfter() async throws {
        try await withFakeUpstream { fake in
            guard let server = try PostgresTestServer.require() else { return }
            let database = try await PostgresTestServer.freshDatabase(on: server).urlString
            let (portA, portB) = (try Self.freePort(), try Self.freePort())
            func replica(_ port: Int) throws -> TestGateway {
                try CodexTestSetup.make(
                    fake: fake, model: "fake-echo",
                    environment: Self.replicaEnvironment(database: database, port: port)
                ).gateway
            }
            var id = ""
            try await withLiveGateway(try replica(portA)) { port in
                try await Self.waitUntilReady(port)
                let started = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":{"prompt":"on A"}}"#)
                id = try #require(started[path: "result.conversation_id"] as? String, "\(started)")
            }
            // A has stopped; B knows the conversation lives there.
            try await withLiveGateway(try replica(portB)) { port in
                try await Self.waitUntilReady(port)
                let answer = try await Self.send(port, .POST, "/exec", body: #"{"prompt":"again","conversation_id":"\#(id)"}"#)
                #expect(answer.status == 503, "\(answer.json)")
                #expect(answer.json["code"] as? String == "replica_unavailable", "\(answer.json)")
                #expect(answer.headers.first(name: "Retry-After") == "30")
            }
        }
    }

    /// The real Codex on both replicas: a turn running on A asks for approvals, which are listed
    /// and answered through B (REST, then JSON-RPC); A's command runs or not as B's answer says.
    /// Runs `body` with replicas A and B running the real Codex on one fresh database (A's setup,
    /// for its workspaces, and both ports); nil setup when PostgreSQL is not available outside CI.
    static func withCodexReplicas(fake: FakeOpenAIServer, _ body: (CodexTestSetup, Int, Int) async throws -> Void) async throws {
        guard let server = try PostgresTestServer.require() else { return }
        let database = try await PostgresTestServer.freshDatabase(on: server).urlString
        let (portA, portB) = (try Self.freePort(), try Self.freePort())
        func replica(_ port: Int) throws -> CodexTestSetup {
            try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: Self.replicaEnvironment(database: database, port: port))
        }
        let a = try replica(portA)
        let b = try replica(portB)
        defer { for home in [a.codexHome, b.codexHome] { try? FileManager.default.removeItem(atPath: home) } }
        try await withLiveGateway(a.gateway) { portA in
            try await withLiveGateway(b.gateway) { portB in
                try await Self.waitUntilReady(portA)
                try await Self.waitUntilReady(portB)
                try await body(a, portA, portB)
            }
        }
    }

    @Test func anApprovalRaisedOnAIsListedAndAnsweredThroughB() async throws {
        try await withFakeUpstream { fake in
            try await Self.withCodexReplicas(fake: fake) { a, portA, portB in
                var conversation: String?
                for (decision, via) in [("accept", "rest"), ("decline", "jsonrpc")] {
                    let file = "\(decision)-through-b.txt"
                    var body = ##"{"prompt":"#fake-agent:command:touch "## + file + ##"","approval_policy":"untrusted""##
                    if let conversation { body += #","conversation_id":"\#(conversation)""# }
                    let response = try await HTTPClient.shared.execute(execRequest(port: portA, body + "}"), timeout: .seconds(120))
                    var lines = LineReader(iterator: response.body.makeAsyncIterator())
                    var (approval, seen) = try await lines.nextApproval()
                    let id = try #require(approval?["id"] as? String, "the turn asked for an approval: \(seen.suffix(3))")
                    let thread = try #require(seen.first?["thread_id"] as? String)
                    conversation = thread

                    let listed = try await Self.send(portB, .GET, "/approvals?conversation_id=\(thread)")
                    #expect((listed.json["approvals"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id], "\(listed.json)")
                    if via == "rest" {
                        let answer = try await Self.send(portB, .POST, "/approvals/\(id)", body: #"{"decision":"\#(decision)"}"#)
                        #expect(answer.status == 200, "\(answer.json)")
                    } else {
                        let answer = try await jsonRPCRequest(
                            port: portB, #"{"jsonrpc":"2.0","id":1,"method":"approval.respond","params":{"approval_id":"\#(id)","decision":"\#(decision)"}}"#)
                        #expect(answer["result"] != nil, "\(answer)")
                    }
                    while let line = try await lines.next() { seen.append(line) }
                    #expect(seen.last?["type"] as? String == "turn.completed", "\(seen.suffix(3))")
                    let made = FileManager.default.fileExists(atPath: Self.workspace(of: thread, under: a.codexHome) + "/" + file)
                    #expect(made == (decision == "accept"), "\(file) made: \(made)")
                }
            }
        }
    }

    /// The conversation's workspace under a replica's `CODEX_HOME` (`workspaces/<principal>/<id>`).
    static func workspace(of conversation: String, under codexHome: String) -> String {
        let root = codexHome + "/workspaces"
        let principal = (try? FileManager.default.contentsOfDirectory(atPath: root))?.first ?? ""
        return root + "/" + principal + "/" + conversation
    }
}
