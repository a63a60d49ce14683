import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import Testing

/// `TURN_TIMEOUT_SECONDS` and `MAX_CONCURRENT_TURNS` (PROTOCOLS §10), on the chat engine (the
/// manager enforces them for every engine).
@Suite("Turn timeout and the gateway-wide turn cap", .serialized)
struct AgentLimitsTests {
    @Test func aTurnRunningPastTheTimeoutIsStoppedAndSaysWhy() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-stall", environment: ["TURN_TIMEOUT_SECONDS": "0.5"])
            try await setup.gateway.withLiveServer { client in
                let (_, lines) = try await client.exec(#"{"prompt":"wait"}"#)
                let last = try #require(lines.last)
                #expect(last["type"] as? String == "turn.failed")
                #expect((last[path: "error.message"] as? String)?.contains("TURN_TIMEOUT_SECONDS (0.5 s)") == true, "\(last)")
            }
        }
    }

    @Test func pastMaxConcurrentTurnsAnotherTurnIs429() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-stall", environment: ["MAX_CONCURRENT_TURNS": "1", "TURN_TIMEOUT_SECONDS": "5"])
            try await withLiveGateway(setup.gateway) { port in
                let first = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"first"}"#), timeout: .seconds(30))
                var lines = LineReader(iterator: first.body.makeAsyncIterator())
                var started = false
                while !started, let line = try await lines.next() { started = line["type"] as? String == "turn.started" }
                #expect(started)
                let second = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"second"}"#), timeout: .seconds(10))
                let body = try await second.body.collect(upTo: 1 << 16)
                #expect(second.status.code == 429, "\(String(buffer: body))")
                #expect(second.headers.first(name: "Retry-After") != nil)
                #expect(String(buffer: body).contains("too_many_turns"))
                #expect(String(buffer: body).contains("MAX_CONCURRENT_TURNS = 1"))
                while try await lines.next() != nil {}
            }
        }
    }
}
