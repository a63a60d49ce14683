/// A configuration problem found at startup, naming the key (or variable) at fault.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Where the value came from, e.g. `environment`, `.env`, `/home/me/.codex/config.toml`.
    public var source: String
    /// The key or variable, e.g. `PORT` or `model_providers.local.base_url`.
    public var key: String
    public var message: String

    public init(source: String, key: String, message: String) {
        self.source = source
        self.key = key
        self.message = message
    }

    public var description: String { "\(source): \(key): \(message)" }
}
