import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A gateway wired to a fake OpenAI server on loopback through a real `config.toml`.
struct CodexTestSetup {
    var fake: FakeOpenAIServer
    var gateway: TestGateway
    var codexHome: String

    /// - Parameters:
    ///   - model: the configured model, i.e. the fake's scenario.
    ///   - wireAPI: `chat` or `responses`.
    ///   - environment: extra variables; `FAKE_OPENAI_KEY` is set unless overridden.
    static func make(
        fake: FakeOpenAIServer,
        model: String = "fake-echo",
        wireAPI: String = "chat",
        requestMaxRetries: Int = 2,
        streamMaxRetries: Int = 2,
        idleTimeoutMilliseconds: Int = 2000,
        environment: [String: String] = [:],
        codexHome: String? = nil,
        baseURL: String? = nil
    ) throws -> CodexTestSetup {
        let home = codexHome ?? TemporaryDirectory.make()
        let toml = """
            model = "\(model)"
            model_provider = "fake"

            [model_providers.fake]
            name = "Fake OpenAI"
            base_url = "\(baseURL ?? fake.baseURL)"
            env_key = "FAKE_OPENAI_KEY"
            wire_api = "\(wireAPI)"
            request_max_retries = \(requestMaxRetries)
            stream_max_retries = \(streamMaxRetries)
            stream_idle_timeout_ms = \(idleTimeoutMilliseconds)
            """
        try toml.write(toFile: home + "/config.toml", atomically: true, encoding: .utf8)
        var variables = ["CODEX_HOME": home, "FAKE_OPENAI_KEY": "sk-fake"]
        variables.merge(environment) { _, new in new }
        return CodexTestSetup(fake: fake, gateway: TestGateway(variables), codexHome: home)
    }
}

/// Runs `body` with a fake upstream that is shut down afterwards, whatever happens.
func withFakeUpstream(_ body: (FakeOpenAIServer) async throws -> Void) async throws {
    let fake = try await FakeOpenAIServer.start()
    do {
        try await body(fake)
    } catch {
        await fake.shutdown()
        throw error
    }
    await fake.shutdown()
}

extension TestClientProtocol {
    /// POSTs a JSON-RPC body with the test key and returns the parsed JSON (object or array).
    func jsonRPC(_ body: String, key: String = TestGateway.apiKey) async throws -> (TestResponse, Any?) {
        var headers = HTTPFields.apiKey(key)
        headers[.contentType] = "application/json"
        let response = try await execute(uri: "/jsonrpc", method: .post, headers: headers, body: ByteBuffer(string: body))
        let json = response.body.readableBytes > 0 ? try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) : nil
        return (response, json)
    }

    /// POSTs to /exec and returns the response with its JSON lines parsed.
    func exec(_ body: String, accept: String? = nil, key: String = TestGateway.apiKey) async throws -> (TestResponse, [[String: Any]]) {
        var headers = HTTPFields.apiKey(key)
        headers[.contentType] = "application/json"
        if let accept { headers[.accept] = accept }
        let response = try await execute(uri: "/exec", method: .post, headers: headers, body: ByteBuffer(string: body))
        let lines = response.text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        return (response, lines)
    }
}

extension Dictionary where Key == String, Value == Any {
    subscript(path path: String) -> Any? {
        var current: Any? = self
        for key in path.split(separator: ".") {
            current = (current as? [String: Any])?[String(key)]
        }
        return current
    }
}
