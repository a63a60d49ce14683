import Foundation
import Logging
import ModelProvider
import Synchronization

/// Meters every model call against its account (a principal's ``Principal/owner``) and keeps each
/// account to its token budgets and model allowlist (PROTOCOLS.md §13).
///
/// Why a cache in front of the ``UsageStore``: a budget is checked before every model call (an
/// agent turn makes many), and a query per call would put the database on the relay's path. Each
/// account's settings and totals are read at most every ``refreshInterval`` (2 s), so what
/// `codex-gateway keys budget` writes to the database from another process reaches a running
/// gateway within that; calls this gateway records are added to the cached totals at once.
///
/// Recording is synchronous for its callers (the relay records from the event loop, before the
/// client sees an answer's last byte); the write runs in a task of its own, and a reader of usage
/// (``usage(account:from:to:)``) waits for the writes already started, so a client that reads
/// `/usage` after an answer ended finds it counted.
public final class UsageLedger: Sendable {
    /// The budgets of accounts with none stored: `TOKEN_BUDGET_PER_DAY`/`TOKEN_BUDGET_PER_MONTH`
    /// (0: none) for the keys from `GATEWAY_API_KEY`, by their IDs.
    public struct Defaults: Sendable {
        public var tokensPerDay: Int
        public var tokensPerMonth: Int
        public var accounts: Set<String>

        public init(tokensPerDay: Int = 0, tokensPerMonth: Int = 0, accounts: Set<String> = []) {
            self.tokensPerDay = tokensPerDay
            self.tokensPerMonth = tokensPerMonth
            self.accounts = accounts
        }
    }

    /// An account's budgets in effect, what it used, and the models it may call.
    public struct Status: Sendable {
        /// Nil: no budget.
        public var tokensPerDay: Int?
        public var tokensPerMonth: Int?
        public var usedToday: Int
        public var usedThisMonth: Int
        /// Nil: any model.
        public var modelsAllowed: [String]?
        /// When the caller may spend again if it is over a budget; else when `usedToday` resets.
        public var resetsAt: Date

        public var leftToday: Int? { tokensPerDay.map { max(0, $0 - usedToday) } }
        public var leftThisMonth: Int? { tokensPerMonth.map { max(0, $0 - usedThisMonth) } }
    }

    /// Why a model call may not be made.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// 429 `budget_exceeded`; `retryAfter` seconds until the budget resets.
        case budgetExceeded(message: String, retryAfter: Int)
        /// 403 `model_not_allowed`.
        case modelNotAllowed(model: String, allowed: [String])

        public var description: String {
            switch self {
            case .budgetExceeded(let message, _): message
            case .modelNotAllowed(let model, let allowed):
                "The model '\(model)' is not allowed for this key (allowed: \(allowed.joined(separator: ", ")))."
            }
        }
    }

    private struct Entry {
        var settings: KeyUsageSettings
        var day: String
        var usedToday: Int
        var usedThisMonth: Int
        var fetchedAt: ContinuousClock.Instant
    }

    private struct Pending {
        var next = 0
        var writes: [Int: Task<Void, Never>] = [:]
    }

    public let store: any UsageStore
    let defaults: Defaults
    let refreshInterval: Duration
    let logger: Logger
    private let cache = Mutex<[String: Entry]>([:])
    private let pending = Mutex(Pending())
    /// Agent turns whose model call was refused for a budget, by thread: the turn's failure says so.
    private let refusedTurns = Mutex<[String: String]>([:])

    public init(store: any UsageStore, defaults: Defaults = .init(), refreshInterval: Duration = .seconds(2), logger: Logger) {
        self.store = store
        self.defaults = defaults
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    // MARK: Recording

    /// Counts one model call of `account` (its usage as far as it is known).
    public func record(account: String, model: String, usage: TokenUsage, at date: Date = Date()) {
        let day = UTCCalendar.day(of: date)
        let tokens = usage.inputTokens + usage.outputTokens
        cache.withLock { cache in
            guard var entry = cache[account] else { return }
            guard entry.day == day else {
                cache[account] = nil
                return
            }
            entry.usedToday += tokens
            entry.usedThisMonth += tokens
            cache[account] = entry
        }
        let store = store
        let logger = logger
        pending.withLock { pending in
            let id = pending.next
            pending.next += 1
            pending.writes[id] = Task {
                do {
                    try await store.record(account: account, model: model, date: day, usage: usage)
                } catch {
                    logger.error("usage.record_failed", metadata: ["usage.account": .string(account), "error.message": .string(String(describing: error))])
                }
                _ = self.pending.withLock { $0.writes.removeValue(forKey: id) }
            }
        }
    }

    /// Waits for the writes already started.
    public func flush() async {
        let writes = pending.withLock { Array($0.writes.values) }
        for write in writes { await write.value }
    }

    // MARK: Reading

    /// `account`'s usage by day and model, from `from` to `to` (`YYYY-MM-DD`, inclusive).
    public func usage(account: String, from: String, to: String) async throws -> [UsageRecord] {
        await flush()
        return try await store.usage(account: account, from: from, to: to)
    }

    /// `account`'s budgets in effect and what it used (from the cache when fresh).
    public func status(account: String, now: Date = Date()) async throws -> Status {
        let entry = try await entry(account, now: now)
        let perDay = effective(entry.settings.tokensPerDay, default: defaults.tokensPerDay, account: account)
        let perMonth = effective(entry.settings.tokensPerMonth, default: defaults.tokensPerMonth, account: account)
        // Over the monthly budget, nothing can be spent before the month ends; else the day's end.
        let overMonth = perMonth.map { entry.usedThisMonth >= $0 } ?? false
        let resetsAt = overMonth ? UTCCalendar.startOfNextMonth(after: now) : UTCCalendar.nextMidnight(after: now)
        return Status(
            tokensPerDay: perDay,
            tokensPerMonth: perMonth,
            usedToday: entry.usedToday,
            usedThisMonth: entry.usedThisMonth,
            modelsAllowed: entry.settings.modelsAllowed,
            resetsAt: resetsAt
        )
    }

    /// Why `account` may not call `model` now, or nil when it may. A store that fails lets the call
    /// through (and logs): the gateway's model traffic does not stop for its accounting.
    public func check(account: String, model: String, now: Date = Date()) async -> Refusal? {
        let status: Status
        do {
            status = try await self.status(account: account, now: now)
        } catch {
            logger.error("usage.check_failed", metadata: ["usage.account": .string(account), "error.message": .string(String(describing: error))])
            return nil
        }
        if let allowed = status.modelsAllowed, !allowed.contains(model) {
            return .modelNotAllowed(model: model, allowed: allowed)
        }
        let retryAfter = max(1, Int(status.resetsAt.timeIntervalSince(now).rounded(.up)))
        let reset = UTCCalendar.timestamp(status.resetsAt)
        if let perMonth = status.tokensPerMonth, status.usedThisMonth >= perMonth {
            return .budgetExceeded(
                message: "The monthly token budget of this key is used up (\(status.usedThisMonth) of \(perMonth) tokens); it resets at \(reset).",
                retryAfter: retryAfter
            )
        }
        if let perDay = status.tokensPerDay, status.usedToday >= perDay {
            return .budgetExceeded(
                message: "The daily token budget of this key is used up (\(status.usedToday) of \(perDay) tokens); it resets at \(reset).",
                retryAfter: retryAfter
            )
        }
        return nil
    }

    /// Forgets the cached state of `account` (after a change made in this process).
    public func invalidate(account: String) {
        _ = cache.withLock { $0.removeValue(forKey: account) }
    }

    // MARK: Agent turns

    /// An agent turn's model call was refused (``check(account:model:now:)``): its failure says why.
    public func noteRefusedTurn(threadID: String, _ refusal: Refusal) {
        refusedTurns.withLock { $0[threadID.lowercased()] = refusal.description }
    }

    /// Why thread `threadID`'s turn had a model call refused, if it had; forgotten once read.
    public func takeRefusedTurn(threadID: String) -> String? {
        refusedTurns.withLock { $0.removeValue(forKey: threadID.lowercased()) }
    }

    // MARK: Internals

    private func effective(_ stored: Int?, default fallback: Int, account: String) -> Int? {
        if let stored { return stored > 0 ? stored : nil }
        return defaults.accounts.contains(account) && fallback > 0 ? fallback : nil
    }

    private func entry(_ account: String, now: Date) async throws -> Entry {
        let day = UTCCalendar.day(of: now)
        let cached = cache.withLock { $0[account] }
        if let cached, cached.day == day, ContinuousClock.now - cached.fetchedAt < refreshInterval { return cached }
        await flush()
        let fetchedAt = ContinuousClock.now
        let settings = try await store.settings(account: account)
        let usedToday = try await store.tokens(account: account, from: day, to: day)
        let usedThisMonth = try await store.tokens(account: account, from: UTCCalendar.firstOfMonth(of: now), to: day)
        let entry = Entry(settings: settings, day: day, usedToday: usedToday, usedThisMonth: usedThisMonth, fetchedAt: fetchedAt)
        cache.withLock { $0[account] = entry }
        return entry
    }
}

/// Dates as usage keeps them: UTC days (`YYYY-MM-DD`), and the budgets' resets.
public enum UTCCalendar {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    public static func day(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    public static func firstOfMonth(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month], from: date)
        return String(format: "%04d-%02d-01", parts.year!, parts.month!)
    }

    public static func nextMidnight(after date: Date) -> Date {
        calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: date))!
    }

    public static func startOfNextMonth(after date: Date) -> Date {
        let first = calendar.date(from: calendar.dateComponents([.year, .month], from: date))!
        return calendar.date(byAdding: .month, value: 1, to: first)!
    }

    /// `date` as RFC 3339 in UTC, whole seconds.
    public static func timestamp(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
    }

    /// The day a strict `YYYY-MM-DD` names, or nil (`2026-02-30` is nil).
    public static func parseDay(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes.enumerated().allSatisfy({ $0.offset == 4 || $0.offset == 7 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0.element) }),
            let year = Int(text.prefix(4)), let month = Int(text.dropFirst(5).prefix(2)), let day = Int(text.suffix(2))
        else { return nil }
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date
    }
}

extension UsageLedger.Refusal {
    /// The error code every protocol answers with.
    public var code: String {
        switch self {
        case .budgetExceeded: "budget_exceeded"
        case .modelNotAllowed: "model_not_allowed"
        }
    }
}
