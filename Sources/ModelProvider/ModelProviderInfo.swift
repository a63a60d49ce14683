import Foundation

/// One `[model_providers.<id>]` entry (Codex's `ModelProviderInfo`).
public struct ModelProviderInfo: Sendable, Equatable {
    public enum WireAPI: String, Sendable {
        /// `POST {base_url}/chat/completions`.
        case chat
        /// `POST {base_url}/responses`.
        case responses
    }

    public var name: String
    public var baseURL: String
    /// The environment variable that holds the API key, if the provider needs one.
    public var envKey: String?
    /// Shown when `envKey` is unset, to tell the operator how to get a key.
    public var envKeyInstructions: String?
    public var wireAPI: WireAPI
    public var queryParams: [String: String]
    public var httpHeaders: [String: String]
    /// Header name → environment variable holding its value.
    public var envHTTPHeaders: [String: String]
    public var requestMaxRetries: Int
    public var streamMaxRetries: Int
    public var streamIdleTimeoutMilliseconds: Int

    public init(
        name: String,
        baseURL: String,
        envKey: String?,
        envKeyInstructions: String? = nil,
        wireAPI: WireAPI = .chat,
        queryParams: [String: String] = [:],
        httpHeaders: [String: String] = [:],
        envHTTPHeaders: [String: String] = [:],
        requestMaxRetries: Int = 4,
        streamMaxRetries: Int = 5,
        streamIdleTimeoutMilliseconds: Int = 300_000
    ) {
        self.name = name
        self.baseURL = baseURL
        self.envKey = envKey
        self.envKeyInstructions = envKeyInstructions
        self.wireAPI = wireAPI
        self.queryParams = queryParams
        self.httpHeaders = httpHeaders
        self.envHTTPHeaders = envHTTPHeaders
        self.requestMaxRetries = requestMaxRetries
        self.streamMaxRetries = streamMaxRetries
        self.streamIdleTimeoutMilliseconds = streamIdleTimeoutMilliseconds
    }

    /// The API key from the environment, or an error that names the variable to set.
    public func apiKey(in environment: [String: String]) throws(MissingProviderKey) -> String? {
        guard let envKey else { return nil }
        guard let value = environment[envKey]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            throw MissingProviderKey(variable: envKey, provider: name, instructions: envKeyInstructions)
        }
        return value
    }
}

/// The model cannot be called because its API key variable is not set.
public struct MissingProviderKey: Error, Sendable, CustomStringConvertible {
    public var variable: String
    public var provider: String
    public var instructions: String?

    public var description: String {
        "The model provider '\(provider)' needs the environment variable \(variable), which is not set."
            + (instructions.map { " \($0)" } ?? "")
    }
}

