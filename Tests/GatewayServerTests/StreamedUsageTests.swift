import FakeOpenAI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelProvider
import NIOCore
import Testing

@testable import GatewayServer

@Suite("Token usage of relayed streams", .serialized)
struct StreamedUsageTests {
    /// `router`: the body relayed through Hummingbird's writer; `exchange`: a live server, the
    /// stream written to the client's connection from the event loop (``StreamOutlet``).
    @Test(arguments: ["router", "exchange"])
    func aStreamIsCountedThoughTheClientDidNotAskForUsageAndItGetsNoUsageChunk(path: String) async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake)
            let run: @Sendable (any TestClientProtocol) async throws -> Void = { client in
                func outputTokens() async throws -> Double {
                    let metrics = try await client.execute(uri: "/metrics", method: .get, headers: .apiKey())
                    return MetricsScrapeTests.Scrape(metrics.text).value(#"codex_gateway_tokens_total{type="output"}"#) ?? 0
                }
                let before = try await outputTokens()
                let (headers, body) = RelayTests.chat(#"{"model":"fake-echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}"#)
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
                #expect(response.status == .ok)
                let events = response.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
                #expect(events.last == "data: [DONE]", "\(path): \(response.text)")
                #expect(!response.text.contains(#""usage":{"#), "\(path): the client did not ask for the usage chunk")
                #expect(response.text.contains("three"))
                let asked = try #require(fake.recorder.requests.last?.json?["stream_options"] as? [String: Any])
                #expect(asked["include_usage"] as? Bool == true, "the provider is asked for the usage")
                // "Echo: one two three" is 4 words; counted once the stream has ended.
                var counted = false
                for _ in 0..<200 where !counted {
                    counted = try await outputTokens() - before >= 4
                    if !counted { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(counted, "\(path)")
            }
            if path == "router" { try await setup.gateway.withRouter(run) } else { try await setup.gateway.withLiveServer(run) }
        }
    }

    @Test func theProviderIsAskedForAStreamsUsageAndTheClientsOtherStreamOptionsAreKept() throws {
        for (sent, expected) in [
            (#"{"model":"m","messages":[{}],"stream":true}"#, #"{"stream_options":{"include_usage":true},"model":"m","messages":[{}],"stream":true}"#),
            (#"{"model":"m","messages":[{}],"stream":true,"stream_options":null}"#, #"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}"#),
            (#"{"model":"m","messages":[{}],"stream":true,"stream_options":{}}"#, #"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}"#),
            (#"{"model":"m","messages":[{}],"stream":true,"stream_options":{"x":1}}"#, #"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true,"x":1}}"#),
            (#"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":false}}"#, #"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}"#),
        ] {
            let request = try RelayRequest(body: ByteBuffer(string: sent), defaultModel: "m")
            #expect(String(buffer: request.body) == expected)
            #expect(request.stripsUsage)
        }
        let asked = #"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}"#
        let askedRequest = try RelayRequest(body: ByteBuffer(string: asked), defaultModel: "m")
        #expect(!askedRequest.stripsUsage && String(buffer: askedRequest.body) == asked)
        let whole = try RelayRequest(body: ByteBuffer(string: #"{"model":"m","messages":[{}]}"#), defaultModel: "m")
        #expect(!whole.stripsUsage && String(buffer: whole.body) == #"{"model":"m","messages":[{}]}"#)
    }

    @Test func theUsageChunkIsTakenOutWhereverTheStreamIsSplit() {
        let content = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
        let usage = "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n"
        let stream = content + usage + "data: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        for first in 0...bytes.count {
            for second in stride(from: first, through: bytes.count, by: 7) {
                var filter = UsageChunkFilter()
                var out = ""
                for part in [bytes[..<first], bytes[first..<second], bytes[second...]] {
                    if let kept = filter.filter(ByteBuffer(bytes: part)) { out += String(buffer: kept) }
                }
                if let rest = filter.remainder() { out += String(buffer: rest) }
                #expect(out == content + "data: [DONE]\n\n", "split at \(first), \(second)")
            }
        }
    }
}
