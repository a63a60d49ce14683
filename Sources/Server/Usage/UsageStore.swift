import Foundation
import ModelProvider

/// One row of usage: what a principal spent on one model on one UTC day.
public struct UsageRecord: Sendable, Hashable {
    /// `YYYY-MM-DD`, UTC.
    public var date: String
    public var model: String
    public var requests: Int
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var outputTokens: Int

    public init(date: String, model: String, requests: Int, inputTokens: Int, cachedInputTokens: Int, outputTokens: Int) {
        self.date = date
        self.model = model
        self.requests = requests
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
    }

    /// What a budget counts: input plus output tokens (cached input is part of the input).
    public var budgetTokens: Int { inputTokens + outputTokens }
}

/// A key's token budgets and model allowlist as set with `codex-gateway keys budget` / `keys models`.
///
/// A nil budget is "not set": the key takes the default (`TOKEN_BUDGET_PER_DAY` /
/// `TOKEN_BUDGET_PER_MONTH` for keys from `GATEWAY_API_KEY`, none for the others); 0 is "no budget",
/// which also overrides a default.
public struct KeyUsageSettings: Sendable, Hashable {
    public var tokensPerDay: Int?
    public var tokensPerMonth: Int?
    /// Nil: any model.
    public var modelsAllowed: [String]?

    public init(tokensPerDay: Int? = nil, tokensPerMonth: Int? = nil, modelsAllowed: [String]? = nil) {
        self.tokensPerDay = tokensPerDay
        self.tokensPerMonth = tokensPerMonth
        self.modelsAllowed = modelsAllowed
    }
}

/// Where usage, budgets and allowlists persist, apart from the stores of keys and tokens (so that
/// a backend can hold them in tables of their own). Accounts are principals' ``Principal/owner``s:
/// an API key's ID, or what an OAuth grant acts for.
public protocol UsageStore: Sendable {
    /// Adds one model call to `account`'s row for `model` on `date` (`YYYY-MM-DD`, UTC).
    func record(account: String, model: String, date: String, usage: TokenUsage) async throws
    /// `account`'s rows from `from` to `to` (inclusive, `YYYY-MM-DD`), by date then model.
    func usage(account: String, from: String, to: String) async throws -> [UsageRecord]
    /// Input plus output tokens `account` used from `from` to `to` (inclusive).
    func tokens(account: String, from: String, to: String) async throws -> Int
    /// The settings stored for `account` (all nil when none).
    func settings(account: String) async throws -> KeyUsageSettings
    /// Sets the budgets named (a nil argument keeps the stored value).
    func setBudgets(account: String, tokensPerDay: Int?, tokensPerMonth: Int?) async throws
    /// Sets the allowlist (nil: any model).
    func setModelsAllowed(account: String, _ models: [String]?) async throws
}
