import Foundation
import GatewayServer
import Logging
import ModelProvider
import Testing

@Suite("Configuration from the environment, .env and config.toml")
struct ConfigurationTests {
    func load(_ variables: [String: String]) throws -> GatewayConfiguration {
        var environment = ["CODEX_HOME": TemporaryDirectory.make()]
        environment.merge(variables) { _, new in new }
        return try GatewayConfiguration.load(environment: Environment(environment))
    }

    func expectError(_ variables: [String: String], key: String, containing fragment: String) {
        #expect {
            _ = try load(variables)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.message.contains(fragment)
        }
    }

    @Test func defaultsMatchTheSeed() throws {
        let configuration = try load([:])
        #expect(configuration.port == 8080)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.publicBaseURL == "http://localhost:8080")
        #expect(configuration.apiKeys.isEmpty)
        #expect(configuration.oauthAutoApprove == false)
        #expect(configuration.corsAllowedOrigins == .origins(["https://chat.openai.com", "https://chatgpt.com"]))
        #expect(configuration.logLevel == .info)
        #expect(configuration.codex.modelProvider == "openai")
        #expect(configuration.codex.provider.wireAPI == .responses)
        #expect(configuration.upstreamMaxConnections == 1024)
    }

    @Test func anSSLCertFileThatHoldsNoCertificateNamesItsVariable() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-ca-\(UUID().uuidString).pem").path
        try "not a certificate".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        expectError(["SSL_CERT_FILE": file], key: "SSL_CERT_FILE", containing: "no PEM certificate")
        expectError(["SSL_CERT_FILE": file + ".missing"], key: "SSL_CERT_FILE", containing: "does not exist")
        expectError(["SSL_CERT_DIR": file + ".missing"], key: "SSL_CERT_DIR", containing: "cannot be read")
    }

    @Test func badValuesNameTheirVariable() {
        expectError(["PORT": "eighty"], key: "PORT", containing: "port number")
        expectError(["PORT": "70000"], key: "PORT", containing: "0 to 65535")
        expectError(["PUBLIC_BASE_URL": "gateway.example.com"], key: "PUBLIC_BASE_URL", containing: "absolute http(s) URL")
        expectError(["PUBLIC_BASE_URL": "https://x.example/?a=b"], key: "PUBLIC_BASE_URL", containing: "query")
        expectError(["OAUTH_AUTO_APPROVE": "maybe"], key: "OAUTH_AUTO_APPROVE", containing: "true or false")
        expectError(["OAUTH_CLIENT_ID": "only-the-id"], key: "OAUTH_CLIENT_SECRET", containing: "together")
        expectError(["CORS_ALLOWED_ORIGINS": "https://ok.example, *"], key: "CORS_ALLOWED_ORIGINS", containing: "'*'")
        expectError(["CORS_ALLOWED_ORIGINS": "https://ok.example/path"], key: "CORS_ALLOWED_ORIGINS", containing: "not an origin")
        expectError(["LOG_LEVEL": "loud"], key: "LOG_LEVEL", containing: "expected trace")
        expectError(["BODY_LIMIT_BYTES": "-1"], key: "BODY_LIMIT_BYTES", containing: "positive")
        expectError(["OUTBOUND_ALLOW_PRIVATE": "sometimes"], key: "OUTBOUND_ALLOW_PRIVATE", containing: "true or false")
    }

    @Test func rustLogDirectivesPickThisProgramsLevel() throws {
        #expect(try load(["RUST_LOG": "info,codex_gateway=debug"]).logLevel == .debug)
        #expect(try load(["RUST_LOG": "warn"]).logLevel == .warning)
        #expect(try load(["RUST_LOG": "warn", "LOG_LEVEL": "trace"]).logLevel == .trace)
    }

    @Test func apiKeysAreACommaSeparatedList() throws {
        let configuration = try load(["GATEWAY_API_KEY": " one-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ,two-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,, "])
        #expect(configuration.apiKeys == ["one-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "two-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"])
    }

    @Test func apiKeysShorterThan32CharactersAreRefusedNamingTheVariable() throws {
        expectError(["GATEWAY_API_KEY": "your-secure-api-key-here"], key: "GATEWAY_API_KEY", containing: "at least 32")
        expectError(["GATEWAY_API_KEY": "\(String(repeating: "a", count: 32)),short-one"], key: "GATEWAY_API_KEY", containing: "key 2 of 2")
        #expect(try load(["GATEWAY_API_KEY": String(repeating: "k", count: 32)]).apiKeys.count == 1)
    }

    @Test func theSeedDotEnvIsReadButItsPlaceholderKeyIsRefused() throws {
        let directory = TemporaryDirectory.make()
        let path = directory + "/.env"
        try """
        OPENAI_API_KEY=sk-proj-your-key-here
        PORT=8080
        RUST_LOG=info,codex_gateway=debug
        GATEWAY_API_KEY=your-secure-api-key-here
        OAUTH_CLIENT_ID=codex-gateway-client
        OAUTH_CLIENT_SECRET=your-oauth-secret-here
        CODEX_HOME=\(directory)

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let environment = try Environment.load(dotEnvPath: path, processEnvironment: [:])
        #expect(environment["GATEWAY_API_KEY"] == "your-secure-api-key-here")
        #expect {
            try GatewayConfiguration.load(environment: environment)
        } throws: { error in
            let error = error as? ConfigurationError
            return error?.key == "GATEWAY_API_KEY" && error?.source == path
        }
    }

    @Test func aDotEnvWithCRLFLineEndingsReadsEveryLineWithoutCarriageReturns() throws {
        let parsed = try DotEnv.parse("PORT=3000\r\nGATEWAY_API_KEY=\"quoted-key\"\r\nHOST=127.0.0.1 # comment\r\nRUST_LOG=warn\r\n")
        #expect(parsed == ["PORT": "3000", "GATEWAY_API_KEY": "quoted-key", "HOST": "127.0.0.1", "RUST_LOG": "warn"])
        #expect(parsed.values.allSatisfy { !$0.unicodeScalars.contains("\r") })
    }

    @Test func dotEnvFillsWhatTheEnvironmentLeavesUnset() throws {
        let directory = TemporaryDirectory.make()
        let path = directory + "/.env"
        try """
        # Gateway
        PORT=3000
        export GATEWAY_API_KEY="from-file-key-cccccccccccccccccccccccc"
        RUST_LOG=info,codex_gateway=debug
        CORS_ALLOWED_ORIGINS='https://a.example # not a comment'
        HOST=127.0.0.1 # a comment
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let environment = try Environment.load(dotEnvPath: path, processEnvironment: ["PORT": "4000", "CODEX_HOME": directory])
        #expect(environment["PORT"] == "4000", "real environment variables win")
        #expect(environment["GATEWAY_API_KEY"] == "from-file-key-cccccccccccccccccccccccc")
        #expect(environment["CORS_ALLOWED_ORIGINS"] == "https://a.example # not a comment")
        #expect(environment["HOST"] == "127.0.0.1")
        #expect(throws: ConfigurationError.self, "a quoted value keeps its '#'") { try GatewayConfiguration.load(environment: environment) }
        var fixed = environment.values
        fixed["CORS_ALLOWED_ORIGINS"] = nil
        let configuration = try GatewayConfiguration.load(environment: Environment(fixed))
        #expect(configuration.port == 4000)
        #expect(configuration.logLevel == .debug)
    }

    @Test func dotEnvErrorsNameTheLine() throws {
        #expect(throws: ConfigurationError.self) { try DotEnv.parse("GOOD=1\nthis line is wrong\n") }
        do {
            _ = try DotEnv.parse("GOOD=1\nbad line\n", file: ".env")
        } catch let error as ConfigurationError {
            #expect(error.source == ".env:2")
        }
    }

    @Test func theSeedConfigTomlIsRead() throws {
        let home = TemporaryDirectory.make()
        try """
        model = "gpt-4o"
        model_provider = "openai-chat-completions"

        [model_providers.openai-chat-completions]
        name = "OpenAI using Chat Completions"
        base_url = "https://api.openai.com/v1"
        env_key = "OPENAI_API_KEY"
        wire_api = "chat"
        query_params = {}
        """.write(toFile: home + "/config.toml", atomically: true, encoding: .utf8)
        let configuration = try GatewayConfiguration.load(environment: Environment(["CODEX_HOME": home]))
        #expect(configuration.codex.model == "gpt-4o")
        #expect(configuration.codex.modelProvider == "openai-chat-completions")
        let provider = configuration.codex.provider
        #expect(provider.name == "OpenAI using Chat Completions")
        #expect(provider.wireAPI == .chat)
        #expect(provider.envKey == "OPENAI_API_KEY")
        #expect(provider.requestMaxRetries == 4)
        #expect(provider.streamMaxRetries == 5)
        #expect(provider.streamIdleTimeoutMilliseconds == 300_000)
    }

    @Test func everyProviderFieldIsParsed() throws {
        let text = """
        model = "llama3"
        model_provider = "local"
        approval_policy = "never"   # a Codex CLI key, ignored here

        [model_providers.local]
        name = "Local vLLM"
        base_url = "http://127.0.0.1:8000/v1/"
        env_key = "LOCAL_KEY"
        env_key_instructions = "ask the admin"
        wire_api = "responses"
        query_params = { "api-version" = "2025-01-01" }
        http_headers = { "X-Team" = "agents" }
        env_http_headers = { "X-Org" = "ORG_ID" }
        request_max_retries = 2
        stream_max_retries = 1
        stream_idle_timeout_ms = 1500
        """
        let configuration = try CodexConfiguration.parse(text, path: "config.toml", environment: Environment([:]))
        let provider = configuration.provider
        #expect(provider.baseURL == "http://127.0.0.1:8000/v1")
        #expect(provider.envKeyInstructions == "ask the admin")
        #expect(provider.wireAPI == .responses)
        #expect(provider.queryParams == ["api-version": "2025-01-01"])
        #expect(provider.httpHeaders == ["X-Team": "agents"])
        #expect(provider.envHTTPHeaders == ["X-Org": "ORG_ID"])
        #expect(provider.requestMaxRetries == 2)
        #expect(provider.streamMaxRetries == 1)
        #expect(provider.streamIdleTimeoutMilliseconds == 1500)
        #expect(configuration.providers["oss"]?.baseURL == "http://localhost:11434/v1", "built-ins stay available")
    }

    @Test func providerErrorsNameTheKey() {
        func expectTOMLError(_ text: String, key: String, containing fragment: String) {
            #expect {
                _ = try CodexConfiguration.parse(text, path: "config.toml", environment: Environment([:]))
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.key == key && error.message.contains(fragment)
            }
        }
        expectTOMLError(#"model_provider = "nope""#, key: "model_provider", containing: "unknown provider 'nope'")
        expectTOMLError(
            "[model_providers.x]\nname = \"X\"\nbase_url = \"http://x\"\nwire_api = \"grpc\"",
            key: "model_providers.x.wire_api",
            containing: "\"chat\" or \"responses\""
        )
        expectTOMLError("[model_providers.x]\nname = \"X\"", key: "model_providers.x.base_url", containing: "required")
        expectTOMLError("[model_providers.x]\nname = \"X\"\nbase_url = \"ftp://x\"", key: "model_providers.x.base_url", containing: "http(s)")
        expectTOMLError(
            "[model_providers.x]\nname = \"X\"\nbase_url = \"http://x\"\nrequest_max_retries = \"4\"",
            key: "model_providers.x.request_max_retries",
            containing: "integer"
        )
        expectTOMLError("[model_providers.x]\nname = \"X\"\nbase_url = \"http://x\"\ncolour = \"red\"", key: "model_providers.x.colour", containing: "unknown")
        expectTOMLError("model = [1", key: "config.toml", containing: "invalid TOML")
    }

    @Test func aMissingProviderKeyIsReportedWhenNeededNamingTheVariable() throws {
        let provider = try #require(CodexConfiguration.builtInProviders["openai"])
        #expect(throws: MissingProviderKey.self) { try provider.apiKey(in: [:]) }
        do {
            _ = try provider.apiKey(in: ["OPENAI_API_KEY": "  "])
        } catch {
            // apiKey(in:) throws only MissingProviderKey (typed throws).
            #expect(error.variable == "OPENAI_API_KEY")
            #expect(error.description.contains("OPENAI_API_KEY"))
        }
        #expect(try provider.apiKey(in: ["OPENAI_API_KEY": "sk-test"]) == "sk-test")
        #expect(try CodexConfiguration.builtInProviders["oss"]?.apiKey(in: [:]) == nil)
    }
}
