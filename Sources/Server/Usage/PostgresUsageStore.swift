import Foundation
import ModelProvider
import PostgresNIO

/// ``UsageStore`` in PostgreSQL, shared by every replica: the same two tables as
/// ``SQLiteUsageStore`` (`usage_daily`, added to with one atomic `INSERT … ON CONFLICT DO UPDATE`
/// per call, so replicas recording at once never lose a call; `usage_settings`).
public struct PostgresUsageStore: UsageStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func record(account: String, model: String, date: String, usage: TokenUsage) async throws {
        try await database.query(
            """
            INSERT INTO usage_daily (account, date, model, requests, input_tokens, cached_input_tokens, output_tokens)
            VALUES (\(account), \(date), \(model), 1, \(usage.inputTokens), \(usage.cachedInputTokens), \(usage.outputTokens))
            ON CONFLICT (account, date, model) DO UPDATE SET
                requests = usage_daily.requests + 1,
                input_tokens = usage_daily.input_tokens + excluded.input_tokens,
                cached_input_tokens = usage_daily.cached_input_tokens + excluded.cached_input_tokens,
                output_tokens = usage_daily.output_tokens + excluded.output_tokens
            """)
    }

    public func usage(account: String, from: String, to: String) async throws -> [UsageRecord] {
        try await database.query(
            """
            SELECT date, model, requests, input_tokens, cached_input_tokens, output_tokens FROM usage_daily
            WHERE account = \(account) AND date >= \(from) AND date <= \(to) ORDER BY date, model
            """
        ).map { UsageRecord(row: $0.makeRandomAccess()) }
    }

    public func tokens(account: String, from: String, to: String) async throws -> Int {
        let rows = try await database.query(
            """
            SELECT COALESCE(SUM(input_tokens + output_tokens), 0)::BIGINT AS tokens FROM usage_daily
            WHERE account = \(account) AND date >= \(from) AND date <= \(to)
            """)
        return rows.first?.makeRandomAccess().int("tokens") ?? 0
    }

    public func settings(account: String) async throws -> KeyUsageSettings {
        try await database.query(
            "SELECT tokens_per_day, tokens_per_month, models_allowed FROM usage_settings WHERE account = \(account)"
        ).first.map { KeyUsageSettings(row: $0.makeRandomAccess()) } ?? KeyUsageSettings()
    }

    public func setBudgets(account: String, tokensPerDay: Int?, tokensPerMonth: Int?) async throws {
        try await database.query(
            """
            INSERT INTO usage_settings (account, tokens_per_day, tokens_per_month, updated_at)
            VALUES (\(account), \(tokensPerDay), \(tokensPerMonth), \(Date().timeIntervalSince1970))
            ON CONFLICT (account) DO UPDATE SET
                tokens_per_day = COALESCE(excluded.tokens_per_day, usage_settings.tokens_per_day),
                tokens_per_month = COALESCE(excluded.tokens_per_month, usage_settings.tokens_per_month),
                updated_at = excluded.updated_at
            """)
    }

    public func setModelsAllowed(account: String, _ models: [String]?) async throws {
        let encoded = try models.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try await database.query(
            """
            INSERT INTO usage_settings (account, models_allowed, updated_at) VALUES (\(account), \(encoded), \(Date().timeIntervalSince1970))
            ON CONFLICT (account) DO UPDATE SET models_allowed = excluded.models_allowed, updated_at = excluded.updated_at
            """)
    }
}
