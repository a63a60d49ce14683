import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayRuntime
import GatewayServer
import ModelProvider
import NIOCore
import Testing

/// The provider side of every request (`ProviderTransport` over `UpstreamExchange`): the idle
/// timeout counts the provider's silence, not a request's length nor a slow reader.
@Suite("Provider requests: idle timeout, backpressure, cancellation", .serialized)
struct UpstreamExchangeTests {
    /// Runs `body` with a transport to `fake`; its HTTP client is shut down whatever happens.
    static func withTransport(
        _ fake: FakeOpenAIServer, idleTimeoutMilliseconds: Int, queryParams: [String: String] = [:], httpHeaders: [String: String] = [:],
        _ body: (ProviderTransport) async throws -> Void
    ) async throws {
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let provider = ModelProviderInfo(
            name: "Fake", baseURL: fake.baseURL, envKey: "K", wireAPI: .chat, queryParams: queryParams, httpHeaders: httpHeaders,
            streamIdleTimeoutMilliseconds: idleTimeoutMilliseconds
        )
        let transport = ProviderTransport(
            provider: provider, httpClient: httpClient, environment: ["K": "k"],
            logger: TestGateway.quietLogger)
        do {
            // On the event loops, as the gateway runs (and the fake too): the idle timeout is
            // about the provider's silence, not about this test waiting for a busy global pool.
            try await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) { try await body(transport) }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    static func chat(_ model: String, stream: Bool) -> ByteBuffer {
        ByteBuffer(
            string:
                #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"x"}]}"#)
    }

    @Test func everyRequestCarriesTheProvidersQueryHeadersAndKey() async throws {
        try await withFakeUpstream { fake in
            try await Self.withTransport(fake, idleTimeoutMilliseconds: 5000, queryParams: ["api-version": "2024-10-21"], httpHeaders: ["X-Extra": "1"]) { transport in
                for _ in 0..<2 {  // the second time from the same prepared request
                    let chat = try await transport.send(method: .POST, path: "/chat/completions", body: Self.chat("fake-echo", stream: false), accept: "application/json")
                    #expect(chat.status == .ok)
                    _ = try await chat.body.collect(upTo: 1 << 20)
                    let models = try await transport.send(method: .GET, path: "/models", body: nil, accept: "application/json")
                    #expect(models.status == .ok)
                    _ = try await models.body.collect(upTo: 1 << 20)
                }
                let requests = fake.recorder.requests
                #expect(requests.map(\.method) == ["POST", "GET", "POST", "GET"])
                #expect(requests.map(\.path) == ["/v1/chat/completions", "/v1/models", "/v1/chat/completions", "/v1/models"])
                for request in requests {
                    #expect(request.query == ["api-version": "2024-10-21"])
                    #expect(request.headers["authorization"] == "Bearer k")
                    #expect(request.headers["x-extra"] == "1")
                }
                #expect(requests[0].headers["content-type"] == "application/json")
                #expect(requests[1].headers["content-type"] == nil, "a GET has no body")
                #expect(requests[0].json?["model"] as? String == "fake-echo")
            }
        }
    }

    @Test func aStreamLongerThanTheIdleTimeoutButNeverSilentThatLongIsWhole() async throws {
        try await withFakeUpstream { fake in
            try await Self.withTransport(fake, idleTimeoutMilliseconds: 1000) { transport in
                // 7 ticks 300 ms apart: 2.1 s in all, never a second without a byte.
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions",
                    body: Self.chat("fake-slow-300-7", stream: true), accept: "text/event-stream")
                #expect(response.status == .ok)
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(text.contains("tick6"))
                #expect(text.hasSuffix("data: [DONE]\n\n"))
            }
        }
    }

    @Test func aSilentProviderFailsTheRequestOrEndsTheStreamAfterTheIdleTimeout() async throws {
        try await withFakeUpstream { fake in
            try await Self.withTransport(fake, idleTimeoutMilliseconds: 400) { transport in
                // No response head at all (fake-stall waits 60 s).
                let start = ContinuousClock.now
                let error = await #expect(throws: ModelClientError.self) {
                    _ = try await transport.send(
                        method: .POST, path: "/chat/completions", body: Self.chat("fake-stall", stream: false),
                        accept: "application/json")
                }
                guard case .idleTimeout(400) = error else {
                    Issue.record("not an idle timeout: \(String(describing: error))")
                    return
                }
                #expect(ContinuousClock.now - start < .seconds(30), "fake-stall would wait 60 s")

                // A head and two deltas, then silence: the body ends in an error, and the provider's
                // connection is closed.
                let streamStart = ContinuousClock.now
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.chat("fake-stall", stream: true),
                    accept: "text/event-stream")
                #expect(response.status == .ok)
                var text = ""
                await #expect(throws: HTTPClientError.readTimeout) {
                    for try await chunk in response.body { text += String(buffer: chunk) }
                }
                #expect(
                    text.contains("\"content\""), "the deltas sent before the silence were delivered: \(text)"
                )
                #expect(ContinuousClock.now - streamStart < .seconds(30))
                let closed = await fake.recorder.waitUntil(timeout: .seconds(5)) {
                    $0.filter(\.clientDisconnected).count == 2
                }
                #expect(
                    closed,
                    "both silent requests were closed upstream: \(fake.recorder.requests.map(\.clientDisconnected))"
                )
            }
        }
    }

    @Test func aWholeAnswerCutShortFailsTheRequestInsteadOfArrivingTruncated() async throws {
        try await withFakeUpstream { fake in
            try await Self.withTransport(fake, idleTimeoutMilliseconds: 5000) { transport in
                // Half of the JSON, with the full Content-Length, then the connection closes.
                await #expect(throws: (any Error).self) {
                    let response = try await transport.send(method: .POST, path: "/chat/completions", body: Self.chat("fake-cut", stream: false), accept: "application/json")
                    Issue.record("a cut answer came back as \(response.status) with \(try await response.body.collect(upTo: 1 << 20).readableBytes) bytes")
                }
                // A whole one comes back in one piece, headers and all.
                let whole = try await transport.send(method: .POST, path: "/chat/completions", body: Self.chat("fake-echo", stream: false), accept: "application/json")
                var chunks = 0
                var bytes = 0
                for try await chunk in whole.body {
                    chunks += 1
                    bytes += chunk.readableBytes
                }
                #expect(chunks == 1)
                #expect(bytes == whole.headers.first(name: "Content-Length").flatMap(Int.init))
            }
        }
    }

    @Test func aConsumerThatHoldsTheBodyBackIsNotTakenForASilentProvider() async throws {
        try await withFakeUpstream { fake in
            try await Self.withTransport(fake, idleTimeoutMilliseconds: 300) { transport in
                // 60 deltas 1 ms apart: the body's buffer fills, and reading upstream pauses while
                // this reader sleeps for three idle timeouts.
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.chat("fake-slow-1-60", stream: true),
                    accept: "text/event-stream")
                var iterator = response.body.makeAsyncIterator()
                var text = String(buffer: try #require(try await iterator.next()))
                try await Task.sleep(for: .milliseconds(900))
                while let chunk = try await iterator.next() { text += String(buffer: chunk) }
                #expect(text.contains("tick59"))
                #expect(text.hasSuffix("data: [DONE]\n\n"))
            }
        }
    }

    @Test func cancellingTheCallerBeforeTheHeadStopsTheRequest() async throws {
        try await withFakeUpstream { fake in
            try await Self.withTransport(fake, idleTimeoutMilliseconds: 60_000) { transport in
                let call = Task {
                    try await transport.send(
                        method: .POST, path: "/chat/completions", body: Self.chat("fake-stall", stream: false),
                        accept: "application/json")
                }
                #expect(
                    await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.count == 1 },
                    "the request reached the provider")
                let start = ContinuousClock.now
                call.cancel()
                await #expect(throws: CancellationError.self) { _ = try await call.value }
                #expect(ContinuousClock.now - start < .seconds(30), "fake-stall would wait 60 s")
                let closed = await fake.recorder.waitUntil(timeout: .seconds(5)) {
                    $0.first?.clientDisconnected == true
                }
                #expect(closed, "the provider's connection was closed")
            }
        }
    }
}
