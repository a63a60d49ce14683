import CodexAppServer
import Foundation
import ModelProvider
import TOMLKit

/// What `codex-gateway config` prints: every setting of README.md's configuration tables with its
/// effective value and where that came from (`environment`, the `.env` file, `config.toml`, `default`).
/// Secrets are never shown: a set one reads `set (1 value)`.
public struct ConfigurationReport: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: String
        public var source: String
    }

    /// A variable of README.md's "Environment variables" table: its default as shown there, and
    /// whether its value is a secret.
    struct Variable {
        var name: String
        var fallback: String
        var secret = false
    }

    /// README.md's "Environment variables" table, in its order (`ConfigurationReportTests` keeps the two equal).
    /// The provider's key variable (`env_key`) is added after them, with the provider's actual name.
    static let variables: [Variable] = [
        Variable(name: "PORT", fallback: "8080"),
        Variable(name: "HOST", fallback: "0.0.0.0"),
        Variable(name: "PUBLIC_BASE_URL", fallback: "http://localhost:$PORT"),
        Variable(name: "GATEWAY_API_KEY", fallback: "unset", secret: true),
        Variable(name: "OAUTH_CLIENT_ID", fallback: "unset"),
        Variable(name: "OAUTH_CLIENT_SECRET", fallback: "unset", secret: true),
        Variable(name: "OAUTH_AUTO_APPROVE", fallback: "false"),
        Variable(name: "CODEX_HOME", fallback: "~/.codex"),
        Variable(name: "CORS_ALLOWED_ORIGINS", fallback: GatewayConfiguration.defaultCORSOrigins.joined(separator: ",")),
        Variable(name: "LOG_LEVEL", fallback: "info"),
        Variable(name: "RUST_LOG", fallback: "unset"),
        Variable(name: "LOG_FORMAT", fallback: "json"),
        Variable(name: "BODY_LIMIT_BYTES", fallback: "1048576"),
        Variable(name: "SHUTDOWN_GRACE_SECONDS", fallback: "10"),
        Variable(name: "LOG_USER_PROMPTS", fallback: "false"),
        Variable(name: "DATABASE_PATH", fallback: "$CODEX_HOME/gateway.sqlite3"),
        Variable(name: "DATABASE_URL", fallback: "unset (SQLite at DATABASE_PATH)"),
        Variable(name: "WEBHOOK_LEASE_SECONDS", fallback: "30"),
        Variable(name: "REPLICA_URL", fallback: "unset (one gateway: conversations are not forwarded)"),
        Variable(name: "WEBHOOK_SECRET", fallback: "unset", secret: true),
        Variable(name: "WEBHOOK_CALLBACK_MAX_ATTEMPTS", fallback: "5"),
        Variable(name: "WEBHOOK_CALLBACK_RETRY_SECONDS", fallback: "2"),
        Variable(name: "OAUTH_REDIRECT_URIS", fallback: "unset"),
        Variable(name: "OAUTH_ALLOW_CHATGPT_CALLBACKS", fallback: "true"),
        Variable(name: "OAUTH_CODE_TTL_SECONDS", fallback: "600"),
        Variable(name: "OAUTH_ACCESS_TOKEN_TTL_SECONDS", fallback: "3600"),
        Variable(name: "OAUTH_REFRESH_TOKEN_TTL_SECONDS", fallback: "2592000"),
        Variable(name: "OAUTH_REFRESH_GRACE_SECONDS", fallback: "60"),
        Variable(name: "OAUTH_REGISTRATIONS_PER_MINUTE", fallback: "10"),
        Variable(name: "OAUTH_CLIENT_METADATA_DOCUMENTS", fallback: "true"),
        Variable(name: "OAUTH_CLIENT_METADATA_TIMEOUT_SECONDS", fallback: "5"),
        Variable(name: "OAUTH_CLIENT_METADATA_CACHE_SECONDS", fallback: "300"),
        Variable(name: "WS_IDLE_TIMEOUT_SECONDS", fallback: "300"),
        Variable(name: "RATE_LIMIT_PER_MINUTE", fallback: "100"),
        Variable(name: "RATE_LIMIT_PER_HOUR", fallback: "1000"),
        Variable(name: "RATE_LIMIT_PER_DAY", fallback: "10000"),
        Variable(name: "RATE_LIMIT_CONCURRENT_TURNS", fallback: "8"),
        Variable(name: "TOKEN_BUDGET_PER_DAY", fallback: "0"),
        Variable(name: "TOKEN_BUDGET_PER_MONTH", fallback: "0"),
        Variable(name: "UPSTREAM_MAX_CONNECTIONS", fallback: "1024"),
        Variable(name: "SSL_CERT_FILE", fallback: "(system store only)"),
        Variable(name: "SSL_CERT_DIR", fallback: "(system store only)"),
        Variable(name: "UPSTREAM_RETRY_BUDGET_SECONDS", fallback: "30"),
        Variable(name: "AUTH_FAILURE_BUDGET_PER_MINUTE", fallback: "20"),
        Variable(name: "CONVERSATION_CACHE_BYTES", fallback: "67108864"),
        Variable(name: "JSONRPC_MAX_BATCH", fallback: "50"),
        Variable(name: "JSONRPC_MAX_RESPONSE_BYTES", fallback: "4194304"),
        Variable(name: "MCP_MAX_SESSIONS", fallback: "1000"),
        Variable(name: "MCP_SESSION_IDLE_SECONDS", fallback: "3600"),
        Variable(name: "WS_CREDENTIAL_CHECK_SECONDS", fallback: "5"),
        Variable(name: "HTTP_HEADER_TIMEOUT_SECONDS", fallback: "10"),
        Variable(name: "HTTP_BODY_TIMEOUT_SECONDS", fallback: "60"),
        Variable(name: "HTTP_IDLE_TIMEOUT_SECONDS", fallback: "75"),
        Variable(name: "OUTBOUND_ALLOW_PRIVATE", fallback: "false"),
        Variable(name: "WEBHOOK_TOLERANCE_SECONDS", fallback: "300"),
        Variable(name: "WEBHOOK_CALLBACK_CONCURRENCY", fallback: "16"),
        Variable(name: "WEBHOOK_CALLBACK_PER_HOST", fallback: "2"),
        Variable(name: "OTEL_EXPORTER_OTLP_ENDPOINT", fallback: "unset"),
        Variable(name: "GATEWAY_ENGINE", fallback: "codex when a Codex binary is found, else chat"),
        Variable(name: "CODEX_BIN", fallback: "codex on PATH"),
        Variable(name: "WORKSPACES_ROOT", fallback: "$CODEX_HOME/workspaces"),
        Variable(name: "GATEWAY_MAX_SANDBOX", fallback: "workspace-write"),
        Variable(name: "APPROVAL_TIMEOUT_SECONDS", fallback: "600"),
        Variable(name: "MAX_CONCURRENT_TURNS", fallback: "32"),
        Variable(name: "TURN_TIMEOUT_SECONDS", fallback: "1800"),
        Variable(name: "GPT_TURN_WAIT_SECONDS", fallback: "40"),
        Variable(name: "ENGINE_MAX_LOADED_THREADS", fallback: "64"),
        Variable(name: "ENGINE_IDLE_RECYCLE_SECONDS", fallback: "900"),
    ]

    /// The names of ``variables``, for the README check.
    public static var variableNames: [String] { variables.map(\.name) }

    public var entries: [Entry]

    public init(configuration: GatewayConfiguration, environment: Environment) {
        var entries: [Entry] = []
        // Defaults that follow from other settings are shown resolved.
        let derived = [
            "PUBLIC_BASE_URL": configuration.publicBaseURL, "CODEX_HOME": configuration.codexHome,
            "DATABASE_PATH": configuration.databasePath,
            "GATEWAY_ENGINE": "\(configuration.agent.engine.rawValue) (\(configuration.agent.engineReason))",
            "CODEX_BIN": configuration.agent.codexBinary.map { "\($0.path) (on PATH)" } ?? "unset (no codex on PATH)",
            "WORKSPACES_ROOT": configuration.agent.workspacesRoot,
        ]
        var variables = Self.variables
        if let envKey = configuration.codex.provider.envKey {
            variables.append(Variable(name: envKey, fallback: "unset", secret: true))
        }
        for variable in variables {
            guard let raw = environment.nonEmpty(variable.name) else {
                entries.append(Entry(name: variable.name, value: derived[variable.name] ?? variable.fallback, source: "default"))
                continue
            }
            // DATABASE_URL is shown parsed, its password replaced by ***.
            let value = variable.secret ? Self.masked(raw) : variable.name == "DATABASE_URL" ? configuration.databaseURL?.redacted ?? "" : raw
            entries.append(Entry(name: variable.name, value: value, source: environment.source(of: variable.name)))
        }
        entries += Self.codexEntries(configuration.codex)
        self.entries = entries
    }

    /// `set (N values)`: nothing derived from the secret. (Key fingerprints need the installation's
    /// salt, in the database, which printing the configuration does not open: `keys list` shows them.)
    static func masked(_ secret: String) -> String {
        let count = secret.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.count
        return "set (\(count) \(count == 1 ? "value" : "values"))"
    }

    /// The model, its provider and the agent's defaults, from `config.toml` when the file sets them, else the built-in defaults.
    static func codexEntries(_ codex: CodexConfiguration) -> [Entry] {
        var inFile: Set<String> = []
        if let path = codex.path, let text = try? String(contentsOfFile: path, encoding: .utf8), let table = try? TOMLTable(string: text) {
            inFile = Set(table.keys)
            if let providers = table["model_providers"]?.table, providers[codex.modelProvider] != nil { inFile.insert("provider") }
        }
        func source(_ key: String) -> String { inFile.contains(key) ? (codex.path ?? "default") : "default" }
        let provider = codex.provider
        let prefix = "model_providers.\(codex.modelProvider)"
        return [
            Entry(name: "model", value: codex.model, source: source("model")),
            Entry(name: "model_provider", value: codex.modelProvider, source: source("model_provider")),
            Entry(name: "\(prefix).base_url", value: provider.baseURL, source: source("provider")),
            Entry(name: "\(prefix).wire_api", value: provider.wireAPI.rawValue, source: source("provider")),
            Entry(name: "\(prefix).env_key", value: provider.envKey ?? "none", source: source("provider")),
            Entry(name: "sandbox_mode", value: codex.sandboxMode.rawValue, source: source("sandbox_mode")),
            Entry(name: "approval_policy", value: codex.approvalPolicy.rawValue, source: source("approval_policy")),
        ]
    }

    /// One aligned line per entry: name, value, source in brackets.
    public var text: String {
        let nameWidth = entries.map(\.name.count).max() ?? 0
        let valueWidth = min(entries.map(\.value.count).max() ?? 0, 60)
        return entries.map { entry in
            let name = entry.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let value = entry.value.count < valueWidth ? entry.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0) : entry.value
            return "\(name)  \(value)  [\(entry.source)]"
        }.joined(separator: "\n") + "\n"
    }
}
