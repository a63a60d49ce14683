import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import ModelProvider
import NIOCore
import Testing

@Suite("Exec mode at /exec (PROTOCOLS.md §3)")
struct ExecTests {
    @Test func theSeedREADMEExecStreamsCodexEvents() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (response, lines) = try await client.exec(#"{"prompt": "Write a hello function"}"#)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/jsonl")
                let types = lines.map { $0["type"] as? String ?? "?" }
                #expect(types.first == "thread.started")
                #expect(types[1] == "turn.started")
                #expect(types[2] == "item.started")
                #expect(types.last == "turn.completed")
                #expect(types.dropLast().last == "item.completed")
                #expect(UUID(uuidString: lines[0]["thread_id"] as? String ?? "") != nil)
                #expect(lines[2][path: "item.text"] as? String == "")
                #expect(lines[2][path: "item.type"] as? String == "agent_message")
                let updates = lines.filter { $0["type"] as? String == "item.updated" }.compactMap { $0[path: "item.text"] as? String }
                #expect(updates.last == "Echo: Write a hello function")
                #expect(updates.first == "Echo: ", "updates carry the text so far")
                // Five deltas (a word each); "a " grew the text by less than a quarter, so its
                // snapshot waits for the next (ItemUpdateCoalescer).
                #expect((2...5).contains(updates.count))
                #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.count < $1.count && $1.hasPrefix($0) })
                let completed = lines.first { $0["type"] as? String == "item.completed" }
                #expect(completed?[path: "item.text"] as? String == "Echo: Write a hello function")
                #expect(lines.last?[path: "usage.input_tokens"] as? Int == 10)
                #expect(lines.last?[path: "usage.output_tokens"] as? Int == 5)
            }
        }
    }

    @Test func acceptApplicationJSONGetsOneObject() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (response, _) = try await client.exec(#"{"prompt": "hi"}"#, accept: "application/json")
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let object = try response.json()
                #expect(object["status"] as? String == "completed")
                let events = try #require(object["events"] as? [[String: Any]])
                #expect(events.first?["type"] as? String == "thread.started")
                #expect(events.last?["type"] as? String == "turn.completed")
                #expect(object["conversation_id"] as? String == events.first?["thread_id"] as? String)
            }
        }
    }

    @Test func ndjsonIsAnsweredWhenAsked() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (response, lines) = try await client.exec(#"{"prompt": "hi"}"#, accept: "application/x-ndjson")
                #expect(response.headers[.contentType] == "application/x-ndjson")
                #expect(lines.first?["type"] as? String == "thread.started")
                let (refused, _) = try await client.exec(#"{"prompt": "hi"}"#, accept: "text/html")
                #expect(refused.status == .notAcceptable)
            }
        }
    }

    @Test func badInputIsRefusedBeforeStreaming() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (empty, _) = try await client.exec(#"{"prompt": ""}"#)
                #expect(empty.status == .badRequest)
                #expect((try empty.json()["error"] as? String)?.contains("body.prompt") == true)
                let (missing, _) = try await client.exec(#"{"conversation_id": null}"#)
                #expect(missing.status == .badRequest)
                let (unknown, _) = try await client.exec(#"{"prompt": "x", "conversation_id": "4b2d0f52-1111-4c3e-9d7a-2f1e0c9b8a77"}"#)
                #expect(unknown.status == .notFound)
                #expect(try unknown.json()["code"] as? String == "conversation_not_found")
                #expect(fake.recorder.requests.isEmpty)
            }
        }
    }

    @Test func aMissingModelKeyIs503NamingTheVariable() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, environment: ["FAKE_OPENAI_KEY": ""]).gateway.withRouter { client in
                let (response, _) = try await client.exec(#"{"prompt": "hi"}"#)
                #expect(response.status == .serviceUnavailable)
                let body = try response.json()
                #expect(body["code"] as? String == "model_not_configured")
                #expect((body["error"] as? String)?.contains("FAKE_OPENAI_KEY") == true)
            }
        }
    }

    @Test func theResponsesAPIProviderStreamsToo() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, wireAPI: "responses").gateway.withRouter { client in
                let (response, lines) = try await client.exec(#"{"prompt": "from responses"}"#)
                #expect(response.status == .ok)
                let completed = lines.first { $0["type"] as? String == "item.completed" }
                #expect(completed?[path: "item.text"] as? String == "Echo: from responses")
                #expect(lines.last?["type"] as? String == "turn.completed")
                let upstream = try #require(fake.recorder.requests.last)
                #expect(upstream.path == "/v1/responses")
                let input = try #require(upstream.json?["input"] as? [[String: Any]])
                #expect(input.first?["role"] as? String == "user")
            }
        }
    }

    @Test func rateLimitsAndServerErrorsAreRetriedHonouringRetryAfter() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, model: "fake-429-ms-2").gateway.withRouter { client in
                let (_, lines) = try await client.exec(#"{"prompt": "retry me"}"#)
                #expect(lines.last?["type"] as? String == "turn.completed")
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 3)
            }
            fake.reset()
            try await CodexTestSetup.make(fake: fake, model: "fake-429-1").gateway.withRouter { client in
                let start = ContinuousClock.now
                let (_, lines) = try await client.exec(#"{"prompt": "retry me"}"#)
                #expect(lines.last?["type"] as? String == "turn.completed")
                #expect(ContinuousClock.now - start >= .milliseconds(950), "Retry-After: 1 was honoured")
            }
            fake.reset()
            try await CodexTestSetup.make(fake: fake, model: "fake-500-1").gateway.withRouter { client in
                let (_, lines) = try await client.exec(#"{"prompt": "retry me"}"#)
                #expect(lines.last?["type"] as? String == "turn.completed")
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 2)
            }
        }
    }

    @Test func aFailingProviderEndsTheTurnWithTurnFailedAfterAnnouncedRetries() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-500-always", requestMaxRetries: 0, streamMaxRetries: 2)
            try await setup.gateway.withRouter { client in
                let (_, lines) = try await client.exec(#"{"prompt": "x"}"#)
                let types = lines.map { $0["type"] as? String ?? "?" }
                #expect(types == ["thread.started", "turn.started", "error", "error", "turn.failed"])
                #expect(lines[2]["message"] as? String == "Reconnecting... 1/2")
                #expect(lines[3]["message"] as? String == "Reconnecting... 2/2")
                #expect((lines[4][path: "error.message"] as? String)?.contains("500") == true)
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 3)
            }
        }
    }

    @Test func stalledCutAndGarbledStreamsAreHandled() async throws {
        try await withFakeUpstream { fake in
            for (model, expectation) in [("fake-stall", "idle"), ("fake-cut", "ended before")] {
                let setup = try CodexTestSetup.make(fake: fake, model: model, requestMaxRetries: 0, streamMaxRetries: 1, idleTimeoutMilliseconds: 300)
                try await setup.gateway.withRouter { client in
                    let (_, lines) = try await client.exec(#"{"prompt": "x"}"#)
                    let types = lines.map { $0["type"] as? String ?? "?" }
                    #expect(types.contains("error"), "\(model): the retry is announced")
                    #expect(types.last == "turn.failed", "\(model)")
                    #expect((lines.last?[path: "error.message"] as? String)?.contains(expectation) == true, "\(model): \(lines.last ?? [:])")
                }
            }
            try await CodexTestSetup.make(fake: fake, model: "fake-garbage").gateway.withRouter { client in
                let (_, lines) = try await client.exec(#"{"prompt": "noisy line"}"#)
                #expect(lines.first { $0["type"] as? String == "item.completed" }?[path: "item.text"] as? String == "Echo: noisy line")
            }
        }
    }
}
