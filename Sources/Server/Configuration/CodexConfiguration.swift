import Foundation
import ModelProvider
import TOMLKit

/// The model and provider settings of `$CODEX_HOME/config.toml`, as Codex defines them.
///
/// Besides them, the agent's defaults `sandbox_mode` and `approval_policy`. Other keys of a Codex
/// config file (profiles, MCP servers…) belong to the Codex CLI and are ignored here, so one file
/// can serve both.
public struct CodexConfiguration: Sendable {
    public var model: String
    /// The key of the provider in use, in ``providers``.
    public var modelProvider: String
    /// Built-in providers plus those of the file (which override built-ins of the same key).
    public var providers: [String: ModelProviderInfo]
    /// Where the file was read from, or nil when there was none.
    public var path: String?
    /// `sandbox_mode`: the sandbox of a turn that names none (still capped by `GATEWAY_MAX_SANDBOX`).
    public var sandboxMode: SandboxMode = .workspaceWrite
    /// `approval_policy`: the approval policy of a turn that names none.
    public var approvalPolicy: ApprovalPolicy = .onRequest

    public static let defaultModel = "gpt-4o"
    public static let defaultProvider = "openai"

    /// The provider ``modelProvider`` names (validated at load time to exist).
    public var provider: ModelProviderInfo { providers[modelProvider]! }

    public static var builtInProviders: [String: ModelProviderInfo] {
        [
            "openai": ModelProviderInfo(
                name: "OpenAI",
                baseURL: "https://api.openai.com/v1",
                envKey: "OPENAI_API_KEY",
                envKeyInstructions: "Create an API key at https://platform.openai.com/api-keys and set OPENAI_API_KEY.",
                wireAPI: .responses
            ),
            "oss": ModelProviderInfo(
                name: "Open Source (Ollama)",
                baseURL: "http://localhost:11434/v1",
                envKey: nil,
                wireAPI: .chat
            ),
        ]
    }

    /// Reads `codexHome/config.toml` if it exists; built-in defaults otherwise.
    public static func load(codexHome: String, environment: Environment) throws -> CodexConfiguration {
        let path = (codexHome as NSString).appendingPathComponent("config.toml")
        guard FileManager.default.fileExists(atPath: path) else {
            return CodexConfiguration(model: defaultModel, modelProvider: defaultProvider, providers: builtInProviders, path: nil)
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(source: path, key: "config.toml", message: "cannot be read: \(error.localizedDescription)")
        }
        return try parse(text, path: path, environment: environment)
    }

    public static func parse(_ text: String, path: String, environment: Environment) throws -> CodexConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                source: "\(path):\(error.source.begin.line):\(error.source.begin.column)",
                key: "config.toml",
                message: "invalid TOML: \(error.description)"
            )
        }
        var reader = TOMLReader(path: path)
        let model = try reader.string(table, "model") ?? defaultModel
        guard !model.isEmpty else { throw reader.error("model", "must not be empty") }
        let modelProvider = try reader.string(table, "model_provider") ?? defaultProvider

        var providers = builtInProviders
        if let value = table["model_providers"] {
            guard let providerTables = value.table else { throw reader.error("model_providers", "expected a table") }
            for key in providerTables.keys.sorted() {
                guard let providerTable = providerTables[key]?.table else {
                    throw reader.error("model_providers.\(key)", "expected a table")
                }
                providers[key] = try ModelProviderInfo.parse(providerTable, key: "model_providers.\(key)", reader: &reader)
            }
        }
        guard providers[modelProvider] != nil else {
            throw reader.error(
                "model_provider",
                "unknown provider '\(modelProvider)' (known: \(providers.keys.sorted().joined(separator: ", "))); define it under [model_providers.\(modelProvider)]"
            )
        }
        var configuration = CodexConfiguration(model: model, modelProvider: modelProvider, providers: providers, path: path)
        if let raw = try reader.string(table, "sandbox_mode") {
            guard let mode = SandboxMode(rawValue: raw) else {
                throw reader.error("sandbox_mode", "expected \(SandboxMode.wireChoices), found '\(raw)'")
            }
            configuration.sandboxMode = mode
        }
        if let raw = try reader.string(table, "approval_policy") {
            guard let policy = ApprovalPolicy(rawValue: raw) else {
                throw reader.error("approval_policy", "expected \(ApprovalPolicy.wireChoices), found '\(raw)'")
            }
            configuration.approvalPolicy = policy
        }
        return configuration
    }
}

extension ModelProviderInfo {
    static let knownKeys: Set<String> = [
        "name", "base_url", "env_key", "env_key_instructions", "wire_api", "query_params", "http_headers", "env_http_headers",
        "request_max_retries", "stream_max_retries", "stream_idle_timeout_ms",
        // Codex CLI settings with no meaning for the gateway; accepted so one file serves both.
        "requires_openai_auth",
    ]

    static func parse(_ table: TOMLTable, key prefix: String, reader: inout TOMLReader) throws -> ModelProviderInfo {
        for key in table.keys where !knownKeys.contains(key) {
            throw reader.error("\(prefix).\(key)", "unknown provider setting (known: \(knownKeys.sorted().joined(separator: ", ")))")
        }
        guard let name = try reader.string(table, "name", prefix: prefix) else {
            throw reader.error("\(prefix).name", "is required")
        }
        guard let baseURL = try reader.string(table, "base_url", prefix: prefix) else {
            throw reader.error("\(prefix).base_url", "is required")
        }
        guard let components = URLComponents(string: baseURL), let scheme = components.scheme, scheme == "http" || scheme == "https",
            components.host?.isEmpty == false
        else {
            throw reader.error("\(prefix).base_url", "expected an absolute http(s) URL, found '\(baseURL)'")
        }
        var wireAPI = WireAPI.chat
        if let raw = try reader.string(table, "wire_api", prefix: prefix) {
            guard let value = WireAPI(rawValue: raw) else {
                throw reader.error("\(prefix).wire_api", "expected \"chat\" or \"responses\", found \"\(raw)\"")
            }
            wireAPI = value
        }
        let envKey = try reader.string(table, "env_key", prefix: prefix)
        if let envKey, envKey.isEmpty || envKey.contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
            throw reader.error("\(prefix).env_key", "expected an environment variable name, found '\(envKey)'")
        }
        let envHTTPHeaders = try reader.stringTable(table, "env_http_headers", prefix: prefix)
        var baseURLTrimmed = baseURL
        while baseURLTrimmed.hasSuffix("/") { baseURLTrimmed.removeLast() }
        return ModelProviderInfo(
            name: name,
            baseURL: baseURLTrimmed,
            envKey: envKey,
            envKeyInstructions: try reader.string(table, "env_key_instructions", prefix: prefix),
            wireAPI: wireAPI,
            queryParams: try reader.stringTable(table, "query_params", prefix: prefix),
            httpHeaders: try reader.stringTable(table, "http_headers", prefix: prefix),
            envHTTPHeaders: envHTTPHeaders,
            requestMaxRetries: try reader.int(table, "request_max_retries", prefix: prefix, range: 0...100) ?? 4,
            streamMaxRetries: try reader.int(table, "stream_max_retries", prefix: prefix, range: 0...100) ?? 5,
            streamIdleTimeoutMilliseconds: try reader.int(table, "stream_idle_timeout_ms", prefix: prefix, range: 1...86_400_000) ?? 300_000
        )
    }
}

/// Typed reads from a TOML table with errors that name the full key.
struct TOMLReader {
    var path: String

    func error(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(source: path, key: key, message: message)
    }

    private func name(_ key: String, _ prefix: String?) -> String {
        prefix.map { "\($0).\(key)" } ?? key
    }

    func string(_ table: TOMLTable, _ key: String, prefix: String? = nil) throws -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw error(name(key, prefix), "expected a string, found \(value.type)") }
        return string
    }

    func int(_ table: TOMLTable, _ key: String, prefix: String? = nil, range: ClosedRange<Int>) throws -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else { throw error(name(key, prefix), "expected an integer, found \(value.type)") }
        guard range.contains(int) else {
            throw error(name(key, prefix), "expected a value from \(range.lowerBound) to \(range.upperBound), found \(int)")
        }
        return int
    }

    func stringTable(_ table: TOMLTable, _ key: String, prefix: String? = nil) throws -> [String: String] {
        guard let value = table[key] else { return [:] }
        guard let nested = value.table else { throw error(name(key, prefix), "expected a table of strings, found \(value.type)") }
        var result: [String: String] = [:]
        for nestedKey in nested.keys {
            guard let string = nested[nestedKey]?.string else {
                throw error("\(name(key, prefix)).\(nestedKey)", "expected a string")
            }
            result[nestedKey] = string
        }
        return result
    }
}
