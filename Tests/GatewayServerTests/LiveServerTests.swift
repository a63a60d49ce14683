import AsyncHTTPClient
import Foundation
import GatewayRuntime
import GatewayServer
import Hummingbird
import Logging
import ModelProvider
import NIOCore
import ServiceLifecycle
import Testing

@Suite("A real server on loopback")
struct LiveServerTests {
    /// Starts the gateway in a service group, as `codex-gateway serve` does, and hands over its port.
    func withRunningGateway(_ environment: [String: String] = [:], _ body: @Sendable (Int) async throws -> Void) async throws {
        let configuration = try TestGateway(environment).configuration()
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try await buildApplication(configuration: configuration, logger: TestGateway.quietLogger) { port in
            portContinuation.yield(port)
        }
        let group = ServiceGroup(services: [app], logger: TestGateway.quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = portStream.makeAsyncIterator()
            let port = try #require(await iterator.next())
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

    @Test func servesHealthOverTCPAndShutsDownGracefully() async throws {
        try await withRunningGateway { port in
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(5))
            #expect(response.status == .ok)
            let body = try await response.body.collect(upTo: 1 << 16)
            #expect(String(buffer: body).contains(#""status":"healthy""#))
            #expect(response.headers.first(name: "X-Request-Id") != nil)
        }
        // Reaching here means the service group returned after the graceful shutdown.
    }

    @Test func authenticatedCallOverTCP() async throws {
        try await withRunningGateway { port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/whoami")
            request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(response.status == .ok)
        }
    }

    @Test func jsonLinesReachTheClientBeforeTheStreamEnds() async throws {
        struct Event: Encodable, Sendable { var n: Int }
        let router = Router()
        router.get("/stream") { _, _ -> Response in
            let events = AsyncStream<Event> { continuation in
                Task {
                    continuation.yield(Event(n: 1))
                    try? await Task.sleep(for: .milliseconds(1000))
                    continuation.yield(Event(n: 2))
                    continuation.finish()
                }
            }
            return ResponseEncoding.jsonLines(JSONLinesBody(events), contentType: "application/jsonl", status: .ok, headers: [:])
        }
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: TestGateway.quietLogger
        )
        let group = ServiceGroup(services: [app], logger: TestGateway.quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = portStream.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let start = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/stream"), timeout: .seconds(5))
            var arrivals: [(String, Duration)] = []
            for try await chunk in response.body {
                arrivals.append((String(buffer: chunk), ContinuousClock.now - start))
            }
            let text = arrivals.map(\.0).joined()
            #expect(text == "{\"n\":1}\n{\"n\":2}\n")
            let first = try #require(arrivals.first)
            let last = try #require(arrivals.last)
            #expect(first.0.hasPrefix("{\"n\":1}\n") && !first.0.contains("\"n\":2"), "the first line came alone")
            // The producer pauses 1 s between the lines: the first was not held back for the second
            // (a loose bound: on a loaded 2-core machine delivery itself can take a few hundred ms).
            #expect(last.1 - first.1 >= .milliseconds(300), "\(arrivals)")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
