import Foundation
import PostgresNIO

/// Token buckets in PostgreSQL, one row per principal (``RateLimitCounterStore``).
///
/// One prepared statement per request (one round trip, planned once per connection): `INSERT …
/// ON CONFLICT DO UPDATE … RETURNING` creates the row (full buckets, one taken) or, holding its
/// row lock, refills every window's bucket, takes one token from each if all have one (else none)
/// and answers the buckets as left.
/// The arithmetic is ``TokenBucket``'s (refill up to the capacity over the window; a changed
/// capacity keeps the fill ratio), written once in SQL by ``refill(_:seconds:)``. The time is the
/// database's (`statement_timestamp()`), so replicas with drifting clocks agree; a statement that
/// waited for the lock behind a later one sees its time as already passed and refills nothing.
public struct PostgresRateLimitStore: RateLimitCounterStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    /// The table's column prefix of each window of ``RateLimiter/windows(_:)``, in its order.
    static let columns = ["minute", "hour", "day"]

    public func take(principal: String, limits: RateLimits) async throws -> RateLimiter.Decision {
        let windows = RateLimiter.windows(limits)
        guard windows.contains(where: { $0.capacity > 0 }) else { return .allowed(nil) }
        let rows = try await database.execute(Take(principal: principal, capacities: windows.map { Double($0.capacity) }))
        guard let row = rows.first?.makeRandomAccess(), let updated = row.double("updated_at"), let allowed = row.bool("allowed") else {
            return .allowed(nil)
        }
        var buckets: [TokenBucket] = []
        for (column, window) in zip(Self.columns, windows) where window.capacity > 0 {
            buckets.append(
                TokenBucket(capacity: window.capacity, window: window.seconds, tokens: row.double("\(column)_tokens") ?? 0, updated: updated))
        }
        guard !allowed else { return .allowed(RateLimiter.status(buckets)) }
        let retryAfter = buckets.filter { !$0.hasToken }.map(\.secondsUntilToken).max() ?? 1
        return .refused(RateLimiter.status(buckets), retryAfter: retryAfter)
    }

    /// The decision as one prepared statement: `$1` the principal, `$2`…`$4` the capacities per
    /// minute, hour and day (0: no limit in that window).
    struct Take: PostgresPreparedStatement {
        typealias Row = PostgresRow
        static let name = "codex_gateway_rate_limit_take_v1"
        static let bindingDataTypes: [PostgresDataType] = [.text, .float8, .float8, .float8]
        static let sql = """
            INSERT INTO rate_limit_counters AS r
                (principal, minute_capacity, minute_tokens, hour_capacity, hour_tokens, day_capacity, day_tokens, updated_at, allowed)
            VALUES ($1, $2, GREATEST($2 - 1, 0), $3, GREATEST($3 - 1, 0), $4, GREATEST($4 - 1, 0), extract(epoch FROM statement_timestamp()), true)
            ON CONFLICT (principal) DO UPDATE SET
                (minute_capacity, minute_tokens, hour_capacity, hour_tokens, day_capacity, day_tokens, updated_at, allowed) = (
                    SELECT excluded.minute_capacity, GREATEST(minute_refilled - taken, 0), excluded.hour_capacity,
                        GREATEST(hour_refilled - taken, 0), excluded.day_capacity, GREATEST(day_refilled - taken, 0),
                        GREATEST(r.updated_at, now), taken = 1
                    FROM (SELECT minute_refilled, hour_refilled, day_refilled, now,
                            CASE WHEN (excluded.minute_capacity = 0 OR minute_refilled >= 1) AND (excluded.hour_capacity = 0 OR hour_refilled >= 1)
                                AND (excluded.day_capacity = 0 OR day_refilled >= 1) THEN 1 ELSE 0 END AS taken
                        FROM (SELECT \(refill("minute", seconds: 60)) AS minute_refilled,
                                \(refill("hour", seconds: 3600)) AS hour_refilled,
                                \(refill("day", seconds: 86400)) AS day_refilled, now
                            FROM (SELECT extract(epoch FROM statement_timestamp())::DOUBLE PRECISION AS now) AS clock) AS refilled) AS decided)
            RETURNING minute_capacity, minute_tokens, hour_capacity, hour_tokens, day_capacity, day_tokens, updated_at, allowed
            """

        var principal: String
        var capacities: [Double]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(principal)
            for capacity in capacities { bindings.append(capacity) }
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// One window's bucket refilled to `now`, as ``TokenBucket/refill(now:)`` does (after
    /// ``TokenBucket/resized(to:now:)`` when its capacity changed, or full when it is new); 0 for
    /// a window without a limit. `r` is the stored row, `excluded` the capacities asked for.
    static func refill(_ column: String, seconds: Int) -> String {
        let (old, new, tokens) = ("r.\(column)_capacity", "excluded.\(column)_capacity", "LEAST(r.\(column)_capacity, r.\(column)_tokens)")
        return """
            CASE WHEN \(new) = 0 THEN 0
                WHEN \(old) = 0 THEN \(new)
                WHEN \(old) <> \(new) THEN \(new) * \(tokens) / \(old)
                ELSE LEAST(\(old), \(tokens) + GREATEST(0, now - r.updated_at) * \(old) / \(seconds)) END
            """
    }
}
