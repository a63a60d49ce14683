import Foundation
import ModelProvider
import Logging

/// Everything the gateway reads at startup, validated.
///
/// Sources, in order of precedence: the process environment, a `.env` file in the working
/// directory, then `$CODEX_HOME/config.toml` for the model and its providers. Every key is
/// documented in README.md ("Configuration").
public struct GatewayConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The URL clients and ChatGPT reach the gateway at; `servers[0].url` of the served documents.
    public var publicBaseURL: String
    /// Plain-text keys from `GATEWAY_API_KEY`. Hashed into the key store at startup and not kept.
    public var apiKeys: [String]
    public var oauthClientID: String?
    public var oauthClientSecret: String?
    public var oauthAutoApprove: Bool
    /// `OAUTH_REDIRECT_URIS`: exact redirect URIs registered for the configured client.
    public var oauthRedirectURIs: [String]
    /// The authorization server's settings (lifetimes, ChatGPT callbacks, auto-approval).
    public var oauthSettings: OAuthService.Settings
    public var codexHome: String
    public var corsAllowedOrigins: CORSPolicy
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// Request body limit for operations that do not set their own (`x-body-limit`).
    public var defaultBodyLimit: Int
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    public var shutdownGracePeriod: Duration
    public var codex: CodexConfiguration
    /// `LOG_USER_PROMPTS`: include prompt text in `codex.user_prompt` log events.
    public var logUserPrompts: Bool
    /// The SQLite file (`DATABASE_PATH`, default `$CODEX_HOME/gateway.sqlite3`).
    public var databasePath: String
    /// `DATABASE_URL`: PostgreSQL for every store instead of the SQLite file (several replicas).
    public var databaseURL: DatabaseURL?
    /// `WEBHOOK_LEASE_SECONDS`: how long a replica holds a webhook delivery it runs without
    /// renewing it; another replica takes it over once the lease runs out.
    public var webhookLease: Duration = .seconds(30)
    /// `REPLICA_URL`: this replica's address for the others; nil with a single gateway.
    public var replicaURL: String?
    /// `WEBHOOK_SECRET`: when set, webhooks must carry a valid `X-Hub-Signature-256`.
    public var webhookSecret: String?
    public var webhookCallbackMaxAttempts: Int
    public var webhookCallbackRetrySeconds: Double
    /// `WS_IDLE_TIMEOUT_SECONDS`: a `/ws` connection that sends nothing and runs no turn this long is closed.
    public var webSocketIdleTimeout: Duration
    /// The merged environment, for provider keys (`env_key`) and headers (`env_http_headers`).
    public var environment: [String: String]
    /// The agent engine: which one runs turns and why, workspaces, sandbox, approvals, turn limits.
    public var agent: AgentConfiguration
    /// `RATE_LIMIT_PER_MINUTE`, `_PER_HOUR`, `_PER_DAY`, `RATE_LIMIT_CONCURRENT_TURNS`: every
    /// principal's limits unless its key overrides them; 0 is unlimited.
    public var rateLimits: RateLimits = .defaults
    /// `TOKEN_BUDGET_PER_DAY` / `TOKEN_BUDGET_PER_MONTH`: the token budgets of the keys from
    /// `GATEWAY_API_KEY` that have none set with `codex-gateway keys budget`; 0 for none.
    public var tokenBudgetPerDay = 0
    public var tokenBudgetPerMonth = 0
    /// `UPSTREAM_MAX_CONNECTIONS`: connections to the model provider at once (each running turn
    /// or relayed stream holds one); requests beyond wait for one to free up.
    public var upstreamMaxConnections: Int = 1024
    /// `SSL_CERT_FILE`, `SSL_CERT_DIR`: certificates an `https://` provider is verified against,
    /// besides the system's store.
    public var providerTrust = ProviderTrust()
    /// `UPSTREAM_RETRY_BUDGET_SECONDS`: no retry of a model request (by the transport or of the
    /// whole turn) starts later than this after the turn or relayed request began.
    public var upstreamRetryBudget: Duration = .seconds(30)
    /// `AUTH_FAILURE_BUDGET_PER_MINUTE`: failed credential attempts a source address or an OAuth
    /// client id may make before it is refused with 429; 0 turns the throttle off.
    public var authFailureBudgetPerMinute: Int = 20
    /// `CONVERSATION_CACHE_BYTES`: the conversations kept parsed in memory, least recently used
    /// first out, as an estimate of their text's bytes.
    public var conversationCacheBytes: Int = 64 << 20
    /// `JSONRPC_MAX_BATCH`: the most requests one JSON-RPC batch may hold; a bigger batch is one
    /// `-32600` error.
    public var jsonRPCMaxBatch: Int = 50
    /// `MCP_MAX_SESSIONS`: the most MCP sessions (2025-06-18, 2025-11-25) open at once; an
    /// `initialize` past it is refused with 503 until one ends or expires.
    public var mcpMaxSessions: Int = 1000
    /// `MCP_SESSION_IDLE_SECONDS`: an MCP session unused this long, with no tool call running, is
    /// forgotten (its id then answers 404).
    public var mcpSessionIdleTimeout: Duration = .seconds(3600)
    /// `JSONRPC_MAX_RESPONSE_BYTES`: the most bytes of results one JSON-RPC answer (a batch's
    /// together) may carry; entries past it get a `-32007` error instead of their result.
    public var jsonRPCMaxResponseBytes: Int = 4 << 20
    /// `WS_CREDENTIAL_CHECK_SECONDS`: how often each open `/ws` connection checks that its key or
    /// token is still valid (not revoked, not expired); it is closed with 1008 when not.
    public var webSocketCredentialCheckInterval: Duration = .seconds(5)
    /// `HTTP_HEADER_TIMEOUT_SECONDS`, `HTTP_BODY_TIMEOUT_SECONDS`, `HTTP_IDLE_TIMEOUT_SECONDS`: how
    /// long a client may take to send a request head, then its body, and how long a keep-alive
    /// connection may sit silent (``HTTPTimeouts``).
    public var httpTimeouts: HTTPTimeouts = .defaults
    /// `OUTBOUND_ALLOW_PRIVATE`: URLs fetched for a caller (webhook callbacks) may reach loopback,
    /// private and link-local addresses (``OutboundPolicy``).
    public var outboundAllowPrivate: Bool = false
    /// `WEBHOOK_TOLERANCE_SECONDS`: how far a signed webhook's `X-Webhook-Timestamp` may be from now.
    public var webhookTolerance: Duration = .seconds(300)
    /// `WEBHOOK_CALLBACK_CONCURRENCY`, `WEBHOOK_CALLBACK_PER_HOST`: callbacks POSTed at once, in all
    /// and to one host.
    public var webhookCallbackConcurrency: Int = 16
    public var webhookCallbackPerHost: Int = 2
    /// `OAUTH_REGISTRATIONS_PER_MINUTE`: dynamic client registrations one source address may make
    /// in a burst, then one per `60 / n` seconds; 0 is unlimited.
    public var oauthRegistrationsPerMinute: Int = 10
    /// `OAUTH_CLIENT_METADATA_DOCUMENTS`, `OAUTH_CLIENT_METADATA_TIMEOUT_SECONDS`,
    /// `OAUTH_CLIENT_METADATA_CACHE_SECONDS`: https `client_id`s and how their documents are fetched.
    public var clientMetadataDocuments = ClientMetadataDocumentClient.Settings()

    public func environmentValue(_ name: String) -> String? { environment[name] }

    public enum LogFormat: String, Sendable {
        case json, text
    }

    /// Allowed browser origins for CORS.
    public enum CORSPolicy: Sendable, Equatable {
        /// `*`: any origin, never with credentials.
        case anyOrigin
        case origins([String])
    }

    public static let defaultCORSOrigins = ["https://chat.openai.com", "https://chatgpt.com"]

    /// Reads and validates the configuration; every error names the variable or key at fault.
    public static func load(environment: Environment) throws -> GatewayConfiguration {
        let host = environment.nonEmpty("HOST") ?? "0.0.0.0"

        var port = 8080
        if let raw = environment.nonEmpty("PORT") {
            guard let value = Int(raw), (0...65535).contains(value) else {
                throw environment.error("PORT", "expected a port number from 0 to 65535, found '\(raw)'")
            }
            port = value
        }

        var publicBaseURL = "http://localhost:\(port)"
        if let raw = environment.nonEmpty("PUBLIC_BASE_URL") {
            publicBaseURL = try validateBaseURL(raw, environment: environment)
        }

        let apiKeys = (environment["GATEWAY_API_KEY"] ?? "")
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        try validateAPIKeys(apiKeys, environment: environment)

        let clientID = environment.nonEmpty("OAUTH_CLIENT_ID")
        let clientSecret = environment.nonEmpty("OAUTH_CLIENT_SECRET")
        if (clientID == nil) != (clientSecret == nil) {
            let missing = clientID == nil ? "OAUTH_CLIENT_ID" : "OAUTH_CLIENT_SECRET"
            throw environment.error(missing, "OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET must be set together")
        }

        let autoApprove = try bool("OAUTH_AUTO_APPROVE", environment: environment) ?? false
        let redirectURIs = (environment["OAUTH_REDIRECT_URIS"] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for uri in redirectURIs {
            guard let components = URLComponents(string: uri), components.scheme != nil, components.host != nil, components.fragment == nil else {
                throw environment.error("OAUTH_REDIRECT_URIS", "'\(uri)' is not an absolute URI without a fragment")
            }
        }
        func seconds(_ key: String, _ fallback: Int) throws -> Duration {
            guard let raw = environment.nonEmpty(key) else { return .seconds(fallback) }
            guard let value = Int(raw), value > 0 else { throw environment.error(key, "expected a positive number of seconds, found '\(raw)'") }
            return .seconds(value)
        }

        let codexHome = environment.nonEmpty("CODEX_HOME").map(expandTilde) ?? expandTilde("~/.codex")

        var cors = CORSPolicy.origins(defaultCORSOrigins)
        if let raw = environment["CORS_ALLOWED_ORIGINS"] {
            cors = try parseCORS(raw, environment: environment)
        }

        let logLevel = try parseLogLevel(environment: environment)
        var logFormat = LogFormat.json
        if let raw = environment.nonEmpty("LOG_FORMAT") {
            guard let format = LogFormat(rawValue: raw.lowercased()) else {
                throw environment.error("LOG_FORMAT", "expected 'json' or 'text', found '\(raw)'")
            }
            logFormat = format
        }

        var bodyLimit = 1 << 20
        if let raw = environment.nonEmpty("BODY_LIMIT_BYTES") {
            guard let value = Int(raw), value > 0 else {
                throw environment.error("BODY_LIMIT_BYTES", "expected a positive number of bytes, found '\(raw)'")
            }
            bodyLimit = value
        }

        var grace = Duration.seconds(10)
        if let raw = environment.nonEmpty("SHUTDOWN_GRACE_SECONDS") {
            guard let value = Double(raw), value >= 0, value.isFinite else {
                throw environment.error("SHUTDOWN_GRACE_SECONDS", "expected a number of seconds, found '\(raw)'")
            }
            grace = .milliseconds(Int(value * 1000))
        }

        var oauthSettings = OAuthService.Settings(issuer: publicBaseURL)
        oauthSettings.autoApprove = autoApprove
        oauthSettings.allowChatGPTCallbacks = try bool("OAUTH_ALLOW_CHATGPT_CALLBACKS", environment: environment) ?? true
        oauthSettings.codeLifetime = try seconds("OAUTH_CODE_TTL_SECONDS", 600)
        oauthSettings.accessTokenLifetime = try seconds("OAUTH_ACCESS_TOKEN_TTL_SECONDS", 3600)
        oauthSettings.refreshTokenLifetime = try seconds("OAUTH_REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)
        oauthSettings.refreshGrace = try seconds("OAUTH_REFRESH_GRACE_SECONDS", 60)

        let codex = try CodexConfiguration.load(codexHome: codexHome, environment: environment)
        let logUserPrompts = try bool("LOG_USER_PROMPTS", environment: environment) ?? false
        let databasePath = environment.nonEmpty("DATABASE_PATH").map(expandTilde) ?? (codexHome as NSString).appendingPathComponent("gateway.sqlite3")
        var callbackAttempts = 5
        if let raw = environment.nonEmpty("WEBHOOK_CALLBACK_MAX_ATTEMPTS") {
            guard let value = Int(raw), (1...100).contains(value) else {
                throw environment.error("WEBHOOK_CALLBACK_MAX_ATTEMPTS", "expected a number of attempts from 1 to 100, found '\(raw)'")
            }
            callbackAttempts = value
        }
        var callbackRetry = 2.0
        if let raw = environment.nonEmpty("WEBHOOK_CALLBACK_RETRY_SECONDS") {
            guard let value = Double(raw), value > 0, value.isFinite else {
                throw environment.error("WEBHOOK_CALLBACK_RETRY_SECONDS", "expected a positive number of seconds, found '\(raw)'")
            }
            callbackRetry = value
        }

        var webSocketIdleTimeout = Duration.seconds(300)
        if let raw = environment.nonEmpty("WS_IDLE_TIMEOUT_SECONDS") {
            guard let value = Double(raw), value > 0, value.isFinite else {
                throw environment.error("WS_IDLE_TIMEOUT_SECONDS", "expected a positive number of seconds, found '\(raw)'")
            }
            webSocketIdleTimeout = .milliseconds(Int(value * 1000))
        }

        var rateLimits = RateLimits.defaults
        for (key, keyPath) in [
            ("RATE_LIMIT_PER_MINUTE", \RateLimits.perMinute), ("RATE_LIMIT_PER_HOUR", \.perHour), ("RATE_LIMIT_PER_DAY", \.perDay),
            ("RATE_LIMIT_CONCURRENT_TURNS", \.concurrentTurns),
        ] {
            guard let raw = environment.nonEmpty(key) else { continue }
            guard let value = Int(raw), value >= 0 else {
                throw environment.error(key, "expected a whole number, 0 for unlimited, found '\(raw)'")
            }
            rateLimits[keyPath: keyPath] = value
        }

        var configuration = GatewayConfiguration(
            host: host,
            port: port,
            publicBaseURL: publicBaseURL,
            apiKeys: apiKeys,
            oauthClientID: clientID,
            oauthClientSecret: clientSecret,
            oauthAutoApprove: autoApprove,
            oauthRedirectURIs: redirectURIs,
            oauthSettings: oauthSettings,
            codexHome: codexHome,
            corsAllowedOrigins: cors,
            logLevel: logLevel,
            logFormat: logFormat,
            defaultBodyLimit: bodyLimit,
            shutdownGracePeriod: grace,
            codex: codex,
            logUserPrompts: logUserPrompts,
            databasePath: databasePath,
            webhookSecret: environment.nonEmpty("WEBHOOK_SECRET"),
            webhookCallbackMaxAttempts: callbackAttempts,
            webhookCallbackRetrySeconds: callbackRetry,
            webSocketIdleTimeout: webSocketIdleTimeout,
            environment: environment.values,
            agent: try loadAgent(environment: environment, codexHome: codexHome, codex: codex)
        )
        configuration.rateLimits = rateLimits
        if let raw = environment.nonEmpty("UPSTREAM_MAX_CONNECTIONS") {
            guard let value = Int(raw), value >= 1 else {
                throw environment.error("UPSTREAM_MAX_CONNECTIONS", "expected a number of connections, 1 or more, found '\(raw)'")
            }
            configuration.upstreamMaxConnections = value
        }
        do {
            configuration.providerTrust = try ProviderTrust(environment: environment.values)
        } catch {
            throw environment.error(error.variable, "\(error.reason) ('\(error.path)'); it should name PEM certificates to trust for an https model provider")
        }
        try configuration.loadLimits(environment: environment)
        try configuration.loadDatabase(environment: environment)
        try configuration.loadReplica(environment: environment)
        try configuration.loadOAuthClients(environment: environment)
        return configuration
    }

    static func bool(_ key: String, environment: Environment) throws -> Bool? {
        guard let raw = environment.nonEmpty(key) else { return nil }
        switch raw.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw environment.error(key, "expected true or false, found '\(raw)'")
        }
    }

    /// An absolute http(s) URL without query or fragment; a trailing slash is dropped.
    static func validateBaseURL(_ raw: String, environment: Environment) throws -> String {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw environment.error("PUBLIC_BASE_URL", "expected an absolute http(s) URL such as https://gateway.example.com, found '\(raw)'")
        }
        guard components.query == nil, components.fragment == nil else {
            throw environment.error("PUBLIC_BASE_URL", "must not have a query or fragment")
        }
        guard !raw.contains(where: { $0 == "\"" || $0 == "\\" || $0.isWhitespace }) else {
            throw environment.error("PUBLIC_BASE_URL", "must not contain quotes, backslashes or spaces")
        }
        var url = raw
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    static func parseCORS(_ raw: String, environment: Environment) throws -> CORSPolicy {
        let entries = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if entries == ["*"] { return .anyOrigin }
        if entries.contains("*") {
            throw environment.error("CORS_ALLOWED_ORIGINS", "'*' cannot be combined with named origins")
        }
        for origin in entries {
            guard let components = URLComponents(string: origin), let scheme = components.scheme, scheme == "http" || scheme == "https",
                components.host != nil, components.path.isEmpty, components.query == nil
            else {
                throw environment.error("CORS_ALLOWED_ORIGINS", "'\(origin)' is not an origin (scheme://host[:port], no path)")
            }
        }
        return .origins(entries.map { $0.lowercased() })
    }

    /// `LOG_LEVEL`, else the level `RUST_LOG` gives this program (`info,codex_gateway=debug` → debug).
    static func parseLogLevel(environment: Environment) throws -> Logger.Level {
        if let raw = environment.nonEmpty("LOG_LEVEL") {
            guard let level = level(named: raw) else {
                throw environment.error("LOG_LEVEL", "expected trace, debug, info, notice, warning, error or critical, found '\(raw)'")
            }
            return level
        }
        guard let raw = environment.nonEmpty("RUST_LOG") else { return .info }
        var general: Logger.Level?
        var specific: Logger.Level?
        for directive in raw.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if let equals = directive.firstIndex(of: "=") {
                let target = directive[..<equals]
                if target == "codex_gateway" || target == "codex-gateway" {
                    specific = level(named: String(directive[directive.index(after: equals)...]))
                }
            } else if let level = level(named: directive) {
                general = level
            }
        }
        return specific ?? general ?? .info
    }

    static func level(named name: String) -> Logger.Level? {
        switch name.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info": .info
        case "notice": .notice
        case "warn", "warning": .warning
        case "error": .error
        case "critical", "off": .critical
        default: nil
        }
    }

    static func expandTilde(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}
