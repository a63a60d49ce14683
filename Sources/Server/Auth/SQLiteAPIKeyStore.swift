import Foundation
import SQLiteNIO

/// An API key created with `codex-gateway keys create`, as listed (never the key itself).
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var revokedAt: Date?
}

/// API keys kept in the gateway database, hashed (SHA-256); looked up by hash.
public struct SQLiteAPIKeyStore: APIKeyStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    /// Creates a key; the plain key is returned once and never stored.
    public func create(name: String) async throws -> (key: String, info: APIKeyInfo) {
        let key = SecretToken.generate(prefix: "cgk_")
        let info = APIKeyInfo(id: CredentialHash.fingerprint(CredentialHash.digest(key)), name: name, createdAt: Date(), revokedAt: nil)
        try await database.query(
            "INSERT INTO api_keys (id, key_hash, name, created_at) VALUES (?, ?, ?, ?)",
            [.text(info.id), .text(SecretToken.hash(key)), .text(name), .float(info.createdAt.timeIntervalSince1970)]
        )
        return (key, info)
    }

    public func list() async throws -> [APIKeyInfo] {
        try await database.query("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at").map {
            APIKeyInfo(
                id: $0.string("id") ?? "",
                name: $0.string("name") ?? "",
                createdAt: Date(timeIntervalSince1970: $0.double("created_at") ?? 0),
                revokedAt: $0.double("revoked_at").map { Date(timeIntervalSince1970: $0) }
            )
        }
    }

    /// Revokes by ID; false when there is no such active key.
    public func revoke(id: String) async throws -> Bool {
        !(try await database.query(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id",
            [.float(Date().timeIntervalSince1970), .text(id)]
        )).isEmpty
    }

    public func principal(forKey key: String) async throws -> Principal? {
        // The lookup is by SHA-256 of the key: equality of digests, not of secrets, is what leaks
        // through timing, and a digest reveals nothing about the key.
        let rows = try await database.query(
            "SELECT id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            [.text(SecretToken.hash(key))]
        )
        return rows.first?.string("id").map { Principal(kind: .apiKey, id: $0) }
    }
}

/// Keys from `GATEWAY_API_KEY` first, then keys created from the command line.
public struct CompositeAPIKeyStore: APIKeyStore {
    let stores: [any APIKeyStore]

    public init(_ stores: [any APIKeyStore]) {
        self.stores = stores
    }

    public func principal(forKey key: String) async throws -> Principal? {
        for store in stores {
            if let principal = try await store.principal(forKey: key) { return principal }
        }
        return nil
    }
}
