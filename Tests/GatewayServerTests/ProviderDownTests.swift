import FakeOpenAI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelProvider
import NIOCore
import Synchronization
import Testing

@testable import GatewayServer

/// A model provider that is down or failing: callers learn it at once, in one sentence that names
/// the provider and the cause but not its address, and `/ready` says so without failing.
@Suite struct ProviderDownTests {
    /// A gateway whose provider was listening on a loopback port that is now closed.
    static func withProviderDown(
        environment: [String: String] = [:],
        _ body: @Sendable (any TestClientProtocol, _ port: Int) async throws -> Void
    ) async throws {
        let fake = try await FakeOpenAIServer.start()
        await fake.shutdown()
        let setup = try CodexTestSetup.make(fake: fake, requestMaxRetries: 4, streamMaxRetries: 5, environment: environment)
        try await setup.gateway.withRouter { client in try await body(client, fake.port) }
    }

    static let refusedSentence = "The model provider 'Fake OpenAI' could not be reached: the connection was refused"

    @Test func aRefusedConnectionFailsTheTurnAtOnceWithoutRetries() async throws {
        try await Self.withProviderDown { client, port in
            let (response, lines) = try await client.exec(#"{"prompt": "anyone there?"}"#)
            #expect(response.status == .ok)
            let types = lines.compactMap { $0["type"] as? String }
            #expect(!types.contains("error"), "no 'Reconnecting...' notices: a refused connection is not retried")
            #expect(types.last == "turn.failed")
            let message = try #require(lines.last?[path: "error.message"] as? String)
            #expect(message.hasPrefix(Self.refusedSentence))
            #expect(!message.contains("127.0.0.1") && !message.contains(String(port)), "the provider's address stays in the log")
        }
    }

    @Test func jsonRPCNamesTheProviderAndTheCause() async throws {
        try await Self.withProviderDown { client, port in
            let (_, json) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"hi"},"id":1}"#)
            let error = try #require((json as? [String: Any])?["error"] as? [String: Any])
            #expect(error["code"] as? Int == JSONRPCDispatcher.ErrorCode.modelFailure)
            let message = try #require(error["message"] as? String)
            #expect(message.contains(Self.refusedSentence))
            #expect(!message.contains(String(port)))
        }
    }

    @Test func theRelayAnswers502WithoutTheProvidersAddress() async throws {
        try await Self.withProviderDown { client, port in
            var headers = HTTPFields.apiKey()
            headers[.contentType] = "application/json"
            for stream in [false, true] {
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: headers,
                    body: ByteBuffer(string: #"{"model":"fake-echo","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#)
                )
                #expect(response.status == .badGateway)
                let json = try response.json()
                #expect(json["code"] as? String == "upstream_unavailable")
                let message = try #require(json["error"] as? String)
                #expect(message.hasPrefix(Self.refusedSentence))
                #expect(!response.text.contains("127.0.0.1") && !response.text.contains(String(port)))
            }
        }
    }

    @Test func readinessReportsTheProviderDegradedAndLivenessStaysHealthy() async throws {
        try await Self.withProviderDown { client, _ in
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .ok)
            let json = try ready.json()
            #expect(json["status"] as? String == "degraded")
            let provider = try #require((json["checks"] as? [String: Any])?["provider"] as? String)
            #expect(provider.hasPrefix("unreachable: " + Self.refusedSentence))
            #expect((json["checks"] as? [String: Any])?["database"] as? String == "ok")
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
        }
    }

    @Test func readinessReportsAReachableProviderOK() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let json = try await client.execute(uri: "/ready", method: .get).json()
                #expect(json["status"] as? String == "ready")
                #expect((json["checks"] as? [String: Any])?["provider"] as? String == "ok")
            }
        }
    }

    @Test func aSpentRetryBudgetStopsRetriesOfTheRequestAndOfTheTurn() async throws {
        try await withFakeUpstream { fake in
            let budgetless = try CodexTestSetup.make(
                fake: fake, model: "fake-500-always", requestMaxRetries: 3, streamMaxRetries: 3,
                environment: ["UPSTREAM_RETRY_BUDGET_SECONDS": "0"]
            )
            try await budgetless.gateway.withRouter { client in
                let (_, lines) = try await client.exec(#"{"prompt": "retry me"}"#)
                #expect(lines.last?["type"] as? String == "turn.failed")
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 1, "no retry starts after the budget")
            }
            fake.reset()
            let withBudget = try CodexTestSetup.make(fake: fake, model: "fake-500-always", requestMaxRetries: 1, streamMaxRetries: 1)
            try await withBudget.gateway.withRouter { client in
                let (_, lines) = try await client.exec(#"{"prompt": "retry me"}"#)
                #expect(lines.last?["type"] as? String == "turn.failed")
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 4, "2 attempts × 2 turn tries within the default budget")
            }
        }
    }

    @Test func aCachedProbeIsReusedAndOnlyOneRunsAtATime() async throws {
        let probes = ProbeCounter()
        let reachability = ProviderReachability(maximumAge: .seconds(3600)) {
            probes.increment()
            return ProviderConnectionFailure(provider: "P", cause: .refused)
        }
        for _ in 0..<5 { #expect(await reachability.check()?.hasPrefix("unreachable: The model provider 'P'") == true) }
        #expect(probes.value == 1)
    }

    @Test(arguments: [
        (ECONNREFUSED, ProviderConnectionFailure.Cause.refused), (EHOSTUNREACH, .networkUnreachable), (ECONNRESET, .connectionClosed),
    ])
    func socketErrorsAreClassified(errno: Int32, cause: ProviderConnectionFailure.Cause) {
        #expect(ProviderConnectionFailure.cause(of: IOError(errnoCode: errno, reason: "connect")) == cause)
    }
}

final class ProbeCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
