import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelProvider
import NIOCore
import Testing

@Suite("The OpenAI-compatible relay: /v1/chat/completions and /v1/models", .serialized)
struct RelayTests {
    static func chat(_ body: String, key: String = TestGateway.apiKey) -> (HTTPFields, ByteBuffer) {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        headers[.contentType] = "application/json"
        return (headers, ByteBuffer(string: body))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func aCompletionIsRelayedUnchangedWithTheProvidersCredentials() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (headers, body) = Self.chat(#"{"model":"fake-echo","messages":[{"role":"user","content":"hello relay"}],"temperature":0.2}"#)
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let json = try Self.json(response)
                #expect(json[path: "object"] as? String == "chat.completion")
                #expect((json["choices"] as? [[String: Any]])?.first?[path: "message.content"] as? String == "Echo: hello relay")
                let recorded = try #require(fake.recorder.requests.last)
                #expect(recorded.path == "/v1/chat/completions")
                #expect(recorded.headers["authorization"] == "Bearer sk-fake", "the provider's key, not the caller's")
                #expect(recorded.json?["temperature"] as? Double == 0.2, "fields the gateway does not know pass through")
            }
        }
    }

    @Test func aMissingModelBecomesTheConfiguredOne() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, model: "fake-count").gateway.withRouter { client in
                let (headers, body) = Self.chat(#"{"messages":[{"role":"user","content":"hi"}]}"#)
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                #expect(response.status == .ok)
                #expect(fake.recorder.requests.last?.model == "fake-count")
            }
        }
    }

    @Test func theRequestGoesUpstreamByteForByteAndOnlyAMissingOrNullModelIsFilledIn() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, model: "fake-count").gateway.withRouter { client in
                // Whitespace, member order, escapes and unknown members are the caller's: kept as sent.
                let exact = "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"caf\\u00e9 \\\"x\\\"\"} ],\n \"model\":\"fake-echo\", \"x_extra\": {\"n\": [1, 2.5e3]} }"
                for (sent, expectedModel) in [
                    (exact, "fake-echo"),
                    (#"{"messages":[{"role":"user","content":"hi"}],"model":null,"stream":null}"#, "fake-count"),
                    (#"  {"messages":[{"role":"user","content":"hi"}]}"#, "fake-count"),
                ] {
                    let (headers, body) = Self.chat(sent)
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                    #expect(response.status == .ok, "\(sent)")
                    let received = try #require(fake.recorder.requests.last)
                    #expect(received.model == expectedModel)
                    if expectedModel == "fake-echo" { #expect(received.bodyText == sent) }
                    // Whatever was filled in, the rest is intact and the body is still JSON.
                    #expect((received.json?["messages"] as? [Any])?.count == 1)
                }
            }
        }
    }

    @Test func aConfiguredModelWithCharactersToEscapeIsInsertedAsValidJSON() async throws {
        try await withFakeUpstream { fake in
            // TOML basic-string escapes: the configured model is `fake-echo "quoted" \ tab<TAB>`.
            try await CodexTestSetup.make(fake: fake, model: #"fake-echo \"quoted\" \\ tab\t"#).gateway.withRouter { client in
                let (headers, body) = Self.chat(#"{"messages":[{"role":"user","content":"hi"}]}"#)
                _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                #expect(fake.recorder.requests.last?.model == "fake-echo \"quoted\" \\ tab\t")
            }
        }
    }

    @Test func tokensAreCountedFromWholeAnswersAndFromTheUsageChunkOfStreams() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                func tokens(_ type: String) async throws -> Double {
                    let metrics = try await client.execute(uri: "/metrics", method: .get, headers: .apiKey())
                    let prefix = "codex_gateway_tokens_total{type=\"\(type)\"} "
                    let line = metrics.text.split(separator: "\n").first { $0.hasPrefix(prefix) }
                    return line.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0
                }
                for (body, isStream) in [
                    (#"{"model":"fake-echo","messages":[{"role":"user","content":"the word \"usage\": {} in a message"}]}"#, false),
                    (#"{"model":"fake-echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"stream me"}]}"#, true),
                ] {
                    let (inputBefore, outputBefore) = (try await tokens("input"), try await tokens("output"))
                    let (headers, request) = Self.chat(body)
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: request)
                    #expect(response.status == .ok)
                    // What the provider reported, read back from what the client got.
                    var usage: [String: Any]?
                    if isStream {
                        for line in response.text.split(separator: "\n") where line.hasPrefix("data: {") {
                            let event = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
                            if let found = event?["usage"] as? [String: Any] { usage = found }
                        }
                    } else {
                        usage = try Self.json(response)["usage"] as? [String: Any]
                    }
                    let reported = try #require(usage, "\(body)")
                    let prompt = try #require(reported["prompt_tokens"] as? Int)
                    let completion = try #require(reported["completion_tokens"] as? Int)
                    #expect(prompt > 0 && completion > 0)
                    // Counted just after the last byte. The counters are the process's, and other suites'
                    // turns may add to them meanwhile: at least this answer's (exact figures: RelayUsageSnifferTests).
                    var counted = false
                    for _ in 0..<200 where !counted {
                        counted = try await tokens("output") - outputBefore >= Double(completion)
                        if !counted { try await Task.sleep(for: .milliseconds(10)) }
                    }
                    #expect(counted, "\(body)")
                    #expect(try await tokens("input") - inputBefore >= Double(prompt))
                }
            }
        }
    }

    @Test func malformedRequestsAre400WithoutCallingTheProvider() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                for (payload, mentions) in [
                    ("not json", "JSON object"), (#"[1,2]"#, "JSON object"), (#"{"model":"x"}"#, "messages"),
                    (#"{"messages":[]}"#, "messages"), (#"{"messages":["hi"]}"#, "messages"),
                    (#"{"messages":[{"role":"user","content":"x"}],"stream":"yes"}"#, "stream"),
                    (#"{"messages":[{"role":"user","content":"x"}],"model":7}"#, "model"),
                ] {
                    let (headers, body) = Self.chat(payload)
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                    #expect(response.status == .badRequest, "\(payload)")
                    let json = try Self.json(response)
                    #expect(json["code"] as? String == "invalid_request")
                    #expect((json["error"] as? String)?.contains(mentions) == true, "\(payload): \(json)")
                }
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 0)
            }
        }
    }

    @Test func theBodyMustBeDeclaredJSONInAnyCase() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                for (contentType, accepted) in [
                    ("application/json", true), ("Application/JSON; charset=utf-8", true), ("application/vnd.example+json", true),
                    ("application/jjson", true), ("text/plain", false), ("application/jsn", false), ("application/js-on", false),
                ] {
                    var (headers, body) = Self.chat(#"{"model":"fake-echo","messages":[{"role":"user","content":"x"}]}"#)
                    headers[.contentType] = contentType
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                    #expect(response.status == (accepted ? .ok : .badRequest), "\(contentType)")
                }
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 4)
            }
        }
    }

    @Test func providerErrorsKeepTheirStatusInTheEnvelope() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                func send(_ model: String) async throws -> TestResponse {
                    let (headers, body) = Self.chat(#"{"model":"\#(model)","messages":[{"role":"user","content":"x"}]}"#)
                    return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                }
                let limited = try await send("fake-429-ms-5")
                #expect(limited.status == .tooManyRequests)
                #expect(limited.headers[HTTPField.Name("Retry-After")!] != nil)
                #expect(try Self.json(limited)["code"] as? String == "upstream_rate_limited")
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 1, "the relay does not retry; the client's SDK does")

                let failing = try await send("fake-500-always")
                #expect(failing.status == .internalServerError)
                let failure = try Self.json(failing)
                #expect(failure["code"] as? String == "upstream_error")
                #expect(failure[path: "upstream.error.message"] as? String != nil, "the provider's own error is kept: \(failure)")

                let refused = try await send("fake-unauthorized")
                #expect(refused.status == .badGateway, "a provider 401 is the gateway's misconfiguration, not the caller's")
                #expect(try Self.json(refused)["code"] as? String == "upstream_auth_failed")
            }
        }
    }

    @Test func anUnreachableOrUnconfiguredProviderIs502Or503() async throws {
        let fake = try await FakeOpenAIServer.start()
        let setup = try CodexTestSetup.make(fake: fake)
        await fake.shutdown()
        try await setup.gateway.withRouter { client in
            let (headers, body) = Self.chat(#"{"messages":[{"role":"user","content":"x"}]}"#)
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
            #expect(response.status == .badGateway)
            #expect(try Self.json(response)["code"] as? String == "upstream_unavailable")
        }
        var unconfigured = setup.gateway
        unconfigured.environment["FAKE_OPENAI_KEY"] = ""
        try await unconfigured.withRouter { client in
            let response = try await client.execute(uri: "/v1/models", method: .get, headers: .apiKey())
            #expect(response.status == .serviceUnavailable)
            let json = try Self.json(response)
            #expect(json["code"] as? String == "model_not_configured")
            #expect((json["error"] as? String)?.contains("FAKE_OPENAI_KEY") == true)
        }
    }

    @Test func aWholeAnswerCutShortIs502NotATruncated200() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, requestMaxRetries: 0).gateway.withRouter { client in
                let (headers, body) = Self.chat(#"{"model":"fake-cut","messages":[{"role":"user","content":"x"}]}"#)
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                #expect(response.status == .badGateway)
                let json = try Self.json(response)
                #expect(json["code"] as? String == "upstream_unavailable")
                let message = try #require(json["error"] as? String)
                #expect(message.contains("broke off") && !message.contains("Could not reach"), "one plain sentence: \(message)")
            }
        }
    }

    @Test func aProviderSilentForTheIdleTimeoutIs502() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, idleTimeoutMilliseconds: 400).gateway.withRouter { client in
                let (headers, body) = Self.chat(#"{"model":"fake-stall","messages":[{"role":"user","content":"x"}]}"#)
                let start = ContinuousClock.now
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                #expect(response.status == .badGateway)
                let json = try Self.json(response)
                #expect(json["code"] as? String == "upstream_timeout")
                #expect((json["error"] as? String)?.contains("400 ms") == true, "\(json)")
                #expect(ContinuousClock.now - start < .seconds(30), "fake-stall would answer nothing for 60 s")
            }
        }
    }

    @Test func modelsAreRelayedAndNeedCredentials() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let response = try await client.execute(uri: "/v1/models", method: .get, headers: .apiKey())
                #expect(response.status == .ok)
                let ids = (try Self.json(response)["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                #expect(ids.contains("fake-echo"))
                let anonymous = try await client.execute(uri: "/v1/models", method: .get)
                #expect(anonymous.status == .unauthorized)
            }
        }
    }

    @Test func streamsAreForwardedChunkByChunkAsTheyArrive() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake)
            try await withLiveGateway(setup.gateway) { port in
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(TestGateway.apiKey)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(
                    ByteBuffer(string: #"{"model":"fake-slow-150","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#)
                )
                let start = ContinuousClock.now
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
                #expect(response.status == .ok)
                #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
                #expect(response.headers.first(name: "X-RateLimit-Limit") != nil)
                var text = ""
                var firstDelta: Duration?
                for try await chunk in response.body {
                    text += String(buffer: chunk)
                    if firstDelta == nil, text.contains("tick0") { firstDelta = ContinuousClock.now - start }
                }
                let total = ContinuousClock.now - start
                let first = try #require(firstDelta)
                // Ten ticks 150 ms apart: the first must arrive long before the last.
                #expect(total - first > .milliseconds(800), "first delta after \(first), stream done after \(total)")
                #expect(text.hasSuffix("data: [DONE]\n\n"))
                #expect(text.contains("\"usage\""))
            }
        }
    }

    @Test func manyConcurrentStreamsEachGetTheirOwnUpstreamConnectionAtOnce() async throws {
        // AsyncHTTPClient's default pool holds 8 connections per host and queues the rest: the 9th
        // stream would wait for a whole 3-second stream to end before its first byte.
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["RATE_LIMIT_CONCURRENT_TURNS": "0"])
            try await withLiveGateway(setup.gateway) { port in
                // The test's own client needs more than AsyncHTTPClient's 8 connections too.
                var configuration = HTTPClient.Configuration()
                configuration.connectionPool = .init(idleTimeout: .seconds(10), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                defer { Task { try? await client.shutdown() } }
                let firstChunks = try await withThrowingTaskGroup(of: Duration.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                            request.method = .POST
                            request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
                            request.body = .bytes(ByteBuffer(string: #"{"model":"fake-slow-300","stream":true,"messages":[{"role":"user","content":"x"}]}"#))
                            let start = ContinuousClock.now
                            let response = try await client.execute(request, timeout: .seconds(30))
                            var first: Duration?
                            for try await chunk in response.body where first == nil && String(buffer: chunk).contains("tick0") {
                                first = ContinuousClock.now - start
                            }
                            return first ?? .seconds(60)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let slowest = try #require(firstChunks.max())
                #expect(slowest < .seconds(2), "every stream started at once; the slowest first delta took \(slowest)")
            }
        }
    }

    @Test func aClientThatStartsItsNextTurnOnSeeingTheEndOfTheLastIsNeverRefused() async throws {
        // One turn at a time: each answer's end must free the turn before the client can see it.
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["RATE_LIMIT_CONCURRENT_TURNS": "1"])
            try await withLiveGateway(setup.gateway) { port in
                // Two clients taking turns: each request arrives on another connection than the
                // answer just read, so the gateway handles it while the last one's task may still run.
                let clients = [HTTPClient(eventLoopGroupProvider: .singleton), HTTPClient(eventLoopGroupProvider: .singleton)]
                defer { for client in clients { Task { try? await client.shutdown() } } }
                for round in 0..<40 {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
                    let stream = round % 2 == 0
                    // fake-slow-5 ends its body 5 ms after `[DONE]`: the turn must be free at `[DONE]`.
                    let model = stream ? "fake-slow-5" : "fake-echo"
                    request.body = .bytes(ByteBuffer(string: #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"next"}]}"#))
                    let response = try await clients[round % 2].execute(request, timeout: .seconds(10))
                    if response.status != .ok {
                        let refusal = try await response.body.collect(upTo: 1 << 16)
                        Issue.record("round \(round) was refused: \(String(buffer: refusal))")
                        continue
                    }
                    // An SDK stops reading a stream at `[DONE]`, before the body ends: so does this.
                    var text = ""
                    for try await chunk in response.body {
                        text += String(buffer: chunk)
                        if stream && text.contains("data: [DONE]") { break }
                    }
                }
            }
        }
    }

    @Test func aClientThatLeavesAStreamStopsTheUpstreamRequestAndFreesItsTurn() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["RATE_LIMIT_CONCURRENT_TURNS": "1"])
            try await withLiveGateway(setup.gateway) { port in
                func streamRequest() -> HTTPClientRequest {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
                    request.body = .bytes(ByteBuffer(string: #"{"model":"fake-slow-300","stream":true,"messages":[{"role":"user","content":"x"}]}"#))
                    return request
                }
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                do {
                    let response = try await client.execute(streamRequest(), timeout: .seconds(10))
                    var iterator = response.body.makeAsyncIterator()
                    _ = try await iterator.next()
                    let second = try await HTTPClient.shared.execute(streamRequest(), timeout: .seconds(10))
                    #expect(second.status.code == 429, "one turn at a time for this principal")
                    _ = try await second.body.collect(upTo: 1 << 16)
                }
                try await client.shutdown()
                let disconnected = await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.first?.clientDisconnected == true }
                #expect(disconnected, "the upstream request was stopped when the client left")
                // The permit came back with the aborted stream.
                var freed = false
                for _ in 0..<50 where !freed {
                    let response = try await HTTPClient.shared.execute(streamRequest(), timeout: .seconds(10))
                    freed = response.status.code == 200
                    _ = try await response.body.collect(upTo: 1 << 20)
                    if !freed { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(freed)
            }
        }
    }
}

@Suite("Whole answers leave in one write")
struct OneWriteTests {
    /// A body of known length goes out as one write of head and body (Hummingbird's fast path
    /// for a buffer body), so the client's first read holds the whole answer. A body written
    /// in steps (head, body, end flushed one by one) would usually arrive in two reads.
    @Test func aWholeAnswerIsReadInOnePiece() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake)
            try await withLiveGateway(setup.gateway) { port in
                let body = #"{"model":"fake-echo","messages":[{"role":"user","content":"in one piece"}]}"#
                let requests = [
                    "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(TestGateway.apiKey)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
                ]
                for request in requests {
                    for _ in 0..<5 {
                        let first = try await firstRead(port: port, request)
                        let parts = first.components(separatedBy: "\r\n\r\n")
                        #expect(parts.count == 2, "\(first)")
                        let length = parts[0].split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
                        #expect(parts[0].hasPrefix("HTTP/1.1 200"), "\(first)")
                        #expect(length != nil && length == parts.last?.utf8.count, "the first read: \(first)")
                    }
                }
            }
        }
    }

    /// Sends `request` on a new connection and returns what its first read brings.
    private func firstRead(port: Int, _ request: String) async throws -> String {
        let channel = try await rawConnection(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var iterator = inbound.makeAsyncIterator()
            return try await iterator.next().map { String(buffer: $0) } ?? ""
        }
    }
}

@Suite("GET /metrics", .serialized)
struct MetricsEndpointTests {
    @Test func metricsAreInThePrometheusTextFormatAndCountWhatHappened() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, environment: ["RATE_LIMIT_PER_MINUTE": "4"]).gateway.withRouter { client in
                let (headers, body) = RelayTests.chat(#"{"model":"fake-echo","messages":[{"role":"user","content":"count me"}]}"#)
                _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                _ = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
                let metrics = try await client.execute(uri: "/metrics", method: .get, headers: .apiKey())
                _ = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())  // refused: the 5th
                let anonymous = try await client.execute(uri: "/metrics", method: .get)
                #expect(anonymous.status == .unauthorized)
                #expect(metrics.status == .ok)
                #expect(metrics.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                let text = metrics.text
                for expected in [
                    #"hb_requests{http_route="/v1/chat/completions",http_request_method="POST",http_response_status_code="200"}"#,
                    #"http_server_request_duration_bucket{http_route="/whoami""#,
                    #"codex_gateway_upstream_request_duration_seconds_count{status="200"}"#,
                    #"codex_gateway_tokens_total{type="output"}"#,
                    "# TYPE codex_gateway_rate_limit_refusals_total counter",
                    "codex_gateway_websocket_connections",
                ] {
                    #expect(text.contains(expected), "missing \(expected)")
                }
                let after = try await client.execute(uri: "/metrics", method: .get, headers: .apiKey(TestGateway.apiKey))
                #expect(after.status == .tooManyRequests)
                // Labels are route templates, never raw paths or credentials.
                #expect(!text.contains(TestGateway.apiKey))
            }
        }
    }
}
