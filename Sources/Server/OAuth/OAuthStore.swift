import Foundation

/// A registered OAuth client.
public struct OAuthClient: Sendable, Equatable {
    public var clientID: String
    public var name: String
    public var redirectURIs: [String]
    /// `environment` (OAUTH_CLIENT_ID), `cli` (`codex-gateway oauth-clients add`), `registration`
    /// (`POST /oauth/register`) or `metadata-document` (a client ID metadata document).
    public var source: String
    public var createdAt: Date
    let secretHash: String
    /// How it authenticates at the token endpoint: `none` for a public client (no secret, PKCE
    /// required); nil or a `client_secret_*` method for one with a secret.
    public var tokenEndpointAuthMethod: String? = nil
    /// The client's home page (`client_uri`), shown on the consent page.
    public var clientURI: String? = nil

    public var isPublic: Bool { tokenEndpointAuthMethod == "none" }

    public func secretMatches(_ secret: String) -> Bool {
        !secretHash.isEmpty && CredentialHash.constantTimeEquals(Array(SecretToken.hash(secret).utf8), Array(secretHash.utf8))
    }
}

/// What `POST /oauth/register` stores besides the redirect URIs (RFC 7591 §2), as JSON.
public struct RegisteredMetadata: Codable, Sendable, Equatable {
    var clientURI: String?
    var logoURI: String?
    var scope: String?
    var softwareID: String?
    var softwareVersion: String?
    /// The address the registration came from, for the operator.
    var registeredFrom: String?

    enum CodingKeys: String, CodingKey {
        case clientURI = "client_uri", logoURI = "logo_uri", scope, softwareID = "software_id", softwareVersion = "software_version"
        case registeredFrom = "registered_from"
    }
}

public struct StoredCode: Sendable {
    var clientID: String
    var redirectURI: String
    var redirectURIGiven: Bool
    var scope: String?
    var codeChallenge: String?
    var grantID: String
    var approvedBy: String
    var expiresAt: Date
    var usedAt: Date?
    /// The RFC 8707 resource the authorization named.
    var resource: String? = nil
}

public struct StoredToken: Sendable {
    var kind: String
    var clientID: String
    var grantID: String
    /// Who approved the grant (an API key's ID, or `auto-approve`); nil for tokens issued before it was kept.
    var approvedBy: String?
    var scope: String?
    var expiresAt: Date
    var revokedAt: Date?
    var rotatedAt: Date?
    var rotationResult: String?
    /// The RFC 8707 resource the token is for (its audience); nil: none named.
    var resource: String? = nil
}

/// OAuth clients, codes and tokens: secrets only ever as SHA-256 digests. SQLite
/// (``SQLiteOAuthStore``) or PostgreSQL (``PostgresOAuthStore``).
public protocol OAuthStore: Sendable {
    /// Registers (or updates) a client; `secret` is hashed.
    func upsertClient(clientID: String, secret: String, name: String, redirectURIs: [String], source: String) async throws
    /// Stores a dynamically registered client (RFC 7591); `secret` is nil for a public client.
    func registerClient(
        clientID: String, secret: String?, name: String, redirectURIs: [String], authMethod: String, metadata: RegisteredMetadata
    ) async throws
    func client(_ clientID: String) async throws -> OAuthClient?
    func clients() async throws -> [OAuthClient]
    /// Removes a client and everything issued to it; false when there is none.
    func removeClient(_ clientID: String) async throws -> Bool
    func insertCode(_ code: String, _ stored: StoredCode) async throws
    /// Marks a code used, atomically: the code if this call used it, and whether it exists at all.
    func redeemCode(_ code: String) async throws -> (redeemed: StoredCode?, existing: StoredCode?)
    func insertToken(
        _ token: String, kind: String, clientID: String, grantID: String, approvedBy: String?, scope: String?, resource: String?, expiresAt: Date
    ) async throws
    func token(hash: String) async throws -> StoredToken?
    /// Marks a refresh token rotated, atomically; false if it already was (a concurrent retry).
    func markRotated(_ token: String, result: String) async throws -> Bool
    func revokeToken(_ token: String) async throws
    /// Revokes every token of a grant.
    func revokeGrant(_ grantID: String) async throws
}

extension OAuthStore {
    func token(_ token: String) async throws -> StoredToken? {
        try await self.token(hash: SecretToken.hash(token))
    }
}

extension OAuthClient {
    /// Decodes the stored JSON columns of a client row (both backends store the same text).
    static func stored(
        clientID: String, name: String, redirectURIs: String?, source: String, createdAt: Double, secretHash: String,
        authMethod: String?, metadata: String?
    ) -> OAuthClient {
        OAuthClient(
            clientID: clientID, name: name,
            redirectURIs: redirectURIs.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [],
            source: source, createdAt: Date(timeIntervalSince1970: createdAt), secretHash: secretHash,
            tokenEndpointAuthMethod: authMethod,
            clientURI: metadata.flatMap { try? JSONDecoder().decode(RegisteredMetadata.self, from: Data($0.utf8)) }?.clientURI
        )
    }
}
