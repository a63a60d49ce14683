import Crypto
import Foundation
import GatewayAPI
import Logging

/// The authorization server of PROTOCOLS.md §6 and §11: RFC 6749 authorization-code and
/// refresh-token grants, PKCE S256 (RFC 7636), revocation (RFC 7009), as ChatGPT GPT Actions use
/// them; and for MCP clients, resource indicators (RFC 8707), dynamic registration (RFC 7591) and
/// client ID metadata documents, with PKCE required of public clients.
public struct OAuthService: Sendable {
    public struct Settings: Sendable {
        public var issuer: String
        public var autoApprove = false
        public var allowChatGPTCallbacks = true
        public var codeLifetime: Duration = .seconds(600)
        public var accessTokenLifetime: Duration = .seconds(3600)
        public var refreshTokenLifetime: Duration = .seconds(30 * 24 * 3600)
        /// How long a rotated refresh token still answers with the pair it was rotated into.
        public var refreshGrace: Duration = .seconds(60)
        public static let scopes = ["codex"]
        /// Where the MCP endpoint is served; its resource is `issuer + mcpPath`.
        public static let mcpPath = "/mcp"

        public init(issuer: String) {
            self.issuer = issuer
        }

        /// The RFC 8707 resource of the MCP endpoint: tokens for it work only there.
        public var mcpResource: String { issuer + Self.mcpPath }
    }

    /// An RFC 6749 §5.2 error.
    public struct Failure: Error, Sendable, Equatable {
        public var error: OAuthError.Error
        public var description: String
        /// True when the client authenticated with HTTP Basic (the 401 then carries a Basic challenge).
        public var viaBasic = false

        public var status: Int { error == .invalidClient ? 401 : 400 }
    }

    /// A validated authorization request, ready for consent.
    public struct AuthorizationRequest: Sendable {
        public var client: OAuthClient
        public var redirectURI: String
        public var redirectURIGiven: Bool
        public var state: String?
        public var scope: String?
        public var codeChallenge: String?
        /// The RFC 8707 resource the tokens will be bound to (canonical form), if one was named.
        public var resource: String?
    }

    /// Why an authorization request cannot go on: tell the user (bad client or redirect URI), or
    /// redirect back with an error.
    public enum AuthorizationFailure: Error, Sendable {
        case page(String)
        case redirect(String)
    }

    let store: any OAuthStore
    let settings: Settings
    let logger: Logger
    /// Resolves https `client_id`s; nil: they are not accepted.
    let metadataDocuments: ClientMetadataDocumentClient?
    /// Random per process: consent forms older than a restart must be reloaded.
    let csrfKeyBytes: Data

    public init(store: any OAuthStore, settings: Settings, logger: Logger, metadataDocuments: ClientMetadataDocumentClient? = nil) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.metadataDocuments = metadataDocuments
        self.csrfKeyBytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    public var autoApprove: Bool { settings.autoApprove }

    // MARK: Token endpoint

    /// Authenticates the client by HTTP Basic or the body, refusing different values in both.
    func authenticateClient(basic: String?, clientID: String?, clientSecret: String?) async throws -> Result<OAuthClient, Failure> {
        var viaBasic = false
        var id = clientID
        var secret = clientSecret
        if let basic {
            guard let credentials = Self.parseBasic(basic) else {
                return .failure(Failure(error: .invalidClient, description: "the Basic credentials are malformed", viaBasic: true))
            }
            if let clientID, clientID != credentials.id {
                return .failure(Failure(error: .invalidRequest, description: "client_id in the body differs from the Basic credentials"))
            }
            if let clientSecret, clientSecret != credentials.secret {
                return .failure(Failure(error: .invalidRequest, description: "client_secret in the body differs from the Basic credentials"))
            }
            id = credentials.id
            secret = credentials.secret
            viaBasic = true
        }
        guard let id, !id.isEmpty else {
            return .failure(
                Failure(error: .invalidClient, description: "client authentication is required (client_secret_basic, client_secret_post, or client_id for a public client)")
            )
        }
        // A public client (registered with `none`, or described by a metadata document) names
        // itself and has no secret: PKCE, required of it, proves the code is its own.
        if metadataDocuments != nil, ClientMetadataDocumentClient.isDocumentURL(id), !viaBasic, secret == nil {
            return .success(
                OAuthClient(
                    clientID: id, name: id, redirectURIs: [], source: "metadata-document", createdAt: Date(), secretHash: "", tokenEndpointAuthMethod: "none"
                )
            )
        }
        guard let client = try await store.client(id) else {
            return .failure(Failure(error: .invalidClient, description: "unknown client or wrong secret", viaBasic: viaBasic))
        }
        if client.isPublic {
            guard secret == nil || secret == "" else {
                return .failure(Failure(error: .invalidClient, description: "the client is public (token_endpoint_auth_method none) and has no secret", viaBasic: viaBasic))
            }
            return .success(client)
        }
        guard let secret, client.secretMatches(secret) else {
            return .failure(Failure(error: .invalidClient, description: "unknown client or wrong secret", viaBasic: viaBasic))
        }
        return .success(client)
    }

    public func token(_ request: TokenRequest, basicAuthorization: String?) async throws -> Result<TokenResponse, Failure> {
        let client: OAuthClient
        switch try await authenticateClient(basic: basicAuthorization, clientID: request.clientID, clientSecret: request.clientSecret) {
        case .success(let authenticated): client = authenticated
        case .failure(let failure): return .failure(failure)
        }
        guard let grantType = request.grantType, !grantType.isEmpty else {
            return .failure(Failure(error: .invalidRequest, description: "grant_type is required"))
        }
        switch grantType {
        case "authorization_code": return try await exchangeCode(request, client: client)
        case "refresh_token": return try await refresh(request, client: client)
        default: return .failure(Failure(error: .unsupportedGrantType, description: "grant_type '\(grantType)' is not supported"))
        }
    }

    func exchangeCode(_ request: TokenRequest, client: OAuthClient) async throws -> Result<TokenResponse, Failure> {
        guard let code = request.code, !code.isEmpty else { return .failure(Failure(error: .invalidRequest, description: "code is required")) }
        let (redeemed, existing) = try await store.redeemCode(code)
        guard let stored = redeemed else {
            if let existing, existing.usedAt != nil {
                // RFC 6749 §4.1.2: a reused code revokes what it issued.
                try await store.revokeGrant(existing.grantID)
                logger.warning("oauth code reused; its tokens were revoked", metadata: ["oauth.client_id": .string(existing.clientID)])
                return .failure(Failure(error: .invalidGrant, description: "the code was already used; the tokens it issued are revoked"))
            }
            return .failure(Failure(error: .invalidGrant, description: "the code is not valid"))
        }
        guard stored.clientID == client.clientID else {
            return .failure(Failure(error: .invalidGrant, description: "the code was issued to another client"))
        }
        guard stored.expiresAt > Date() else { return .failure(Failure(error: .invalidGrant, description: "the code has expired")) }
        if stored.redirectURIGiven || request.redirectURI != nil {
            guard request.redirectURI == stored.redirectURI else {
                return .failure(Failure(error: .invalidGrant, description: "redirect_uri does not match the authorization request"))
            }
        }
        switch (stored.codeChallenge, request.codeVerifier) {
        case (let challenge?, let verifier?):
            let computed = Self.s256Challenge(verifier)
            guard CredentialHash.constantTimeEquals(Array(computed.utf8), Array(challenge.utf8)) else {
                return .failure(Failure(error: .invalidGrant, description: "code_verifier does not match the code_challenge"))
            }
        case (_?, nil):
            return .failure(Failure(error: .invalidGrant, description: "code_verifier is required (the authorization used PKCE)"))
        case (nil, _?):
            return .failure(Failure(error: .invalidGrant, description: "code_verifier given but the authorization had no code_challenge"))
        case (nil, nil):
            break
        }
        if let failure = checkResource(request.resource, granted: stored.resource) { return .failure(failure) }
        return .success(
            try await issueTokens(clientID: client.clientID, grantID: stored.grantID, approvedBy: stored.approvedBy, scope: stored.scope, resource: stored.resource)
        )
    }

    /// RFC 8707 §2.2: a `resource` on the token request must be the one granted (each grant has one).
    func checkResource(_ requested: String?, granted: String?) -> Failure? {
        guard let requested, !requested.isEmpty else { return nil }
        guard let canonical = canonicalResource(requested) else {
            return Failure(error: .invalidTarget, description: "resource must be \(settings.mcpResource) or \(settings.issuer)")
        }
        guard canonical == granted else {
            return Failure(error: .invalidTarget, description: "resource \(canonical) is not the resource this grant was authorized for")
        }
        return nil
    }

    func refresh(_ request: TokenRequest, client: OAuthClient) async throws -> Result<TokenResponse, Failure> {
        guard let refreshToken = request.refreshToken, !refreshToken.isEmpty else {
            return .failure(Failure(error: .invalidRequest, description: "refresh_token is required"))
        }
        guard let stored = try await store.token(refreshToken), stored.kind == "refresh", stored.clientID == client.clientID else {
            return .failure(Failure(error: .invalidGrant, description: "the refresh token is not valid"))
        }
        guard stored.revokedAt == nil else { return .failure(Failure(error: .invalidGrant, description: "the refresh token was revoked")) }
        guard stored.expiresAt > Date() else { return .failure(Failure(error: .invalidGrant, description: "the refresh token has expired")) }
        if let rotatedAt = stored.rotatedAt {
            // A retry of a refresh whose answer was lost: within the grace window, the same pair.
            if Date().timeIntervalSince(rotatedAt) <= settings.refreshGrace.seconds, let sealed = stored.rotationResult,
                let previous = Self.open(sealed, with: refreshToken)
            {
                return .success(previous)
            }
            try await store.revokeGrant(stored.grantID)
            logger.warning("oauth refresh token reused after rotation; the grant was revoked", metadata: ["oauth.client_id": .string(client.clientID)])
            return .failure(Failure(error: .invalidGrant, description: "the refresh token was already used"))
        }
        if let failure = checkResource(request.resource, granted: stored.resource) { return .failure(failure) }
        var scope = stored.scope
        if let requested = Self.normalize(request.scope) {
            let granted = Set((stored.scope ?? "").split(separator: " ").map(String.init))
            let asked = Set(requested.split(separator: " ").map(String.init))
            guard asked.isSubset(of: granted) else {
                return .failure(Failure(error: .invalidScope, description: "the requested scope exceeds the original grant"))
            }
            scope = requested
        }
        let response = try await issueTokens(
            clientID: client.clientID, grantID: stored.grantID, approvedBy: stored.approvedBy, scope: scope, resource: stored.resource, persist: false)
        // Rotate atomically; a concurrent retry that lost the race gets the winner's pair.
        guard try await store.markRotated(refreshToken, result: Self.seal(response, with: refreshToken)) else {
            return try await refresh(request, client: client)
        }
        try await persist(response, clientID: client.clientID, grantID: stored.grantID, approvedBy: stored.approvedBy, scope: scope, resource: stored.resource)
        return .success(response)
    }

    /// `approvedBy` (who approved the grant, kept with every token of it) decides whose conversations
    /// the tokens reach: see ``owner(approvedBy:clientID:)``.
    func issueTokens(clientID: String, grantID: String, approvedBy: String?, scope: String?, resource: String?, persist shouldPersist: Bool = true)
        async throws -> TokenResponse
    {
        let response = TokenResponse(
            accessToken: SecretToken.generate(prefix: "cgat_"),
            tokenType: .bearer,
            expiresIn: Int(settings.accessTokenLifetime.seconds),
            refreshToken: SecretToken.generate(prefix: "cgrt_"),
            scope: scope
        )
        if shouldPersist { try await persist(response, clientID: clientID, grantID: grantID, approvedBy: approvedBy, scope: scope, resource: resource) }
        return response
    }

    func persist(_ response: TokenResponse, clientID: String, grantID: String, approvedBy: String?, scope: String?, resource: String?) async throws {
        try await store.insertToken(
            response.accessToken, kind: "access", clientID: clientID, grantID: grantID, approvedBy: approvedBy, scope: scope, resource: resource,
            expiresAt: Date().addingTimeInterval(settings.accessTokenLifetime.seconds)
        )
        try await store.insertToken(
            response.refreshToken, kind: "refresh", clientID: clientID, grantID: grantID, approvedBy: approvedBy, scope: scope, resource: resource,
            expiresAt: Date().addingTimeInterval(settings.refreshTokenLifetime.seconds)
        )
    }

    /// The rotation's answer, encrypted with a key only the old refresh token yields.
    static func seal(_ response: TokenResponse, with refreshToken: String) throws -> String {
        let key = SymmetricKey(data: SHA256.hash(data: Data(("rotation:" + refreshToken).utf8)))
        let sealed = try AES.GCM.seal(try JSONEncoder().encode(response), using: key)
        return sealed.combined!.base64EncodedString()
    }

    static func open(_ sealed: String, with refreshToken: String) -> TokenResponse? {
        let key = SymmetricKey(data: SHA256.hash(data: Data(("rotation:" + refreshToken).utf8)))
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key)
        else { return nil }
        return try? JSONDecoder().decode(TokenResponse.self, from: plain)
    }

    // MARK: Revocation and verification

    public func revoke(_ request: RevocationRequest, basicAuthorization: String?) async throws -> Result<Void, Failure> {
        let client: OAuthClient
        switch try await authenticateClient(basic: basicAuthorization, clientID: request.clientID, clientSecret: request.clientSecret) {
        case .success(let authenticated): client = authenticated
        case .failure(let failure): return .failure(failure)
        }
        guard let token = request.token, !token.isEmpty else { return .failure(Failure(error: .invalidRequest, description: "token is required")) }
        guard let stored = try await store.token(token) else { return .success(()) }  // RFC 7009 §2.2: unknown tokens are fine
        guard stored.clientID == client.clientID else {
            return .failure(Failure(error: .unauthorizedClient, description: "the token was issued to another client"))
        }
        if stored.kind == "refresh" {
            try await store.revokeGrant(stored.grantID)
        } else {
            try await store.revokeToken(token)
        }
        return .success(())
    }

    /// The principal of a valid access token, or nil.
    public func principal(forAccessToken token: String) async throws -> Principal? {
        guard token.hasPrefix("cgat_"), let stored = try await store.token(token), stored.kind == "access", stored.revokedAt == nil,
            stored.expiresAt > Date()
        else { return nil }
        let scopes = (stored.scope ?? "").split(separator: " ").map(String.init)
        return Principal(
            kind: .oauth,
            id: "oauth:\(stored.clientID):\(stored.grantID.prefix(8))",
            owner: Self.owner(approvedBy: stored.approvedBy, clientID: stored.clientID),
            scopes: scopes,
            credential: .accessToken(hash: SecretToken.hash(token)),
            audience: stored.resource
        )
    }

    /// Whether the access token with this hash is still valid: not revoked and not expired.
    public func isCurrent(accessTokenHash hash: String) async throws -> Bool {
        guard let stored = try await store.token(hash: hash) else { return false }
        return stored.kind == "access" && stored.revokedAt == nil && stored.expiresAt > Date()
    }

    /// Who a token acts for: the API key that approved its grant on the consent page; under
    /// auto-approve (or for a grant with no recorded approver), its client.
    static func owner(approvedBy: String?, clientID: String) -> String {
        guard let approvedBy, !approvedBy.isEmpty, approvedBy != autoApprover else { return "oauth-client:\(clientID)" }
        return approvedBy
    }

    /// The `approved_by` of grants approved without a person (`OAUTH_AUTO_APPROVE`).
    static let autoApprover = "auto-approve"

    public func metadata() -> AuthorizationServerMetadata {
        let base = settings.issuer
        return AuthorizationServerMetadata(
            issuer: base,
            authorizationEndpoint: base + "/oauth/authorize",
            tokenEndpoint: base + "/oauth/token",
            revocationEndpoint: base + "/oauth/revoke",
            responseTypesSupported: ["code"],
            grantTypesSupported: ["authorization_code", "refresh_token"],
            tokenEndpointAuthMethodsSupported: ["client_secret_post", "client_secret_basic", "none"],
            revocationEndpointAuthMethodsSupported: ["client_secret_post", "client_secret_basic", "none"],
            codeChallengeMethodsSupported: ["S256"],
            scopesSupported: Settings.scopes,
            registrationEndpoint: base + "/oauth/register",
            clientIDMetadataDocumentSupported: metadataDocuments?.settings.enabled ?? false
        )
    }

    /// RFC 9728 metadata of `resource` (the MCP endpoint or the base URL), naming this server.
    public func protectedResourceMetadata(forMCP: Bool) -> ProtectedResourceMetadata {
        ProtectedResourceMetadata(
            resource: forMCP ? settings.mcpResource : settings.issuer,
            authorizationServers: [settings.issuer],
            bearerMethodsSupported: ["header"],
            scopesSupported: Settings.scopes,
            resourceName: forMCP ? "Codex Gateway (MCP)" : "Codex Gateway"
        )
    }

    // MARK: Helpers

    /// RFC 7636 §4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`.
    public static func s256Challenge(_ verifier: String) -> String {
        SecretToken.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// Empty `scope=` means no scope.
    static func normalize(_ scope: String?) -> String? {
        let parts = (scope ?? "").split(separator: " ").map(String.init)
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }

    /// `redirect_uri` with parameters added to its query, each properly encoded.
    static func url(_ base: String, adding parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map { name, value in
            name + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
        var url = base
        var fragment = ""
        if let hash = url.firstIndex(of: "#") {
            fragment = String(url[hash...])
            url = String(url[..<hash])
        }
        return url + (url.contains("?") ? "&" : "?") + query + fragment
    }

    /// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
    static func parseBasic(_ header: String) -> (id: String, secret: String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let data = Data(base64Encoded: String(parts[1])),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        func decode(_ value: Substring) -> String {
            value.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(value)
        }
        return (decode(text[..<colon]), decode(text[text.index(after: colon)...]))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
