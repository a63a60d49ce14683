import Foundation
import SQLiteNIO

/// OAuth clients, codes and tokens in the SQLite database; secrets only as SHA-256.
public struct SQLiteOAuthStore: OAuthStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    // MARK: Clients

    /// Registers (or updates) a client; `secret` is hashed.
    public func upsertClient(clientID: String, secret: String, name: String, redirectURIs: [String], source: String) async throws {
        let uris = String(decoding: try JSONEncoder().encode(redirectURIs), as: UTF8.self)
        try await database.query(
            """
            INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, source, created_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(client_id) DO UPDATE SET secret_hash = excluded.secret_hash, name = excluded.name,
                redirect_uris = excluded.redirect_uris, source = excluded.source, token_endpoint_auth_method = NULL, metadata = NULL
            """,
            [.text(clientID), .text(SecretToken.hash(secret)), .text(name), .text(uris), .text(source), .float(Date().timeIntervalSince1970)]
        )
    }

    /// Stores a dynamically registered client (RFC 7591); `secret` is nil for a public client.
    public func registerClient(
        clientID: String, secret: String?, name: String, redirectURIs: [String], authMethod: String, metadata: RegisteredMetadata
    ) async throws {
        let uris = String(decoding: try JSONEncoder().encode(redirectURIs), as: UTF8.self)
        let metadataJSON = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
        try await database.query(
            """
            INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, source, created_at, token_endpoint_auth_method, metadata)
            VALUES (?, ?, ?, ?, 'registration', ?, ?, ?)
            """,
            [
                .text(clientID), .text(secret.map(SecretToken.hash) ?? ""), .text(name), .text(uris), .float(Date().timeIntervalSince1970),
                .text(authMethod), .text(metadataJSON),
            ]
        )
    }

    public func client(_ clientID: String) async throws -> OAuthClient? {
        try await database.query("SELECT * FROM oauth_clients WHERE client_id = ?", [.text(clientID)]).first.map(Self.client)
    }

    public func clients() async throws -> [OAuthClient] {
        try await database.query("SELECT * FROM oauth_clients ORDER BY client_id").map(Self.client)
    }

    /// Removes a client and everything issued to it.
    public func removeClient(_ clientID: String) async throws -> Bool {
        try await database.query("DELETE FROM oauth_tokens WHERE client_id = ?", [.text(clientID)])
        try await database.query("DELETE FROM oauth_codes WHERE client_id = ?", [.text(clientID)])
        return !(try await database.query("DELETE FROM oauth_clients WHERE client_id = ? RETURNING client_id", [.text(clientID)])).isEmpty
    }

    static func client(_ row: SQLiteRow) -> OAuthClient {
        let uris = (row.string("redirect_uris").flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }) ?? []
        return OAuthClient(
            clientID: row.string("client_id") ?? "",
            name: row.string("name") ?? "",
            redirectURIs: uris,
            source: row.string("source") ?? "",
            createdAt: Date(timeIntervalSince1970: row.double("created_at") ?? 0),
            secretHash: row.string("secret_hash") ?? "",
            tokenEndpointAuthMethod: row.string("token_endpoint_auth_method"),
            clientURI: row.string("metadata").flatMap { try? JSONDecoder().decode(RegisteredMetadata.self, from: Data($0.utf8)) }?.clientURI
        )
    }

    // MARK: Codes

    public func insertCode(_ code: String, _ stored: StoredCode) async throws {
        try await database.query(
            """
            INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, redirect_uri_given, scope, code_challenge, grant_id,
                approved_by, created_at, expires_at, resource) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(SecretToken.hash(code)), .text(stored.clientID), .text(stored.redirectURI), .integer(stored.redirectURIGiven ? 1 : 0),
                .optionalText(stored.scope), .optionalText(stored.codeChallenge), .text(stored.grantID), .text(stored.approvedBy),
                .float(Date().timeIntervalSince1970), .float(stored.expiresAt.timeIntervalSince1970), .optionalText(stored.resource),
            ]
        )
    }

    /// Marks a code used, atomically. Returns the code if this call was the one that used it,
    /// and separately whether it exists at all (for reuse detection).
    public func redeemCode(_ code: String) async throws -> (redeemed: StoredCode?, existing: StoredCode?) {
        let hash = SecretToken.hash(code)
        let redeemed = try await database.query(
            "UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL RETURNING *",
            [.float(Date().timeIntervalSince1970), .text(hash)]
        ).first.map(Self.code)
        if redeemed != nil { return (redeemed, redeemed) }
        let existing = try await database.query("SELECT * FROM oauth_codes WHERE code_hash = ?", [.text(hash)]).first.map(Self.code)
        return (nil, existing)
    }

    static func code(_ row: SQLiteRow) -> StoredCode {
        StoredCode(
            clientID: row.string("client_id") ?? "",
            redirectURI: row.string("redirect_uri") ?? "",
            redirectURIGiven: row.int("redirect_uri_given") == 1,
            scope: row.string("scope"),
            codeChallenge: row.string("code_challenge"),
            grantID: row.string("grant_id") ?? "",
            approvedBy: row.string("approved_by") ?? "",
            expiresAt: Date(timeIntervalSince1970: row.double("expires_at") ?? 0),
            usedAt: row.double("used_at").map { Date(timeIntervalSince1970: $0) },
            resource: row.string("resource")
        )
    }

    // MARK: Tokens

    public func insertToken(
        _ token: String, kind: String, clientID: String, grantID: String, approvedBy: String?, scope: String?, resource: String?, expiresAt: Date
    ) async throws {
        try await database.query(
            """
            INSERT INTO oauth_tokens (token_hash, kind, client_id, grant_id, approved_by, scope, created_at, expires_at, resource)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(SecretToken.hash(token)), .text(kind), .text(clientID), .text(grantID), .optionalText(approvedBy), .optionalText(scope),
                .float(Date().timeIntervalSince1970), .float(expiresAt.timeIntervalSince1970), .optionalText(resource),
            ]
        )
    }

    public func token(hash: String) async throws -> StoredToken? {
        try await database.query("SELECT * FROM oauth_tokens WHERE token_hash = ?", [.text(hash)]).first.map {
            StoredToken(
                kind: $0.string("kind") ?? "",
                clientID: $0.string("client_id") ?? "",
                grantID: $0.string("grant_id") ?? "",
                approvedBy: $0.string("approved_by"),
                scope: $0.string("scope"),
                expiresAt: Date(timeIntervalSince1970: $0.double("expires_at") ?? 0),
                revokedAt: $0.double("revoked_at").map { Date(timeIntervalSince1970: $0) },
                rotatedAt: $0.double("rotated_at").map { Date(timeIntervalSince1970: $0) },
                rotationResult: $0.string("rotation_result"),
                resource: $0.string("resource")
            )
        }
    }

    /// Marks a refresh token rotated, atomically; false if it already was (a concurrent retry).
    public func markRotated(_ token: String, result: String) async throws -> Bool {
        !(try await database.query(
            "UPDATE oauth_tokens SET rotated_at = ?, rotation_result = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL RETURNING token_hash",
            [.float(Date().timeIntervalSince1970), .text(result), .text(SecretToken.hash(token))]
        )).isEmpty
    }

    public func revokeToken(_ token: String) async throws {
        try await database.query(
            "UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_hash = ?",
            [.float(Date().timeIntervalSince1970), .text(SecretToken.hash(token))]
        )
    }

    /// Revokes every token of a grant (code reuse, refresh token reuse, revocation of a refresh token).
    public func revokeGrant(_ grantID: String) async throws {
        try await database.query(
            "UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE grant_id = ?",
            [.float(Date().timeIntervalSince1970), .text(grantID)]
        )
    }
}
