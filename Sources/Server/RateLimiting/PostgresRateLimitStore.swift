import Foundation
import PostgresNIO

/// Token buckets in PostgreSQL, one row per principal (``RateLimitCounterStore``).
///
/// One transaction per request: the row is created or locked (`INSERT … ON CONFLICT DO UPDATE …
/// RETURNING`, which takes the row lock), the buckets are refilled and taken from with the same
/// arithmetic as in memory (``RateLimiter/take(_:now:)``), and written back. The time is the
/// database's (`clock_timestamp()`), so replicas with drifting clocks agree.
public struct PostgresRateLimitStore: RateLimitCounterStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    struct StoredBucket: Codable {
        var capacity: Int
        var window: Double
        var tokens: Double
        var updated: Double
    }

    public func take(principal: String, limits: RateLimits) async throws -> RateLimiter.Decision {
        let windows = RateLimiter.windows(limits).filter { $0.capacity > 0 }
        guard !windows.isEmpty else { return .allowed(nil) }
        return try await database.transaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO rate_limit_buckets (principal, buckets, updated_at) VALUES (\(principal), '[]', 0)
                ON CONFLICT (principal) DO UPDATE SET principal = excluded.principal
                RETURNING buckets, extract(epoch FROM clock_timestamp())::DOUBLE PRECISION AS now
                """, logger: database.logger
            ).collect()
            guard let row = rows.first?.makeRandomAccess(), let now = row.double("now") else { return .allowed(nil) }
            let stored = (try? JSONDecoder().decode([StoredBucket].self, from: Data((row.string("buckets") ?? "[]").utf8))) ?? []
            var buckets = windows.map { capacity, window -> TokenBucket in
                guard let old = stored.first(where: { $0.window == window }) else { return TokenBucket(capacity: capacity, window: window, now: now) }
                let bucket = TokenBucket(capacity: old.capacity, window: window, tokens: old.tokens, updated: old.updated)
                return old.capacity == capacity ? bucket : bucket.resized(to: capacity, now: now)
            }
            let decision = RateLimiter.take(&buckets, now: now)
            let encoded = String(
                decoding: try JSONEncoder().encode(
                    buckets.map { StoredBucket(capacity: Int($0.capacity), window: $0.window, tokens: $0.tokens, updated: $0.updated) }),
                as: UTF8.self)
            try await connection.query(
                "UPDATE rate_limit_buckets SET buckets = \(encoded), updated_at = \(now) WHERE principal = \(principal)", logger: database.logger)
            return decision
        }
    }
}
