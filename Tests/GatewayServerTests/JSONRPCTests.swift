import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("JSON-RPC 2.0 at /jsonrpc (PROTOCOLS.md §2)")
struct JSONRPCTests {
    @Test func theSeedREADMEPromptWorksAsPrinted() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (response, json) = try await client.jsonRPC("""
                    {
                      "jsonrpc": "2.0",
                      "method": "conversation.prompt",
                      "params": {
                        "prompt": "Hello, world!",
                        "conversation_id": null
                      },
                      "id": 1
                    }
                    """)
                #expect(response.status == .ok)
                let object = try #require(json as? [String: Any])
                #expect(object["jsonrpc"] as? String == "2.0")
                #expect(object["id"] as? Int == 1)
                let result = try #require(object["result"] as? [String: Any])
                #expect(result["type"] as? String == "ai_response")
                #expect(result["content"] as? String == "Echo: Hello, world!", "the answer appears once")
                #expect(result["model"] as? String == "fake-echo", "the model actually used")
                let id = try #require(result["conversation_id"] as? String)
                #expect(UUID(uuidString: id) != nil)
                #expect(result[path: "usage.input_tokens"] as? Int == 10)
                #expect(result[path: "usage.output_tokens"] as? Int == 3)
                #expect(result[path: "usage.cached_input_tokens"] as? Int == 0)
                #expect((result["timestamp"] as? String)?.hasSuffix("Z") == true)
                // The upstream saw a streaming Chat Completions request with usage requested.
                let upstream = try #require(fake.recorder.requests.last)
                #expect(upstream.path == "/v1/chat/completions")
                #expect(upstream.json?["stream"] as? Bool == true)
                #expect(upstream.json?[path: "stream_options.include_usage"] as? Bool == true)
                #expect(upstream.headers["authorization"] == "Bearer sk-fake")
            }
        }
    }

    @Test func continuingAConversationSendsItsHistory() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake, model: "fake-count").gateway.withRouter { client in
                let (_, first) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"one"},"id":1}"#)
                let firstResult = try #require((first as? [String: Any])?["result"] as? [String: Any])
                #expect(firstResult["content"] as? String == "messages=1")
                let id = try #require(firstResult["conversation_id"] as? String)

                let (_, second) = try await client.jsonRPC(
                    #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"two","conversation_id":"\#(id)"},"id":2}"#
                )
                let secondResult = try #require((second as? [String: Any])?["result"] as? [String: Any])
                #expect(secondResult["content"] as? String == "messages=3")
                #expect(secondResult["conversation_id"] as? String == id)

                // session_id is accepted as an alias.
                let (_, third) = try await client.jsonRPC(
                    #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"three","session_id":"\#(id)"},"id":3}"#
                )
                #expect(((third as? [String: Any])?["result"] as? [String: Any])?["content"] as? String == "messages=5")

                let messages = try #require(fake.recorder.requests.last?.json?["messages"] as? [[String: Any]])
                #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant", "user"])
                #expect(messages.map { $0["content"] as? String } == ["one", "messages=1", "two", "messages=3", "three"])
            }
        }
    }

    @Test func statusHistoryAndCancelDescribeAConversation() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (_, prompt) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"hi"},"id":1}"#)
                let id = try #require(((prompt as? [String: Any])?["result"] as? [String: Any])?["conversation_id"] as? String)

                let (_, status) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"\#(id)"},"id":2}"#)
                let statusResult = try #require((status as? [String: Any])?["result"] as? [String: Any])
                #expect(statusResult["status"] as? String == "idle")
                #expect(statusResult["turns"] as? Int == 1)
                #expect(statusResult["model"] as? String == "fake-echo")
                #expect(statusResult["created_at"] as? String != nil && statusResult["updated_at"] as? String != nil)

                let (_, history) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.history","params":["\#(id)"],"id":3}"#)
                let messages = try #require(((history as? [String: Any])?["result"] as? [String: Any])?["messages"] as? [[String: Any]])
                #expect(messages.map { $0["role"] as? String } == ["user", "assistant"])
                #expect(messages.map { $0["content"] as? String } == ["hi", "Echo: hi"])

                let (_, cancel) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.cancel","params":{"conversation_id":"\#(id)"},"id":4}"#)
                let cancelResult = try #require((cancel as? [String: Any])?["result"] as? [String: Any])
                #expect(cancelResult["cancelled"] as? Bool == false, "nothing was running")
                #expect(cancelResult["conversation_id"] as? String == id)
            }
        }
    }

    @Test func unknownConversationsAreServerErrorsNotSuccesses() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let unknown = "00000000-0000-0000-0000-000000000000"
                for method in ["conversation.status", "conversation.history", "conversation.cancel", "conversation.prompt"] {
                    let params = method == "conversation.prompt" ? #"{"prompt":"x","conversation_id":"\#(unknown)"}"# : #"{"conversation_id":"\#(unknown)"}"#
                    let (response, json) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":"a"}"#)
                    #expect(response.status == .ok)
                    let object = try #require(json as? [String: Any])
                    #expect(object["result"] == nil)
                    #expect(object[path: "error.code"] as? Int == -32004, "\(method)")
                    #expect(object["id"] as? String == "a")
                }
            }
        }
    }

    @Test func protocolErrorsUseTheStandardCodes() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                func error(_ body: String) async throws -> [String: Any] {
                    let (response, json) = try await client.jsonRPC(body)
                    #expect(response.status == .ok)
                    return try #require(json as? [String: Any])
                }
                let parse = try await error("{not json")
                #expect(parse[path: "error.code"] as? Int == -32700)
                #expect(parse["id"] is NSNull)

                #expect(try await error("[]")[path: "error.code"] as? Int == -32600)
                #expect(try await error("42")[path: "error.code"] as? Int == -32600)
                #expect(try await error(#"{"jsonrpc":"1.0","method":"conversation.status","id":1}"#)[path: "error.code"] as? Int == -32600)
                #expect(try await error(#"{"jsonrpc":"2.0","method":7,"id":1}"#)[path: "error.code"] as? Int == -32600)
                #expect(try await error(#"{"jsonrpc":"2.0","method":"conversation.status","params":"x","id":1}"#)[path: "error.code"] as? Int == -32600)
                #expect(try await error(#"{"jsonrpc":"2.0","method":"conversation.status","id":{"a":1}}"#)[path: "error.code"] as? Int == -32600)

                let notFound = try await error(#"{"jsonrpc":"2.0","method":"conversation.delete","id":1}"#)
                #expect(notFound[path: "error.code"] as? Int == -32601)
                let available = try #require(notFound[path: "error.data.available_methods"] as? [String])
                #expect(
                    available == [
                        "conversation.prompt", "conversation.status", "conversation.cancel", "conversation.history", "conversation.list",
                        "approval.list", "approval.respond", "usage.get",
                    ])

                let missingPrompt = try await error(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{},"id":1}"#)
                #expect(missingPrompt[path: "error.code"] as? Int == -32602)
                #expect((missingPrompt[path: "error.message"] as? String)?.contains("params.prompt") == true)
                let emptyPrompt = try await error(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":""},"id":1}"#)
                #expect(emptyPrompt[path: "error.code"] as? Int == -32602)
                let noID = try await error(#"{"jsonrpc":"2.0","method":"conversation.status","params":{},"id":1}"#)
                #expect(noID[path: "error.code"] as? Int == -32602)
            }
        }
    }

    @Test func batchesAnswerEveryRequestButNotNotifications() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let (response, json) = try await client.jsonRPC("""
                    [
                      {"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"a"},"id":1},
                      {"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"b"}},
                      {"jsonrpc":"2.0","method":"nope","id":"x"},
                      1
                    ]
                    """)
                #expect(response.status == .ok)
                let responses = try #require(json as? [[String: Any]])
                #expect(responses.count == 3)
                #expect(responses[0]["id"] as? Int == 1 && responses[0]["result"] != nil)
                #expect(responses[1]["id"] as? String == "x" && responses[1][path: "error.code"] as? Int == -32601)
                #expect(responses[2]["id"] is NSNull && responses[2][path: "error.code"] as? Int == -32600)
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 2, "the notification ran too")

                let (allNotifications, body) = try await client.jsonRPC(#"[{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"x"}}]"#)
                #expect(allNotifications.status == .noContent)
                #expect(body == nil)
                let (single, _) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"nope"}"#)
                #expect(single.status == .noContent)
            }
        }
    }

    @Test func authenticationAndBodyLimitsStayHTTPErrors() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let anonymous = try await client.execute(uri: "/jsonrpc", method: .post, body: .init(string: "{}"))
                #expect(anonymous.status == .unauthorized)
                let large = try await client.execute(
                    uri: "/jsonrpc",
                    method: .post,
                    headers: .apiKey(),
                    body: .init(string: "[" + String(repeating: "1,", count: 600_000) + "1]")
                )
                #expect(large.status == .contentTooLarge)
                #expect(try large.json()["code"] as? String == "payload_too_large")
            }
        }
    }

    @Test func aMissingModelKeyIsReportedNamingTheVariable() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["FAKE_OPENAI_KEY": ""])
            try await setup.gateway.withRouter { client in
                let (_, json) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"hi"},"id":1}"#)
                let object = try #require(json as? [String: Any])
                #expect(object[path: "error.code"] as? Int == -32003)
                #expect(object[path: "error.data.variable"] as? String == "FAKE_OPENAI_KEY")
                #expect((object[path: "error.message"] as? String)?.contains("FAKE_OPENAI_KEY") == true)
                #expect(fake.recorder.requests.isEmpty)
                let health = try await client.execute(uri: "/health", method: .get)
                #expect(health.status == .ok)
            }
        }
    }
}
