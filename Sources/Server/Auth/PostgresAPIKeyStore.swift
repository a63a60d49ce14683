import Foundation
import PostgresNIO
import Synchronization

/// API keys in PostgreSQL (``ManagedAPIKeyStore``): a key created with the command line against
/// `DATABASE_URL` works at every replica, and a revocation holds at all of them.
public struct PostgresAPIKeyStore: ManagedAPIKeyStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func create(name: String) async throws -> (key: String, info: APIKeyInfo) {
        let key = SecretToken.generate(prefix: "cgk_")
        let info = APIKeyInfo(id: try database.secrets().fingerprinter.fingerprint(ofKey: key), name: name, createdAt: Date(), revokedAt: nil)
        try await database.query(
            "INSERT INTO api_keys (id, key_hash, name, created_at) VALUES (\(info.id), \(SecretToken.hash(key)), \(name), \(info.createdAt.epoch))")
        return (key, info)
    }

    public func list() async throws -> [APIKeyInfo] {
        try await database.query("SELECT * FROM api_keys ORDER BY created_at").map { APIKeyInfo(row: $0.makeRandomAccess()) }
    }

    public func revoke(id: String) async throws -> Bool {
        !(try await database.query("UPDATE api_keys SET revoked_at = \(Date().epoch) WHERE id = \(id) AND revoked_at IS NULL RETURNING id")).isEmpty
    }

    public func setLimits(id: String, _ limits: RateLimitOverrides) async throws -> Bool {
        !(try await database.query(
            """
            UPDATE api_keys SET rate_limit_per_minute = \(limits.perMinute), rate_limit_per_hour = \(limits.perHour),
                rate_limit_per_day = \(limits.perDay), rate_limit_concurrent_turns = \(limits.concurrentTurns)
            WHERE id = \(id) AND revoked_at IS NULL RETURNING id
            """
        )).isEmpty
    }

    public func principal(forKey key: String) async throws -> Principal? {
        // By SHA-256 of the key, as in SQLite: only digests are compared.
        let rows = try await database.query("SELECT * FROM api_keys WHERE key_hash = \(SecretToken.hash(key)) AND revoked_at IS NULL")
        guard let row = rows.first?.makeRandomAccess(), let id = row.string("id") else { return nil }
        return Principal(kind: .apiKey, id: id, limitOverrides: RateLimitOverrides(row: row), credential: .storedKey(id: id))
    }

    public func isActive(id: String) async throws -> Bool {
        !(try await database.query("SELECT id FROM api_keys WHERE id = \(id) AND revoked_at IS NULL")).isEmpty
    }

    public func principal(forID id: String) async throws -> Principal? {
        let rows = try await database.query("SELECT * FROM api_keys WHERE id = \(id) AND revoked_at IS NULL")
        guard let row = rows.first?.makeRandomAccess() else { return nil }
        return Principal(kind: .apiKey, id: id, limitOverrides: RateLimitOverrides(row: row), credential: .storedKey(id: id))
    }
}

/// Keys from `GATEWAY_API_KEY` when their fingerprints need the database's salt and the database
/// has not answered yet: looked up once it has (until then, 503 `database_unavailable`).
public final class DeferredMemoryAPIKeyStore: APIKeyStore {
    let keys: [String]
    let database: PostgresGatewayDatabase
    private let made = Mutex<MemoryAPIKeyStore?>(nil)

    public init(keys: [String], database: PostgresGatewayDatabase) {
        self.keys = keys
        self.database = database
    }

    private func store() throws -> MemoryAPIKeyStore {
        if let store = made.withLock({ $0 }) { return store }
        let store = MemoryAPIKeyStore(keys: keys, fingerprinter: try database.secrets().fingerprinter)
        made.withLock { $0 = store }
        return store
    }

    public func principal(forKey key: String) async throws -> Principal? {
        guard !keys.isEmpty else { return nil }
        return try await store().principal(forKey: key)
    }

    public func isActive(id: String) async throws -> Bool {
        guard !keys.isEmpty else { return false }
        return try await store().isActive(id: id)
    }

    public func principal(forID id: String) async throws -> Principal? {
        guard !keys.isEmpty else { return nil }
        return try await store().principal(forID: id)
    }
}
