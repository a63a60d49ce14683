import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import NIOCore
import Testing

/// The named conversation operations GPT Actions call (`POST /conversations`, `POST
/// /conversations/{id}/turns`, `GET /conversations/{id}`), through a live gateway with the real
/// Codex engine and fake-openai: a turn that ends in time answers 200 with its answer; one that
/// outlasts `GPT_TURN_WAIT_SECONDS` answers 202 and goes on until a poll finds its answer; a
/// second turn meanwhile is 409; another key gets 404; bad options get 400 (PROTOCOLS §10).
@Suite("Conversation operations: start, continue, 202 and poll", .serialized)
struct ConversationOperationsTests: LiveHTTPRequests {
    @Test func aTurnThatEndsInTimeAnswers200WithItsAnswerAndTheConversationContinues() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let started = try await Self.send(
                    port: port, "POST", "/conversations",
                    ##"{"prompt":"#fake-agent:command:echo first-turn","workspace":"gpt-demo","sandbox":"workspace-write","approval_policy":"never"}"##)
                #expect(started.status == 200, "\(started.json)")
                #expect(started.location == nil)
                let id = try #require(started.json["conversation_id"] as? String)
                #expect(started.json["status"] as? String == "idle")
                #expect((started.json["answer"] as? String)?.contains("first-turn") == true, "\(started.json)")
                let items = started.json["items"] as? [[String: Any]] ?? []
                // The command as the agent ran it (its output, under a loaded machine, may come after
                // Codex's tool stopped waiting for it: the long-turn test checks an output).
                #expect(items.contains { $0["type"] as? String == "command_execution" && ($0["command"] as? String)?.contains("echo first-turn") == true }, "\(items)")
                #expect((started.json["usage"] as? [String: Any])?["output_tokens"] as? Int ?? 0 > 0, "\(started.json)")
                #expect(started.json["turns"] as? Int == 1)

                let continued = try await Self.send(port: port, "POST", "/conversations/\(id)/turns", ##"{"prompt":"#fake-agent:command:touch second.txt"}"##)
                #expect(continued.status == 200, "\(continued.json)")
                #expect(continued.json["conversation_id"] as? String == id)
                #expect((continued.json["answer"] as? String)?.contains("touch second.txt") == true, "\(continued.json)")
                #expect(continued.json["turns"] as? Int == 2)
                // The named workspace is the conversation's, on every turn.
                let workspace = setup.codexHome + "/workspaces"
                let files = (try? FileManager.default.subpathsOfDirectory(atPath: workspace)) ?? []
                #expect(files.contains { $0.hasSuffix("/gpt-demo/second.txt") }, "\(files)")

                let read = try await Self.send(port: port, "GET", "/conversations/\(id)")
                #expect(read.status == 200)
                #expect(read.json["status"] as? String == "idle")
                #expect(read.json["answer"] as? String == continued.json["answer"] as? String)
                #expect((read.json["pending_approvals"] as? [Any])?.isEmpty == true)
                let listed = try await Self.send(port: port, "GET", "/conversations")
                #expect((listed.json["conversations"] as? [[String: Any]])?.first?["conversation_id"] as? String == id)
            }
        }
    }

    @Test func aLongTurnAnswers202ThenAPollFindsItsAnswerMeanwhileASecondTurnIs409AndAnotherKeyGets404() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(
                fake: fake, wireAPI: "chat", environment: ["GPT_TURN_WAIT_SECONDS": "1", "GATEWAY_API_KEY": "\(Owners.alice),\(Owners.bob)"])
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let accepted = try await Self.send(port: port, "POST", "/conversations", ##"{"prompt":"#fake-agent:command:sleep 4; echo slow-done"}"##)
                #expect(accepted.status == 202, "\(accepted.json)")
                let id = try #require(accepted.json["conversation_id"] as? String)
                #expect(accepted.location == "/conversations/\(id)")
                #expect(accepted.json["status"] as? String == "running", "\(accepted.json)")
                #expect(accepted.json["answer"] == nil)

                let busy = try await Self.send(port: port, "POST", "/conversations/\(id)/turns", #"{"prompt":"and then?"}"#)
                #expect(busy.status == 409, "\(busy.json)")
                #expect(busy.json["code"] as? String == "conversation_busy")

                let foreign = try await Self.send(port: port, "GET", "/conversations/\(id)", key: Owners.bob)
                #expect(foreign.status == 404, "\(foreign.json)")
                #expect(foreign.json["code"] as? String == "conversation_not_found")
                let foreignTurn = try await Self.send(port: port, "POST", "/conversations/\(id)/turns", #"{"prompt":"mine now"}"#, key: Owners.bob)
                #expect(foreignTurn.status == 404, "\(foreignTurn.json)")
                #expect(try await Self.send(port: port, "GET", "/conversations/\(UUID().uuidString.lowercased())").status == 404)

                var last = accepted
                for _ in 0..<600 where last.json["status"] as? String == "running" {
                    try await Task.sleep(for: .milliseconds(100))
                    last = try await Self.send(port: port, "GET", try #require(accepted.location))
                }
                #expect(last.status == 200)
                #expect(last.json["status"] as? String == "idle", "\(last.json)")
                #expect((last.json["answer"] as? String)?.contains("slow-done") == true, "\(last.json)")
                let items = last.json["items"] as? [[String: Any]] ?? []
                #expect(items.contains { ($0["aggregated_output"] as? String)?.contains("slow-done") == true }, "\(items)")
                #expect(last.json["turns"] as? Int == 1)
            }
        }
    }

    /// Each refused before anything runs, with the field at fault named; one gateway for all.
    @Test func aBadOptionIsRefusedWith400AndASandboxAboveTheCapWith403() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: ["GATEWAY_MAX_SANDBOX": "read-only"])
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await withLiveGateway(setup.gateway) { port in
                let someID = UUID().uuidString.lowercased()
                let cases: [(path: String, body: String, status: UInt, code: String, names: String)] = [
                    ("/conversations", ##"{"prompt":"hi","workspace":"../escape"}"##, 400, "invalid_request", "workspace"),
                    ("/conversations", ##"{"prompt":"hi","workspace":"/etc"}"##, 400, "invalid_request", "workspace"),
                    ("/conversations", ##"{"prompt":"hi","sandbox":"everything"}"##, 400, "invalid_request", "sandbox"),
                    ("/conversations", ##"{"prompt":"hi","approval_policy":"sometimes"}"##, 400, "invalid_request", "approval_policy"),
                    ("/conversations", ##"{"prompt":"hi","model":""}"##, 400, "invalid_request", "model"),
                    ("/conversations", ##"{"prompt":""}"##, 400, "invalid_request", "prompt"),
                    ("/conversations", ##"{"prompt":" \r\n"}"##, 400, "invalid_request", "prompt"),
                    ("/conversations", ##"{"prompt":"hi","temperature":2}"##, 400, "invalid_request", "temperature"),
                    ("/conversations", ##"{"prompt":"hi","sandbox":"workspace-write"}"##, 403, "sandbox_not_allowed", "sandbox"),
                    ("/conversations/\(someID)/turns", ##"{"prompt":"hi","sandbox":"everything"}"##, 400, "invalid_request", "sandbox"),
                    ("/conversations/\(someID)/turns", ##"{"prompt":"hi","workspace":"other"}"##, 400, "invalid_request", "workspace"),
                ]
                for refused in cases {
                    let reply = try await Self.send(port: port, "POST", refused.path, refused.body)
                    #expect(reply.status == refused.status, "\(refused.body): \(reply.json)")
                    #expect(reply.json["code"] as? String == refused.code, "\(refused.body): \(reply.json)")
                    #expect((reply.json["error"] as? String)?.contains(refused.names) == true, "\(refused.body): \(reply.json)")
                }
                // Nothing was started.
                let listed = try await Self.send(port: port, "GET", "/conversations")
                #expect((listed.json["conversations"] as? [Any])?.isEmpty == true, "\(listed.json)")
            }
        }
    }
}
