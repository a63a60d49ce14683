import Foundation
import PostgresNIO
import SQLiteNIO

/// A row of either backend, read by column name: what a store's SQLite and PostgreSQL halves
/// share, so each value is read from a row in one place (``APIKeyInfo/init(row:)`` and the like)
/// and only the SQL differs between them.
protocol StoredRow {
    func string(_ name: String) -> String?
    func int(_ name: String) -> Int?
    func double(_ name: String) -> Double?
}

extension StoredRow {
    /// A time stored as seconds since 1970; nil when the column is NULL.
    func date(_ name: String) -> Date? {
        double(name).map { Date(timeIntervalSince1970: $0) }
    }
}

extension SQLiteRow: StoredRow {}
extension PostgresRandomAccessRow: StoredRow {}

extension RateLimitOverrides {
    /// The `rate_limit_*` columns of an `api_keys` row.
    init(row: some StoredRow) {
        self.init(
            perMinute: row.int("rate_limit_per_minute"),
            perHour: row.int("rate_limit_per_hour"),
            perDay: row.int("rate_limit_per_day"),
            concurrentTurns: row.int("rate_limit_concurrent_turns")
        )
    }
}

extension APIKeyInfo {
    /// An `api_keys` row.
    init(row: some StoredRow) {
        self.init(
            id: row.string("id") ?? "",
            name: row.string("name") ?? "",
            createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            revokedAt: row.date("revoked_at"),
            limits: RateLimitOverrides(row: row)
        )
    }
}

extension UsageRecord {
    /// A `usage_daily` row.
    init(row: some StoredRow) {
        self.init(
            date: row.string("date") ?? "",
            model: row.string("model") ?? "",
            requests: row.int("requests") ?? 0,
            inputTokens: row.int("input_tokens") ?? 0,
            cachedInputTokens: row.int("cached_input_tokens") ?? 0,
            outputTokens: row.int("output_tokens") ?? 0
        )
    }
}

extension KeyUsageSettings {
    /// A `usage_settings` row (its allowlist kept as a JSON array).
    init(row: some StoredRow) {
        let models = row.string("models_allowed").flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        self.init(tokensPerDay: row.int("tokens_per_day"), tokensPerMonth: row.int("tokens_per_month"), modelsAllowed: models)
    }
}

extension ConsoleSession {
    /// A `console_sessions` row of the session whose token hashes to `tokenHash`; nil without a key.
    init?(row: some StoredRow, tokenHash: String) {
        guard let keyID = row.string("key_id") else { return nil }
        self.init(
            tokenHash: tokenHash, keyID: keyID,
            createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            expiresAt: row.date("expires_at") ?? Date(timeIntervalSince1970: 0)
        )
    }
}
