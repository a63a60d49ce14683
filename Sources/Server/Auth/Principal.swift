/// Who a request acts for, once authenticated.
public struct Principal: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case apiKey = "api_key"
        case oauth
    }

    /// The credential a principal was authenticated by, so a long-lived connection can check
    /// later that it still holds (``GatewayAuthenticator/isCurrent(_:)``).
    public enum Credential: Sendable, Hashable {
        /// A key from `GATEWAY_API_KEY`: valid as long as the process runs.
        case configuredKey
        /// A key created with `codex-gateway keys create`, by its ID.
        case storedKey(id: String)
        /// An OAuth access token, by its SHA-256 hash.
        case accessToken(hash: String)
        /// A token the gateway gave its Codex engine for thread `threadID` (``EngineCredentials``):
        /// the model calls of a turn the principal already started, which count no second time.
        case engine(threadID: String)
    }

    public var kind: Kind
    /// A stable, non-secret identifier: an API key's fingerprint, or the OAuth client and grant.
    /// Rate limits and the concurrent-turn cap are kept per `id`.
    public var id: String
    /// Who owns what this principal creates (conversations, webhook deliveries), and so what it
    /// may see: an API key's `id`; for an OAuth token, the ID of the key that approved its grant
    /// (or `oauth-client:<client_id>` when the grant was auto-approved), so authorizing again
    /// keeps one's conversations.
    public var owner: String
    public var scopes: [String]
    /// Limits set for this credential (`codex-gateway keys limits`); empty for the defaults.
    public var limitOverrides: RateLimitOverrides
    public var credential: Credential
    /// For an OAuth access token, the RFC 8707 resource it was issued for (`<PUBLIC_BASE_URL>/mcp`
    /// or `<PUBLIC_BASE_URL>`); nil for API keys and for tokens issued without `resource`.
    public var audience: String?

    public init(
        kind: Kind,
        id: String,
        owner: String? = nil,
        scopes: [String] = [],
        limitOverrides: RateLimitOverrides = .init(),
        credential: Credential = .configuredKey,
        audience: String? = nil
    ) {
        self.kind = kind
        self.id = id
        self.owner = owner ?? id
        self.scopes = scopes
        self.limitOverrides = limitOverrides
        self.credential = credential
        self.audience = audience
    }
}
