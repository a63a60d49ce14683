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

/// `POST /v1/responses`: relayed to a Responses provider, bridged to a chat one (PROTOCOLS §9).
@Suite("POST /v1/responses: the relay and the Responses↔Chat bridge", .serialized)
struct ResponsesEndpointTests {
    static func post(_ client: some TestClientProtocol, _ body: String, key: String = TestGateway.apiKey) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        headers[.contentType] = "application/json"
        return try await client.execute(uri: "/v1/responses", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    /// The `(event, data)` pairs of a server-sent event stream.
    static func events(_ response: TestResponse) -> [(type: String, data: [String: Any])] {
        var parser = SSEParser()
        return parser.feed(response.body.readableBytesView).compactMap { event in
            guard let data = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any] else { return nil }
            return (event.event ?? data["type"] as? String ?? "", data)
        }
    }

    static func outputTokens(_ client: some TestClientProtocol) async throws -> Double {
        try await MetricsScrapeTests.scrape(client).value(#"codex_gateway_tokens_total{type="output"}"#) ?? 0
    }

    /// The text of the assistant messages of a response object's `output`.
    static func outputText(_ response: [String: Any]) -> String {
        let items = response["output"] as? [[String: Any]] ?? []
        return items.filter { $0["type"] as? String == "message" }
            .flatMap { $0["content"] as? [[String: Any]] ?? [] }
            .compactMap { $0["text"] as? String }
            .joined()
    }

    // MARK: A Responses provider: relayed as it is

    @Test func aResponsesProviderGetsTheBodyAsSentWithItsOwnKeyAndTheAnswerComesBackAsItIs() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, wireAPI: "responses").gateway.withRouter { client in
                let sent = #"{"model":"fake-echo","input":"hello responses","store":false,"x_extra":[1,2]}"#
                let response = try await Self.post(client, sent)
                #expect(response.status == .ok)
                let object = try Self.json(response)
                #expect(object["object"] as? String == "response")
                #expect(Self.outputText(object) == "Echo: hello responses")
                let recorded = try #require(fake.recorder.requests.last)
                #expect(recorded.path == "/v1/responses")
                #expect(recorded.bodyText == sent)
                #expect(recorded.headers["authorization"] == "Bearer sk-fake", "the provider's key, not the caller's")
            }
        }
    }

    @Test func aRelayedResponsesStreamArrivesWholeAndItsUsageIsCounted() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, model: "fake-echo", wireAPI: "responses").gateway.withLiveServer { client in
                let before = try await Self.outputTokens(client)
                let response = try await Self.post(client, #"{"input":[{"type":"message","role":"user","content":"stream me"}],"stream":true}"#)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
                let events = Self.events(response)
                #expect(events.first?.type == "response.created")
                #expect(events.last?.type == "response.completed")
                let text = events.filter { $0.type == "response.output_text.delta" }.compactMap { $0.data["delta"] as? String }.joined()
                #expect(text == "Echo: stream me")
                #expect(fake.recorder.requests.last?.model == "fake-echo", "the configured model filled in")
                let usage = try #require(events.last?.data[path: "response.usage.output_tokens"] as? Int)
                #expect(try await Self.outputTokens(client) == before + Double(usage), "exactly as the provider reported it")
            }
        }
    }

    @Test(arguments: ["responses", "chat"])
    func bodiesThatAreNotResponsesRequestsGet400WithTheEnvelope(wireAPI: String) async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, wireAPI: wireAPI).gateway.withRouter { client in
                for (body, fragment) in [
                    ("not json", ""),
                    (#"["input"]"#, ""),
                    (#"{"model":"fake-echo"}"#, "input"),
                    (#"{"input":42}"#, "input"),
                    (#"{"input":"hi","stream":"yes"}"#, "stream"),
                    (#"{"input":"hi","model":7}"#, "model"),
                ] {
                    let response = try await Self.post(client, body)
                    #expect(response.status == .badRequest, "\(body)")
                    let envelope = try Self.json(response)
                    #expect(envelope["status"] as? Int == 400)
                    #expect(fragment.isEmpty || (envelope["error"] as? String)?.contains(fragment) == true, "\(body): \(envelope)")
                }
                #expect(fake.recorder.requests.isEmpty, "nothing reached the provider")
            }
        }
    }

    @Test(arguments: ["responses", "chat"])
    func aProviderErrorBeforeTheAnswerKeepsItsStatusClassWithTheEnvelope(wireAPI: String) async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, wireAPI: wireAPI).gateway.withRouter { client in
                let response = try await Self.post(client, #"{"model":"fake-500-always","input":"hi","stream":true}"#)
                #expect(response.status.code == 500)
                let envelope = try Self.json(response)
                #expect(envelope["code"] as? String == "upstream_error")
                #expect(envelope["upstream"] != nil, "the provider's own error body")
            }
        }
    }

    // MARK: A chat provider: the bridge

    @Test func aChatProviderGetsAChatRequestAndTheClientAResponseObject() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let response = try await Self.post(client, #"{"model":"fake-echo","instructions":"Be brief.","input":"hello bridge"}"#)
                #expect(response.status == .ok)
                let object = try Self.json(response)
                #expect(object["object"] as? String == "response")
                #expect(object["status"] as? String == "completed")
                #expect(Self.outputText(object) == "Echo: hello bridge")
                #expect((object[path: "usage.output_tokens"] as? Int ?? 0) > 0)
                let recorded = try #require(fake.recorder.requests.last)
                #expect(recorded.path == "/v1/chat/completions")
                let messages = recorded.json?["messages"] as? [[String: Any]] ?? []
                #expect(messages.first?["role"] as? String == "system")
                #expect(messages.first?["content"] as? String == "Be brief.")
                #expect(messages.last?["role"] as? String == "user")
                #expect(recorded.json?["stream"] as? Bool == true, "the bridge always streams from the provider")
            }
        }
    }

    @Test func aBridgedStreamIsResponsesEventsInOrderAndItsUsageIsCounted() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withLiveServer { client in
                let before = try await Self.outputTokens(client)
                let response = try await Self.post(client, #"{"model":"fake-echo","input":"stream through the bridge","stream":true}"#)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
                let events = Self.events(response)
                let types = events.map(\.type)
                #expect(Array(types.prefix(2)) == ["response.created", "response.in_progress"])
                #expect(types.last == "response.completed")
                for expected in ["response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_item.done"] {
                    #expect(types.contains(expected), "\(expected) in \(types)")
                }
                let sequence = events.compactMap { $0.data["sequence_number"] as? Int }
                #expect(sequence == Array(0..<events.count), "sequence numbers count up from 0")
                let text = events.filter { $0.type == "response.output_text.delta" }.compactMap { $0.data["delta"] as? String }.joined()
                #expect(text == "Echo: stream through the bridge")
                let usage = try #require(events.last?.data[path: "response.usage.output_tokens"] as? Int)
                #expect(try await Self.outputTokens(client) == before + Double(usage))
            }
        }
    }

    @Test func toolCallsFromAChatProviderBecomeFunctionCallItems() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let body = #"""
                    {"model":"fake-tools","input":"weather?","tools":[
                      {"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
                      {"type":"function","name":"get_time","parameters":{"type":"object","properties":{}}},
                      {"type":"web_search"}]}
                    """#
                let response = try await Self.post(client, body)
                #expect(response.status == .ok)
                let calls = (try Self.json(response)["output"] as? [[String: Any]] ?? []).filter { $0["type"] as? String == "function_call" }
                #expect(calls.map { $0["name"] as? String } == ["get_weather", "get_time"])
                #expect(calls.first?["arguments"] as? String == #"{"city":"Paris"}"#)
                #expect(calls.allSatisfy { ($0["call_id"] as? String)?.isEmpty == false })
                let tools = fake.recorder.requests.last?.json?["tools"] as? [[String: Any]] ?? []
                #expect(tools.compactMap { $0[path: "function.name"] as? String } == ["get_weather", "get_time"], "the hosted web_search is dropped")
            }
        }
    }

    @Test func aChatStreamThatIsCutBecomesResponseFailed() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, requestMaxRetries: 0).gateway.withLiveServer { client in
                let response = try await Self.post(client, #"{"model":"fake-cut","input":"hi","stream":true}"#)
                #expect(response.status == .ok, "the answer had started")
                let events = Self.events(response)
                #expect(events.last?.type == "response.failed")
                #expect(events.last?.data[path: "response.error.message"] is String)
                #expect(!events.contains { $0.type == "response.completed" })
            }
        }
    }

    // MARK: Provider TLS

    @Test func anHTTPSProviderIsTrustedThroughSSLCertFileAndAnUntrustedOneIsATLSErrorNamingIt() async throws {
        let certificates = try TestCertificates.make()
        try await withFakeUpstream { fake in
            let front = try await TLSFront.start(certificates: certificates, upstreamPort: fake.port)
            defer { Task { await front.close() } }
            let https = "https://127.0.0.1:\(front.port)/v1"
            // Not trusted: the system store does not know the private CA.
            try await CodexTestSetup.make(fake: fake, wireAPI: "responses", requestMaxRetries: 0, baseURL: https).gateway.withRouter { client in
                let response = try await Self.post(client, #"{"model":"fake-echo","input":"hi"}"#)
                #expect(response.status == .badGateway)
                let message = try Self.json(response)["error"] as? String ?? ""
                #expect(message.contains("Fake OpenAI") && message.contains("TLS"), "\(message)")
                #expect(!message.contains("127.0.0.1"), "the provider's address stays in the log")
            }
            // Trusted through SSL_CERT_FILE: the same provider answers.
            try await CodexTestSetup.make(fake: fake, wireAPI: "responses", environment: ["SSL_CERT_FILE": certificates.caFile], baseURL: https).gateway.withRouter { client in
                let response = try await Self.post(client, #"{"model":"fake-echo","input":"over tls"}"#)
                #expect(response.status == .ok)
                #expect(Self.outputText(try Self.json(response)) == "Echo: over tls")
            }
        }
    }
}
