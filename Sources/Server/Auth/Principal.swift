/// Who a request acts for, once authenticated.
public struct Principal: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case apiKey = "api_key"
        case oauth
    }

    public var kind: Kind
    /// A stable, non-secret identifier: an API key's fingerprint, or the OAuth client and grant.
    public var id: String
    public var scopes: [String]
    /// Limits set for this credential (`codex-gateway keys limits`); empty for the defaults.
    public var limitOverrides: RateLimitOverrides

    public init(kind: Kind, id: String, scopes: [String] = [], limitOverrides: RateLimitOverrides = .init()) {
        self.kind = kind
        self.id = id
        self.scopes = scopes
        self.limitOverrides = limitOverrides
    }
}
