import Foundation
import ModelProvider
import SQLiteNIO

/// ``UsageStore`` in the gateway's SQLite database: `usage_daily` (one row per account, model and
/// UTC day, added to with `INSERT … ON CONFLICT DO UPDATE`, so a call is one atomic statement)
/// and `usage_settings` (one row per account with budgets or an allowlist).
public struct SQLiteUsageStore: UsageStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    public func record(account: String, model: String, date: String, usage: TokenUsage) async throws {
        try await database.query(
            """
            INSERT INTO usage_daily (account, date, model, requests, input_tokens, cached_input_tokens, output_tokens)
            VALUES (?, ?, ?, 1, ?, ?, ?)
            ON CONFLICT (account, date, model) DO UPDATE SET
                requests = requests + 1,
                input_tokens = input_tokens + excluded.input_tokens,
                cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
                output_tokens = output_tokens + excluded.output_tokens
            """,
            [.text(account), .text(date), .text(model), .integer(usage.inputTokens), .integer(usage.cachedInputTokens), .integer(usage.outputTokens)]
        )
    }

    public func usage(account: String, from: String, to: String) async throws -> [UsageRecord] {
        try await database.query(
            "SELECT * FROM usage_daily WHERE account = ? AND date >= ? AND date <= ? ORDER BY date, model",
            [.text(account), .text(from), .text(to)]
        ).map { UsageRecord(row: $0) }
    }

    public func tokens(account: String, from: String, to: String) async throws -> Int {
        let rows = try await database.query(
            "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens FROM usage_daily WHERE account = ? AND date >= ? AND date <= ?",
            [.text(account), .text(from), .text(to)]
        )
        return rows.first?.int("tokens") ?? 0
    }

    public func settings(account: String) async throws -> KeyUsageSettings {
        try await database.query("SELECT * FROM usage_settings WHERE account = ?", [.text(account)]).first.map { KeyUsageSettings(row: $0) }
            ?? KeyUsageSettings()
    }

    public func setBudgets(account: String, tokensPerDay: Int?, tokensPerMonth: Int?) async throws {
        func value(_ budget: Int?) -> SQLiteData { budget.map { .integer($0) } ?? .null }
        try await database.query(
            """
            INSERT INTO usage_settings (account, tokens_per_day, tokens_per_month, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (account) DO UPDATE SET
                tokens_per_day = COALESCE(excluded.tokens_per_day, tokens_per_day),
                tokens_per_month = COALESCE(excluded.tokens_per_month, tokens_per_month),
                updated_at = excluded.updated_at
            """,
            [.text(account), value(tokensPerDay), value(tokensPerMonth), .float(Date().timeIntervalSince1970)]
        )
    }

    public func setModelsAllowed(account: String, _ models: [String]?) async throws {
        let encoded = try models.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try await database.query(
            """
            INSERT INTO usage_settings (account, models_allowed, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (account) DO UPDATE SET models_allowed = excluded.models_allowed, updated_at = excluded.updated_at
            """,
            [.text(account), .optionalText(encoded), .float(Date().timeIntervalSince1970)]
        )
    }
}
