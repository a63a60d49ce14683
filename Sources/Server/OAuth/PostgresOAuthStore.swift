import Foundation
import PostgresNIO

/// OAuth clients, codes and tokens in PostgreSQL, shared by every replica: a token issued by one
/// is accepted, and revoked, at all of them. The same statements as ``SQLiteOAuthStore``.
public struct PostgresOAuthStore: OAuthStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func upsertClient(clientID: String, secret: String, name: String, redirectURIs: [String], source: String) async throws {
        let uris = String(decoding: try JSONEncoder().encode(redirectURIs), as: UTF8.self)
        try await database.query(
            """
            INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, source, created_at)
            VALUES (\(clientID), \(SecretToken.hash(secret)), \(name), \(uris), \(source), \(Date().epoch))
            ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, name = excluded.name,
                redirect_uris = excluded.redirect_uris, source = excluded.source, token_endpoint_auth_method = NULL, metadata = NULL
            """)
    }

    public func registerClient(
        clientID: String, secret: String?, name: String, redirectURIs: [String], authMethod: String, metadata: RegisteredMetadata
    ) async throws {
        let uris = String(decoding: try JSONEncoder().encode(redirectURIs), as: UTF8.self)
        let metadataJSON = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
        try await database.query(
            """
            INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, source, created_at, token_endpoint_auth_method, metadata)
            VALUES (\(clientID), \(secret.map(SecretToken.hash) ?? ""), \(name), \(uris), 'registration', \(Date().epoch), \(authMethod), \(metadataJSON))
            """)
    }

    public func client(_ clientID: String) async throws -> OAuthClient? {
        try await database.query("SELECT * FROM oauth_clients WHERE client_id = \(clientID)").first.map(Self.client)
    }

    public func clients() async throws -> [OAuthClient] {
        try await database.query("SELECT * FROM oauth_clients ORDER BY client_id").map(Self.client)
    }

    public func removeClient(_ clientID: String) async throws -> Bool {
        try await database.transaction { connection in
            try await connection.query("DELETE FROM oauth_tokens WHERE client_id = \(clientID)", logger: database.logger)
            try await connection.query("DELETE FROM oauth_codes WHERE client_id = \(clientID)", logger: database.logger)
            let removed = try await connection.query("DELETE FROM oauth_clients WHERE client_id = \(clientID) RETURNING client_id", logger: database.logger)
            return try await removed.collect().count > 0
        }
    }

    static func client(_ row: PostgresRow) -> OAuthClient {
        let row = row.makeRandomAccess()
        return OAuthClient.stored(
            clientID: row.string("client_id") ?? "", name: row.string("name") ?? "", redirectURIs: row.string("redirect_uris"),
            source: row.string("source") ?? "", createdAt: row.double("created_at") ?? 0, secretHash: row.string("secret_hash") ?? "",
            authMethod: row.string("token_endpoint_auth_method"), metadata: row.string("metadata"))
    }

    public func insertCode(_ code: String, _ stored: StoredCode) async throws {
        try await database.query(
            """
            INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, redirect_uri_given, scope, code_challenge, grant_id,
                approved_by, created_at, expires_at, resource)
            VALUES (\(SecretToken.hash(code)), \(stored.clientID), \(stored.redirectURI), \(stored.redirectURIGiven), \(stored.scope),
                \(stored.codeChallenge), \(stored.grantID), \(stored.approvedBy), \(Date().epoch), \(stored.expiresAt.epoch), \(stored.resource))
            """)
    }

    public func redeemCode(_ code: String) async throws -> (redeemed: StoredCode?, existing: StoredCode?) {
        let hash = SecretToken.hash(code)
        let redeemed = try await database.query(
            "UPDATE oauth_codes SET used_at = \(Date().epoch) WHERE code_hash = \(hash) AND used_at IS NULL RETURNING *"
        ).first.map(Self.code)
        if redeemed != nil { return (redeemed, redeemed) }
        let existing = try await database.query("SELECT * FROM oauth_codes WHERE code_hash = \(hash)").first.map(Self.code)
        return (nil, existing)
    }

    static func code(_ row: PostgresRow) -> StoredCode {
        let row = row.makeRandomAccess()
        return StoredCode(
            clientID: row.string("client_id") ?? "",
            redirectURI: row.string("redirect_uri") ?? "",
            redirectURIGiven: row.bool("redirect_uri_given") ?? false,
            scope: row.string("scope"),
            codeChallenge: row.string("code_challenge"),
            grantID: row.string("grant_id") ?? "",
            approvedBy: row.string("approved_by") ?? "",
            expiresAt: Date(timeIntervalSince1970: row.double("expires_at") ?? 0),
            usedAt: row.double("used_at").map { Date(timeIntervalSince1970: $0) },
            resource: row.string("resource")
        )
    }

    public func insertToken(
        _ token: String, kind: String, clientID: String, grantID: String, approvedBy: String?, scope: String?, resource: String?, expiresAt: Date
    ) async throws {
        try await database.query(
            """
            INSERT INTO oauth_tokens (token_hash, kind, client_id, grant_id, approved_by, scope, created_at, expires_at, resource)
            VALUES (\(SecretToken.hash(token)), \(kind), \(clientID), \(grantID), \(approvedBy), \(scope), \(Date().epoch), \(expiresAt.epoch), \(resource))
            """)
    }

    public func token(hash: String) async throws -> StoredToken? {
        try await database.query("SELECT * FROM oauth_tokens WHERE token_hash = \(hash)").first.map {
            let row = $0.makeRandomAccess()
            return StoredToken(
                kind: row.string("kind") ?? "",
                clientID: row.string("client_id") ?? "",
                grantID: row.string("grant_id") ?? "",
                approvedBy: row.string("approved_by"),
                scope: row.string("scope"),
                expiresAt: Date(timeIntervalSince1970: row.double("expires_at") ?? 0),
                revokedAt: row.double("revoked_at").map { Date(timeIntervalSince1970: $0) },
                rotatedAt: row.double("rotated_at").map { Date(timeIntervalSince1970: $0) },
                rotationResult: row.string("rotation_result"),
                resource: row.string("resource")
            )
        }
    }

    public func markRotated(_ token: String, result: String) async throws -> Bool {
        !(try await database.query(
            """
            UPDATE oauth_tokens SET rotated_at = \(Date().epoch), rotation_result = \(result)
            WHERE token_hash = \(SecretToken.hash(token)) AND rotated_at IS NULL AND revoked_at IS NULL RETURNING token_hash
            """
        )).isEmpty
    }

    public func revokeToken(_ token: String) async throws {
        try await database.query(
            "UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, \(Date().epoch)) WHERE token_hash = \(SecretToken.hash(token))")
    }

    public func revokeGrant(_ grantID: String) async throws {
        try await database.query("UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, \(Date().epoch)) WHERE grant_id = \(grantID)")
    }
}
