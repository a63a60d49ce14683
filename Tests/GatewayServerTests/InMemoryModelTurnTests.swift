import Foundation
import GatewayServer
import HummingbirdTesting
import ModelProvider
import Testing

/// Turns against a model in memory: no provider, no socket to one.
@Suite("Turns with an in-memory model")
struct InMemoryModelTurnTests {
    static func prompt(_ client: some TestClientProtocol, _ params: String) async throws -> [String: Any] {
        let (_, json) = try await client.jsonRPC(#"{"jsonrpc":"2.0","id":1,"method":"conversation.prompt","params":\#(params)}"#)
        return try #require(json as? [String: Any])
    }

    @Test func aConversationsSecondTurnSendsTheModelItsHistory() async throws {
        let model = InMemoryModelClient.answering("from memory", deltas: 3)
        try await TestGateway(modelClient: model).withRouter { client in
            let first = try await Self.prompt(client, #"{"prompt":"one"}"#)
            #expect(first[path: "result.content"] as? String == "from memory", "\(first)")
            let conversation = try #require(first[path: "result.conversation_id"] as? String)
            let second = try await Self.prompt(client, #"{"prompt":"two","conversation_id":"\#(conversation)"}"#)
            #expect(second[path: "result.content"] as? String == "from memory")
            let history = model.requests.last?.messages.map { "\($0.role.rawValue): \($0.content)" } ?? []
            #expect(history.suffix(3) == ["user: one", "assistant: from memory", "user: two"])
        }
    }

    @Test func aStreamThatEndsEarlyIsRetriedAsANewTurnAttempt() async throws {
        let model = InMemoryModelClient { _, call in
            if call == 0 { throw ModelClientError.streamEnded }
            return [.textDelta("second time lucky"), .completed]
        }
        try await TestGateway(modelClient: model).withRouter { client in
            let answer = try await Self.prompt(client, #"{"prompt":"retry me"}"#)
            #expect(answer[path: "result.content"] as? String == "second time lucky", "\(answer)")
            #expect(model.requests.count == 2)
        }
    }

    @Test func aProviderErrorThatIsNotWorthRetryingEndsTheTurnWithItsMessage() async throws {
        let model = InMemoryModelClient { _, _ in throw ModelClientError.provider("the model refused") }
        try await TestGateway(modelClient: model).withRouter { client in
            let answer = try await Self.prompt(client, #"{"prompt":"x"}"#)
            #expect((answer[path: "error.message"] as? String)?.contains("the model refused") == true, "\(answer)")
            #expect(model.requests.count == 1)
        }
    }
}
