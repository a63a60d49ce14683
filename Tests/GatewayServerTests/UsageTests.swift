import AsyncHTTPClient
import FakeOpenAI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import NIOCore
import Synchronization
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

    /// The caller's key ID, as `/whoami` names it (a fingerprint under the installation's salt).
    static func keyID(_ client: any TestClientProtocol, key: String = TestGateway.apiKey) async throws -> String {
        try #require(try await client.execute(uri: "/whoami", method: .get, headers: .apiKey(key)).json()["id"] as? String)
    }

    static func chat(_ client: any TestClientProtocol, model: String = "fake-echo", key: String = TestGateway.apiKey) async throws -> TestResponse {
        let (headers, body) = RelayTests.chat(#"{"model":"\#(model)","messages":[{"role":"user","content":"one two three"}]}"#, key: key)
        return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
    }

    /// The CLI on the gateway's own database.
    static func cli(_ setup: CodexTestSetup) -> GatewayExecutable {
        GatewayExecutable(environment: setup.gateway.environment.filter { $0.key != "PORT" && $0.key != "HOST" })
    }

    @Test func aKeyOverItsBudgetIsRefusedThroughEveryProtocolAndAnotherKeyIsNot() async throws {
        try await withFakeUpstream { fake in
            let setup = try Self.setup(fake, environment: ["GATEWAY_ENGINE": "chat", "TOKEN_BUDGET_PER_DAY": "5"])
            try await setup.gateway.withLiveServer { client in
                let port = try #require(client.port)
                // Within the budget (0 of 5 used): admitted; it spends more than 5.
                #expect(try await Self.chat(client).status == .ok)

                let refused = try await Self.chat(client)
                #expect(refused.status == .tooManyRequests)
                let body = try refused.json()
                #expect(body["code"] as? String == "budget_exceeded")
                #expect((body["error"] as? String)?.contains("daily token budget") == true, "\(body)")
                let retryAfter = try #require(refused.headers[HTTPField.Name("Retry-After")!].flatMap { Int($0) } as Int?)
                let toMidnight = UTCCalendar.nextMidnight(after: Date()).timeIntervalSinceNow
                #expect(abs(Double(retryAfter) - toMidnight) < 10, "Retry-After \(retryAfter) is the time to UTC midnight (\(toMidnight))")

                let (headers, buffer) = RelayTests.chat(#"{"model":"fake-echo","input":"hi"}"#)
                let responses = try await client.execute(uri: "/v1/responses", method: .post, headers: headers, body: buffer)
                #expect(responses.status == .tooManyRequests)
                #expect(try responses.json()["code"] as? String == "budget_exceeded")

                let (_, rpc) = try await client.jsonRPC(#"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":{"prompt":"hi"}}"#)
                let error = try #require((rpc as? [String: Any])?["error"] as? [String: Any], "\(String(describing: rpc))")
                #expect(error["code"] as? Int == -32006)
                #expect((error["data"] as? [String: Any])?["retry_after"] as? Int ?? 0 > 0)

                let (exec, _) = try await client.exec(#"{"prompt":"hi"}"#)
                #expect(exec.status == .tooManyRequests)
                #expect(try exec.json()["code"] as? String == "budget_exceeded")
                #expect(exec.headers[HTTPField.Name("Retry-After")!] != nil)

                var start = HTTPFields.apiKey()
                start[.contentType] = "application/json"
                let rest = try await client.execute(uri: "/conversations", method: .post, headers: start, body: ByteBuffer(string: #"{"prompt":"hi"}"#))
                #expect(rest.status == .tooManyRequests)
                #expect(try rest.json()["code"] as? String == "budget_exceeded")

                try await WebSocketTests().connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"hi","id":"w1"}"#)
                    let refused = try await messages.next()
                    #expect(refused["type"] as? String == "error")
                    #expect(refused["code"] as? String == "budget_exceeded", "\(refused)")
                }

                let mcp = try await MCPTestClient.initialized(port: port)
                let call = try await mcp.send(.POST, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"codex","arguments":{"prompt":"hi"}}}"#)
                #expect(call.response[path: "result.isError"] as? Bool == true, "\(call.messages)")
                #expect(String(describing: call.response).contains("daily token budget"), "\(call.messages)")

                let webhook = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "from a webhook"}}"#)
                #expect(webhook.status == .accepted)
                let id = try #require(try webhook.json()["id"] as? String)
                let delivery = try await client.delivery(id) { $0["status"] as? String == "failed" }
                #expect(delivery["status"] as? String == "failed", "\(delivery)")
                #expect((delivery["error"] as? String)?.contains("daily token budget") == true, "\(delivery)")

                // The other key has a budget of its own, untouched.
                #expect(try await Self.chat(client, key: Self.otherKey).status == .ok)

                let (_, report) = try await Self.usage(client)
                let budget = try #require(report["budget"] as? [String: Any])
                #expect(budget["tokens_per_day"] as? Int == 5)
                #expect(budget["used_today"] as? Int ?? 0 >= 5)
                #expect(budget["resets_at"] as? String == UTCCalendar.timestamp(UTCCalendar.nextMidnight(after: Date())))
                #expect(Self.totals(report, model: "fake-echo").requests == 1, "refused calls are not model calls: \(report)")
            }
        }
    }

    @Test func whatTheCLISetsReachesARunningGatewayWithinFiveSecondsAndSurvivesARestart() async throws {
        try await withFakeUpstream { fake in
            let setup = try Self.setup(fake, environment: ["GATEWAY_ENGINE": "chat"])
            let cli = Self.cli(setup)
            let admittedCalls = Mutex(0)
            try await setup.gateway.withLiveServer { client in
                let id = try await Self.keyID(client)
                #expect(try await Self.chat(client).status == .ok)

                let models = try cli.run(["keys", "models", id, "--allow", "fake-tools"])
                #expect(models.status == 0, "\(models.stderr)")
                #expect(models.stdout.contains("only fake-tools"))
                let set = ContinuousClock.now
                var status = HTTPResponse.Status.ok
                var admitted = 1
                while status == .ok, ContinuousClock.now - set < .seconds(5) {
                    status = try await Self.chat(client).status
                    if status == .ok {
                        admitted += 1
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                admittedCalls.withLock { [admitted] in $0 = admitted }
                #expect(status == .forbidden, "the allowlist reached the gateway within 5 s (\(ContinuousClock.now - set))")
                let refused = try await Self.chat(client)
                #expect(try refused.json()["code"] as? String == "model_not_allowed")
                #expect((try refused.json()["error"] as? String)?.contains("fake-echo") == true)
                let (_, rpc) = try await client.jsonRPC(#"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":{"prompt":"hi","model":"fake-echo"}}"#)
                #expect((rpc as? [String: Any])?[path: "error.data.code"] as? String == "model_not_allowed", "\(String(describing: rpc))")

                let budget = try cli.run(["keys", "budget", id, "--tokens-per-day", "1", "--tokens-per-month", "100000"])
                #expect(budget.status == 0, "\(budget.stderr)")
                #expect(budget.stdout.contains("1 tokens per day"))
                let usage = try cli.run(["keys", "usage", id])
                #expect(usage.status == 0, "\(usage.stderr)")
                #expect(usage.stdout.contains("fake-echo"), "\(usage.stdout)")
                #expect(usage.stdout.contains("models: fake-tools"), "\(usage.stdout)")
                let unknown = try cli.run(["keys", "budget", "key_nope", "--tokens-per-day", "5"])
                #expect(unknown.status == 1)
                #expect(unknown.stderr.contains("No active key key_nope"))
            }
            // The same database, a new process: the allowlist and the budget are still there.
            try await setup.gateway.withLiveServer { client in
                let port = try #require(client.port)
                let (_, report) = try await Self.usage(client)
                #expect(report["models_allowed"] as? [String] == ["fake-tools"], "\(report)")
                #expect(report[path: "budget.tokens_per_day"] as? Int == 1)
                #expect(report[path: "budget.tokens_per_month"] as? Int == 100000)
                #expect(Self.totals(report, model: "fake-echo").requests == admittedCalls.withLock { $0 })
                let refused = try await Self.chat(client, model: "fake-tools")
                #expect(refused.status == .tooManyRequests, "an allowed model, over the daily budget")
                #expect(try await Self.chat(client).status == .forbidden)
            }
        }
    }

    @Test func anAgentTurnsModelCallsCountAgainstTheOwnerAndABudgetReachedMidTurnEndsIt() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: ["GATEWAY_API_KEY": "\(TestGateway.apiKey),\(Self.otherKey)"])
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            let cli = Self.cli(setup)
            try await setup.gateway.withLiveServer { client in
                let port = try #require(client.port)
                let (first, lines) = try await client.exec(##"{"prompt":"#fake-codex add hello.txt"}"##)
                #expect(first.status == .ok)
                #expect(lines.last?["type"] as? String == "turn.completed", "\(lines.suffix(3))")
                let (_, report) = try await Self.usage(client)
                let calls = Self.totals(report, model: "gpt-5.4")
                #expect(calls.requests >= 2, "each of Codex's model calls, under the owner: \(report)")
                let used = try #require(report[path: "budget.used_today"] as? Int)
                #expect(used > 0)
                let (_, other) = try await Self.usage(client, key: Self.otherKey)
                #expect((other["usage"] as? [Any])?.isEmpty == true)

                // Room for one more model call: the next turn's first call is made, its second refused.
                let id = try await Self.keyID(client)
                #expect(try cli.run(["keys", "budget", id, "--tokens-per-day", "\(used + 1)"]).status == 0)
                try await Task.sleep(for: .milliseconds(2500))
                let (_, stopped) = try await client.exec(##"{"prompt":"#fake-codex add again.txt"}"##)
                let failed = try #require(stopped.last, "\(stopped)")
                #expect(failed["type"] as? String == "turn.failed", "\(stopped.suffix(3))")
                #expect((failed[path: "error.message"] as? String)?.contains("daily token budget") == true, "\(failed)")
                let (_, after) = try await Self.usage(client)
                #expect(Self.totals(after, model: "gpt-5.4").requests == calls.requests + 1, "the call in progress finished and counted: \(after)")
            }
        }
    }
}

extension UsageTests {
    @Test func jsonRPCUsageGetAnswersAsGetUsageDoes() async throws {
        try await withFakeUpstream { fake in
            try await Self.setup(fake, environment: ["GATEWAY_ENGINE": "chat", "TOKEN_BUDGET_PER_MONTH": "1000"]).gateway.withLiveServer { client in
                let (_, prompt) = try await client.jsonRPC(#"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":{"prompt":"one two three"}}"#)
                #expect((prompt as? [String: Any])?["result"] != nil, "\(String(describing: prompt))")
                let (_, answer) = try await client.jsonRPC(#"{"jsonrpc":"2.0","id":2,"method":"usage.get","params":{}}"#)
                let result = try #require((answer as? [String: Any])?["result"] as? [String: Any], "\(String(describing: answer))")
                let (_, report) = try await Self.usage(client)
                #expect(NSDictionary(dictionary: result) == NSDictionary(dictionary: report))
                #expect(Self.totals(result, model: "fake-echo").requests == 1, "the chat engine's call: \(result)")
                #expect(result[path: "budget.tokens_per_month"] as? Int == 1000)
                let (_, bad) = try await client.jsonRPC(#"{"jsonrpc":"2.0","id":3,"method":"usage.get","params":["2026-01-31","2026-01-01"]}"#)
                #expect((bad as? [String: Any])?[path: "error.code"] as? Int == -32602, "\(String(describing: bad))")
            }
        }
    }
}

extension UsageTests {
    /// A `wire_api = "responses"` provider: `/v1/responses` is relayed as it is, its usage read from
    /// the stream's `response.completed` event, or from the whole answer.
    @Test func aResponsesCallRelayedAsItIsIsCountedFromItsLastEvent() async throws {
        try await withFakeUpstream { fake in
            var variables = ["GATEWAY_API_KEY": "\(TestGateway.apiKey),\(Self.otherKey)"]
            variables["GATEWAY_ENGINE"] = "chat"
            try await CodexTestSetup.make(fake: fake, wireAPI: "responses", environment: variables).gateway.withLiveServer { client in
                for body in [#"{"model":"fake-echo","stream":true,"input":"one two three"}"#, #"{"model":"fake-echo","input":"one two three"}"#] {
                    let (headers, buffer) = RelayTests.chat(body)
                    let response = try await client.execute(uri: "/v1/responses", method: .post, headers: headers, body: buffer)
                    #expect(response.status == .ok)
                }
                // A stream without `[DONE]` ends with the provider's body: counted just after the
                // client has its last event, so the report is read again briefly.
                var totals = (requests: 0, input: 0, output: 0)
                for _ in 0..<50 where totals.requests < 2 {
                    totals = Self.totals(try await Self.usage(client).1, model: "fake-echo")
                    if totals.requests < 2 { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(totals.requests == 2)
                #expect(totals.output == 8, "4 output tokens each: \(totals)")
                #expect(totals.input > 0)
            }
        }
    }
}

extension UsageTests {
    @Test func aMonthlyBudgetUsedUpIsRefusedUntilTheFirstOfNextMonth() async throws {
        try await withFakeUpstream { fake in
            try await Self.setup(fake, environment: ["GATEWAY_ENGINE": "chat", "TOKEN_BUDGET_PER_MONTH": "5"]).gateway.withLiveServer { client in
                #expect(try await Self.chat(client).status == .ok)
                let refused = try await Self.chat(client)
                #expect(refused.status == .tooManyRequests)
                #expect((try refused.json()["error"] as? String)?.contains("monthly token budget") == true, "\(refused.text)")
                let retryAfter = try #require(refused.headers[HTTPField.Name("Retry-After")!].flatMap { Int($0) } as Int?)
                let toNextMonth = UTCCalendar.startOfNextMonth(after: Date()).timeIntervalSinceNow
                #expect(abs(Double(retryAfter) - toNextMonth) < 10, "Retry-After \(retryAfter) runs to the first of next month (\(toNextMonth))")
                let (_, report) = try await Self.usage(client)
                #expect(report[path: "budget.resets_at"] as? String == UTCCalendar.timestamp(UTCCalendar.startOfNextMonth(after: Date())))
                #expect(report[path: "budget.tokens_per_day"] is NSNull)
            }
        }
    }
}
