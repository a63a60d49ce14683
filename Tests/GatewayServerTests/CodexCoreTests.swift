import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayRuntime
import GatewayServer
import Logging
import ModelProvider
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Testing

/// Runs the gateway on a real loopback port for `body`, then shuts it down gracefully.
func withLiveGateway(_ gateway: TestGateway, _ body: (Int) async throws -> Void) async throws {
    let configuration = try gateway.configuration()
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = try await buildApplication(configuration: configuration, logger: TestGateway.quietLogger) { continuation.yield($0) }
    let group = ServiceGroup(services: [app], logger: TestGateway.quietLogger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        // On the event loops, as `runGateway` runs it in production.
        tasks.addTask { try await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) { try await group.run() } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

func execRequest(port: Int, key: String = TestGateway.apiKey, _ body: String) -> HTTPClientRequest {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/exec")
    request.method = .POST
    request.headers.add(name: "X-API-Key", value: key)
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: body))
    return request
}

func jsonRPCRequest(port: Int, key: String = TestGateway.apiKey, _ body: String, timeout: TimeAmount = .seconds(10)) async throws -> [String: Any] {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/jsonrpc")
    request.method = .POST
    request.headers.add(name: "X-API-Key", value: key)
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: timeout)
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] ?? [:]
}

/// Reads JSON lines from a streaming body as they arrive, with their arrival times.
struct LineReader {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var pending = ""

    mutating func next() async throws -> [String: Any]? {
        while true {
            if let newline = pending.firstIndex(of: "\n") {
                let line = String(pending[..<newline])
                pending = String(pending[pending.index(after: newline)...])
                return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
    }

    /// Reads lines up to the turn's first `approval.requested`: its approval (nil when the stream
    /// ended first) and the lines read on the way (for a failure's message, and the thread id).
    mutating func nextApproval() async throws -> (approval: [String: Any]?, seen: [[String: Any]]) {
        var seen: [[String: Any]] = []
        while let line = try await next() {
            seen.append(line)
            if line["type"] as? String == "approval.requested" { return (line["approval"] as? [String: Any], seen) }
        }
        return (nil, seen)
    }
}

@Suite("The Codex core: streaming, cancellation, persistence", .serialized)
struct CodexCoreTests {
    @Test func execStreamsLinesAsTheyHappen() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-150")
            try await withLiveGateway(setup.gateway) { port in
                let start = ContinuousClock.now
                let response = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"tick"}"#), timeout: .seconds(10))
                var reader = LineReader(iterator: response.body.makeAsyncIterator())
                var arrivals: [(String, Duration)] = []
                while let line = try await reader.next() {
                    arrivals.append((line["type"] as? String ?? "?", ContinuousClock.now - start))
                }
                let firstUpdate = try #require(arrivals.first { $0.0 == "item.updated" })
                let last = try #require(arrivals.last)
                #expect(arrivals.first?.0 == "thread.started")
                #expect(last.0 == "turn.completed")
                // Ten deltas 150 ms apart (1.35 s): the first arrives long before the last.
                #expect(last.1 - firstUpdate.1 >= .milliseconds(700), "\(arrivals)")
                // Ten deltas of 6 bytes: the first five each grow the text by a quarter or more and
                // go out as they come; later ones when they do, or a second after the last update.
                #expect((5...10).contains(arrivals.filter { $0.0 == "item.updated" }.count))
            }
        }
    }

    @Test func cancelStopsARunningTurnAndItsUpstreamRequest() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-300")
            try await withLiveGateway(setup.gateway) { port in
                let response = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"long"}"#), timeout: .seconds(10))
                var reader = LineReader(iterator: response.body.makeAsyncIterator())
                let started = try #require(try await reader.next())
                let id = try #require(started["thread_id"] as? String)
                // Wait for the first delta so the upstream stream is running.
                while let line = try await reader.next(), line["type"] as? String != "item.updated" {}

                let status = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"\#(id)"},"id":1}"#)
                #expect(status[path: "result.status"] as? String == "running")

                // A second prompt on the same conversation is refused, not interleaved.
                let busy = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"x","conversation_id":"\#(id)"},"id":2}"#)
                #expect(busy[path: "error.code"] as? Int == -32002)
                let busyExec = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"x","conversation_id":"\#(id)"}"#), timeout: .seconds(5))
                #expect(busyExec.status == .conflict)

                let cancel = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","method":"conversation.cancel","params":{"conversation_id":"\#(id)"},"id":3}"#)
                #expect(cancel[path: "result.cancelled"] as? Bool == true)

                var rest: [[String: Any]] = []
                while let line = try await reader.next() { rest.append(line) }
                #expect(rest.last?["type"] as? String == "turn.failed")
                #expect((rest.last?[path: "error.message"] as? String)?.contains("cancelled") == true)
                #expect(!rest.contains { $0["type"] as? String == "turn.completed" })

                let disconnected = await fake.recorder.waitUntil(timeout: .seconds(3)) { requests in
                    requests.last?.clientDisconnected == true
                }
                #expect(disconnected, "the upstream request was really stopped")
                let after = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"\#(id)"},"id":4}"#)
                #expect(after[path: "result.status"] as? String == "idle")
            }
        }
    }

    @Test func aClientThatDisconnectsCancelsTheTurn() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-300")
            try await withLiveGateway(setup.gateway) { port in
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                var id = ""
                do {
                    let response = try await client.execute(execRequest(port: port, #"{"prompt":"bye"}"#), timeout: .seconds(10))
                    var reader = LineReader(iterator: response.body.makeAsyncIterator())
                    id = try #require(try await reader.next()?["thread_id"] as? String)
                    while let line = try await reader.next(), line["type"] as? String != "item.updated" {}
                }
                // Closing the client closes its connections mid-stream.
                try await client.shutdown()
                let disconnected = await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.last?.clientDisconnected == true }
                #expect(disconnected, "the upstream request was stopped when the client left")
                let status = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"\#(id)"},"id":1}"#)
                #expect(status[path: "result.status"] as? String == "idle")
            }
        }
    }

    @Test func conversationsSurviveARestart() async throws {
        try await withFakeUpstream { fake in
            let home = TemporaryDirectory.make()
            let captured = Captured<String>()
            try await CodexTestSetup.make(fake: fake, model: "fake-count", codexHome: home).gateway.withRouter { client in
                let (_, json) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"remember me"},"id":1}"#)
                captured.value = try #require((json as? [String: Any])?[path: "result.conversation_id"] as? String)
            }
            let id = try #require(captured.value)
            // A new process: a new application on the same CODEX_HOME.
            try await CodexTestSetup.make(fake: fake, model: "fake-count", codexHome: home).gateway.withRouter { client in
                let (_, history) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.history","params":{"conversation_id":"\#(id)"},"id":1}"#)
                let messages = try #require((history as? [String: Any])?[path: "result.messages"] as? [[String: Any]])
                #expect(messages.map { $0["content"] as? String } == ["remember me", "messages=1"])
                let (_, next) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"again","conversation_id":"\#(id)"},"id":2}"#)
                #expect((next as? [String: Any])?[path: "result.content"] as? String == "messages=3")
                let (_, status) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"\#(id)"},"id":3}"#)
                #expect((status as? [String: Any])?[path: "result.turns"] as? Int == 2)
            }
        }
    }

    @Test func rolloutFilesFollowCodexsFormat() async throws {
        try await withFakeUpstream { fake in
            let home = TemporaryDirectory.make()
            try await CodexTestSetup.make(fake: fake, codexHome: home).gateway.withRouter { client in
                _ = try await client.exec(#"{"prompt": "hello rollout"}"#)
            }
            let sessions = URL(fileURLWithPath: home).appendingPathComponent("sessions")
            let files = FileManager.default.enumerator(at: sessions, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "jsonl" } ?? []
            let file = try #require(files.first)
            #expect(files.count == 1)
            // sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl
            let name = file.lastPathComponent
            #expect(name.range(of: #"^rollout-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.jsonl$"#, options: .regularExpression) != nil, "\(name)")
            #expect(file.deletingLastPathComponent().pathComponents.suffix(3).allSatisfy { Int($0) != nil })
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(lines.first?["type"] as? String == "session_meta")
            #expect(lines.allSatisfy { $0["timestamp"] is String && $0["payload"] is [String: Any] })
            let types = Set(lines.compactMap { $0["type"] as? String })
            #expect(types == ["session_meta", "turn_context", "response_item", "event_msg"])
            let items = lines.filter { $0["type"] as? String == "response_item" }
            #expect(items.map { $0[path: "payload.role"] as? String } == ["user", "assistant"])
        }
    }

    @Test func anUnwritableCodexHomeIsAClearStartupError() async throws {
        let file = TemporaryDirectory.make() + "/not-a-directory"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let configuration = try TestGateway(["CODEX_HOME": file]).configuration()
        #expect {
            _ = try CodexCore(configuration: configuration, logger: TestGateway.quietLogger)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == "CODEX_HOME" && error.message.contains("not writable")
        }
    }

    /// The store's file I/O blocks: it must not run on the event loop of the request that calls it.
    @Test func theConversationStoreRunsOffTheEventLoops() async throws {
        let store = try RolloutConversationStore(codexHome: TemporaryDirectory.make(), logger: TestGateway.quietLogger)
        // Runs on the store's executor, as the store's own methods do.
        func whereItRuns(_ store: isolated RolloutConversationStore) -> (blockingIOThread: Bool, eventLoop: Bool) {
            (BlockingIOExecutor.shared.isCurrent, MultiThreadedEventLoopGroup.currentEventLoop != nil)
        }
        let seen = await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) {
            // The caller is on an event loop, as a request handler is.
            let caller = MultiThreadedEventLoopGroup.currentEventLoop != nil
            let store = await whereItRuns(store)
            return (caller, store)
        }
        #expect(seen.0)
        #expect(seen.1.blockingIOThread)
        #expect(!seen.1.eventLoop)
        #expect(!BlockingIOExecutor.shared.isCurrent)
        // And it still works from there.
        let record = try await store.create(model: "m", provider: "p", owner: "key_test")
        #expect(await store.contains(record.id))
        #expect(await store.isWritable())
    }
}

@Suite("Provider wire formats")
struct ProviderWireTests {
    @Test func toolCallsAreAssembledByIndex() async throws {
        try await withFakeUpstream { fake in
            let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
            let provider = ModelProviderInfo(name: "Fake", baseURL: fake.baseURL, envKey: "K", wireAPI: .chat)
            let transport = ProviderTransport(provider: provider, httpClient: httpClient, environment: ["K": "k"], logger: TestGateway.quietLogger)
            let client = ChatCompletionsClient(transport: transport, logger: TestGateway.quietLogger)
            let events = EventCollector()
            try await client.respond(to: ModelRequest(model: "fake-tools", messages: [ConversationMessage(role: .user, content: "weather?")])) {
                events.append($0)
            }
            try await httpClient.shutdown()
            let calls = events.values.compactMap { event -> [ToolCall]? in
                if case .toolCalls(let calls) = event { return calls }
                return nil
            }.first
            #expect(calls?.map(\.name) == ["get_weather", "get_time"])
            #expect(calls?.first?.arguments == #"{"city":"Paris"}"#)
            #expect(calls?.last?.arguments == "{}")
            #expect(events.values.last == .completed)
        }
    }
}

final class Captured<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

final class EventCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [ModelStreamEvent] = []
    func append(_ event: ModelStreamEvent) {
        lock.lock()
        storage.append(event)
        lock.unlock()
    }
    var values: [ModelStreamEvent] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
