import Foundation
import SQLiteNIO

/// An API key created with `codex-gateway keys create`, as listed (never the key itself).
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var revokedAt: Date?
    /// Limits set for this key; nil fields take the configured defaults.
    public var limits: RateLimitOverrides = .init()
}

/// API keys kept in the gateway database, hashed (SHA-256); looked up by hash.
public struct SQLiteAPIKeyStore: ManagedAPIKeyStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    /// Creates a key; the plain key is returned once and never stored.
    public func create(name: String) async throws -> (key: String, info: APIKeyInfo) {
        let key = SecretToken.generate(prefix: "cgk_")
        let info = APIKeyInfo(id: database.fingerprinter.fingerprint(ofKey: key), name: name, createdAt: Date(), revokedAt: nil)
        try await database.query(
            "INSERT INTO api_keys (id, key_hash, name, created_at) VALUES (?, ?, ?, ?)",
            [.text(info.id), .text(SecretToken.hash(key)), .text(name), .float(info.createdAt.timeIntervalSince1970)]
        )
        return (key, info)
    }

    public func list() async throws -> [APIKeyInfo] {
        try await database.query("SELECT * FROM api_keys ORDER BY created_at").map { APIKeyInfo(row: $0) }
    }

    /// Revokes by ID; false when there is no such active key.
    public func revoke(id: String) async throws -> Bool {
        !(try await database.query(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id",
            [.float(Date().timeIntervalSince1970), .text(id)]
        )).isEmpty
    }

    /// Sets a key's limits (nil fields: the configured default); false when there is no such active key.
    public func setLimits(id: String, _ limits: RateLimitOverrides) async throws -> Bool {
        func value(_ limit: Int?) -> SQLiteData { limit.map { .integer($0) } ?? .null }
        return !(try await database.query(
            """
            UPDATE api_keys SET rate_limit_per_minute = ?, rate_limit_per_hour = ?, rate_limit_per_day = ?,
            rate_limit_concurrent_turns = ? WHERE id = ? AND revoked_at IS NULL RETURNING id
            """,
            [value(limits.perMinute), value(limits.perHour), value(limits.perDay), value(limits.concurrentTurns), .text(id)]
        )).isEmpty
    }

    public func principal(forKey key: String) async throws -> Principal? {
        // The lookup is by SHA-256 of the key: equality of digests, not of secrets, is what leaks
        // through timing, and a digest reveals nothing about the key.
        let rows = try await database.query(
            "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            [.text(SecretToken.hash(key))]
        )
        guard let row = rows.first, let id = row.string("id") else { return nil }
        return Principal(kind: .apiKey, id: id, limitOverrides: RateLimitOverrides(row: row), credential: .storedKey(id: id))
    }

    public func principal(forID id: String) async throws -> Principal? {
        let rows = try await database.query("SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL", [.text(id)])
        guard let row = rows.first else { return nil }
        return Principal(kind: .apiKey, id: id, limitOverrides: RateLimitOverrides(row: row), credential: .storedKey(id: id))
    }

    /// Whether the key with this ID exists and is not revoked (a live connection's re-check).
    public func isActive(id: String) async throws -> Bool {
        !(try await database.query("SELECT id FROM api_keys WHERE id = ? AND revoked_at IS NULL", [.text(id)])).isEmpty
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

    public func isActive(id: String) async throws -> Bool {
        for store in stores where try await store.isActive(id: id) { return true }
        return false
    }

    public func principal(forID id: String) async throws -> Principal? {
        for store in stores {
            if let principal = try await store.principal(forID: id) { return principal }
        }
        return nil
    }
}
