import ArgumentParser
import Foundation
import GatewayServer
import Logging

/// `keys budget`, `keys models` and `keys usage` (PROTOCOLS.md §13). They write the gateway's
/// database; a running gateway reads a key's settings again within 2 s (``UsageLedger``).
extension Keys {
    /// The database, the usage ledger over it (with the configured defaults), and the IDs of the
    /// keys that exist: those of `GATEWAY_API_KEY` and the active stored ones.
    struct UsageContext {
        var database: GatewayDatabase
        var ledger: UsageLedger
        var configuredKeys: [String]
        var storedKeys: [String]

        static func open() async throws -> UsageContext {
            let configuration = try loadConfiguration(try loadEnvironment())
            let database = try openDatabase(configuration)
            let configured = configuration.apiKeys.map { database.fingerprinter.fingerprint(ofKey: $0) }
            let stored = try await SQLiteAPIKeyStore(database: database).list().filter { $0.revokedAt == nil }.map(\.id)
            var logger = Logger(label: "codex-gateway")
            logger.logLevel = .error
            let ledger = UsageLedger(
                store: SQLiteUsageStore(database: database),
                defaults: .init(tokensPerDay: configuration.tokenBudgetPerDay, tokensPerMonth: configuration.tokenBudgetPerMonth, accounts: Set(configured)),
                logger: logger
            )
            return UsageContext(database: database, ledger: ledger, configuredKeys: configured, storedKeys: stored)
        }

        var allKeys: [String] { configuredKeys + storedKeys.filter { !configuredKeys.contains($0) } }

        /// Exits 1 with a clear message (and the database closed) when `id` is no active key.
        func requireKey(_ id: String) async throws {
            guard allKeys.contains(id) else {
                try await database.close()
                FileHandle.standardError.write(Data("No active key \(id). `codex-gateway keys list` shows the IDs.\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    static func describeBudget(_ budget: Int?, used: Int, per period: String) -> String {
        guard let budget else { return "no budget per \(period) (used \(used))" }
        return "\(budget) tokens per \(period): used \(used), left \(max(0, budget - used))"
    }

    struct Budget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a key's token budgets (input + output tokens); 0 clears one. A running gateway applies them within 5 s."
        )
        @Argument(help: "The key's ID (see `keys list`).") var id: String
        @Option(parsing: .unconditional, help: "Tokens per UTC day; 0 for none.") var tokensPerDay: Int?
        @Option(parsing: .unconditional, help: "Tokens per calendar month (UTC); 0 for none.") var tokensPerMonth: Int?

        func validate() throws {
            guard tokensPerDay != nil || tokensPerMonth != nil else { throw ValidationError("give --tokens-per-day, --tokens-per-month, or both") }
            for (name, value) in [("--tokens-per-day", tokensPerDay), ("--tokens-per-month", tokensPerMonth)] {
                if let value, value < 0 { throw ValidationError("\(name) must be 0 (no budget) or more, not \(value)") }
            }
        }

        func run() async throws {
            let context = try await UsageContext.open()
            try await context.requireKey(id)
            try await context.ledger.store.setBudgets(account: id, tokensPerDay: tokensPerDay, tokensPerMonth: tokensPerMonth)
            let status = try await context.ledger.status(account: id)
            try await context.database.close()
            print("\(id): \(Keys.describeBudget(status.tokensPerDay, used: status.usedToday, per: "day")); \(Keys.describeBudget(status.tokensPerMonth, used: status.usedThisMonth, per: "month")).")
        }
    }

    struct Models: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Limit the models a key may call (--allow m1,m2), or allow any (--any). A running gateway applies it within 5 s."
        )
        @Argument(help: "The key's ID (see `keys list`).") var id: String
        @Option(help: "The models allowed, comma-separated.") var allow: String?
        @Flag(help: "Allow any model.") var any = false

        var models: [String] {
            (allow ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func validate() throws {
            guard (allow != nil) != any else { throw ValidationError("give either --allow m1,m2 or --any") }
            if allow != nil, models.isEmpty { throw ValidationError("--allow needs at least one model name") }
        }

        func run() async throws {
            let context = try await UsageContext.open()
            try await context.requireKey(id)
            try await context.ledger.store.setModelsAllowed(account: id, any ? nil : models)
            try await context.database.close()
            print(any ? "\(id): any model." : "\(id): only \(models.joined(separator: ", ")).")
        }
    }

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a key's usage by day and model (every key's without an ID), its budgets and what is left."
        )
        @Argument(help: "The key's ID (see `keys list`); all keys when omitted.") var id: String?
        @Option(help: "First UTC day, YYYY-MM-DD (default: the first of this month).") var from: String?
        @Option(help: "Last UTC day, YYYY-MM-DD (default: today).") var to: String?

        func run() async throws {
            let range: UsageRange
            switch UsageRange.parse(from: from, to: to) {
            case .success(let parsed): range = parsed
            case .failure(let error): throw ValidationError(error.message)
            }
            let context = try await UsageContext.open()
            if let id { try await context.requireKey(id) }
            var output: [String] = []
            for key in id.map({ [$0] }) ?? context.allKeys {
                let rows = try await context.ledger.usage(account: key, from: range.from, to: range.to)
                let status = try await context.ledger.status(account: key)
                output.append("\(key)  (\(range.from) to \(range.to))")
                output.append(Keys.table(rows))
                output.append("  budget: \(Keys.describeBudget(status.tokensPerDay, used: status.usedToday, per: "day"))")
                output.append("  budget: \(Keys.describeBudget(status.tokensPerMonth, used: status.usedThisMonth, per: "month"))")
                output.append("  models: \(status.modelsAllowed?.joined(separator: ", ") ?? "any")")
                output.append("")
            }
            try await context.database.close()
            print(output.joined(separator: "\n"), terminator: "")
        }
    }

    /// The rows as an aligned table: date, model, requests and tokens.
    static func table(_ rows: [UsageRecord]) -> String {
        let header = ["DATE", "MODEL", "REQUESTS", "INPUT", "CACHED", "OUTPUT", "TOKENS"]
        let lines = [header] + rows.map {
            [$0.date, $0.model, "\($0.requests)", "\($0.inputTokens)", "\($0.cachedInputTokens)", "\($0.outputTokens)", "\($0.budgetTokens)"]
        }
        guard rows.count > 0 else { return "  (no model calls)" }
        let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            "  " + line.enumerated().map { column, text in
                column < 2 ? text.padding(toLength: widths[column], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[column] - text.count) + text
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
