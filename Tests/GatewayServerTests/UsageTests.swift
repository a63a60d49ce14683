import FakeOpenAI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import GatewayServer

/// Usage per key, token budgets and model allowlists (PROTOCOLS.md §13), through a live gateway
/// with its real SQLite database and fake-openai as the model.
@Suite("Usage and budgets", .serialized)
struct UsageTests {
    static let otherKey = "other-key-0123456789abcdef0123456789"

    /// A gateway with two keys from `GATEWAY_API_KEY` in front of fake-openai (`wire_api = chat`).
    static func setup(_ fake: FakeOpenAIServer, environment: [String: String] = [:], codexHome: String? = nil) throws -> CodexTestSetup {
        var variables = ["GATEWAY_API_KEY": "\(TestGateway.apiKey),\(otherKey)"]
        variables.merge(environment) { _, new in new }
        return try CodexTestSetup.make(fake: fake, environment: variables, codexHome: codexHome)
    }

    static func usage(_ client: any TestClientProtocol, key: String = TestGateway.apiKey, query: String = "") async throws -> (TestResponse, [String: Any]) {
        let response = try await client.execute(uri: "/usage" + query, method: .get, headers: .apiKey(key))
        return (response, try response.json())
    }

    /// The rows of `/usage` for `model`, summed.
    static func totals(_ report: [String: Any], model: String) -> (requests: Int, input: Int, output: Int) {
        let rows = (report["usage"] as? [[String: Any]] ?? []).filter { $0["model"] as? String == model }
        return (
            rows.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) },
            rows.reduce(0) { $0 + ($1["input_tokens"] as? Int ?? 0) },
            rows.reduce(0) { $0 + ($1["output_tokens"] as? Int ?? 0) }
        )
    }

    @Test func relayedStreamedAndBridgedCallsAreCountedOnceAgainstTheirKeyOnly() async throws {
        try await withFakeUpstream { fake in
            try await Self.setup(fake).gateway.withLiveServer { client in
                let (before, empty) = try await Self.usage(client)
                #expect(before.status == .ok)
                #expect((empty["usage"] as? [Any])?.isEmpty == true)
                let budget = try #require(empty["budget"] as? [String: Any])
                #expect(budget["tokens_per_day"] is NSNull && budget["tokens_per_month"] is NSNull)
                #expect(budget["used_today"] as? Int == 0)
                #expect(empty["models_allowed"] is NSNull)

                for body in [
                    #"{"model":"fake-echo","messages":[{"role":"user","content":"one two three"}]}"#,
                    #"{"model":"fake-echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}"#,
                ] {
                    let (headers, buffer) = RelayTests.chat(body)
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: buffer)
                    #expect(response.status == .ok)
                }
                // Bridged: a Responses request to a chat provider is one call, counted once.
                let (headers, buffer) = RelayTests.chat(#"{"model":"fake-echo","stream":true,"input":"one two three"}"#)
                let bridged = try await client.execute(uri: "/v1/responses", method: .post, headers: headers, body: buffer)
                #expect(bridged.status == .ok)
                #expect(bridged.text.contains("response.completed"))

                let (_, report) = try await Self.usage(client)
                let totals = Self.totals(report, model: "fake-echo")
                #expect(totals.requests == 3, "\(report)")
                // "Echo: one two three": 4 output tokens each.
                #expect(totals.output == 12, "\(report)")
                #expect(totals.input > 0)
                let row = try #require((report["usage"] as? [[String: Any]])?.first)
                let today = UTCCalendar.day(of: Date())
                #expect(row["date"] as? String == today)
                #expect(row["cached_input_tokens"] as? Int == 0)
                let used = try #require(report["budget"] as? [String: Any])["used_today"] as? Int
                #expect(used == totals.input + totals.output)

                // The other key spent nothing and sees nothing of this key's.
                let (_, other) = try await Self.usage(client, key: Self.otherKey)
                #expect((other["usage"] as? [Any])?.isEmpty == true, "\(other)")
            }
        }
    }

    @Test func badDatesAndReversedRangesAre400sWithAClearMessage() async throws {
        try await withFakeUpstream { fake in
            try await Self.setup(fake).gateway.withLiveServer { client in
                for (query, fragment) in [
                    ("?from=2026-13-01", "from: expected a date as YYYY-MM-DD"),
                    ("?to=yesterday", "to: expected a date as YYYY-MM-DD"),
                    ("?from=2026-02-30", "from: expected a date"),
                    ("?from=2026-05-02&to=2026-05-01", "is after to"),
                    ("?from=2020-01-01&to=2026-01-01", "days apart"),
                ] {
                    let (response, body) = try await Self.usage(client, query: query)
                    #expect(response.status == .badRequest, "\(query)")
                    #expect((body["error"] as? String)?.contains(fragment) == true, "\(query): \(body)")
                    #expect(body["code"] as? String == "invalid_request")
                }
                let (ranged, body) = try await Self.usage(client, query: "?from=2026-01-01&to=2026-01-31")
                #expect(ranged.status == .ok)
                #expect((body["usage"] as? [Any])?.isEmpty == true)
                let unauthenticated = try await client.execute(uri: "/usage", method: .get)
                #expect(unauthenticated.status == .unauthorized)
            }
        }
    }
}
