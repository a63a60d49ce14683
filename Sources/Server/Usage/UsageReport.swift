import Foundation
import GatewayAPI
import GatewayRuntime

/// The days a usage report covers, from a request's `from` and `to` (`YYYY-MM-DD`, UTC).
public struct UsageRange: Sendable, Hashable {
    public var from: String
    public var to: String

    /// The longest range one report covers, in days (a little over a year).
    public static let maximumDays = 400

    /// `from` defaults to the first of this month, `to` to today; a day that is not a real
    /// `YYYY-MM-DD`, `from` after `to`, or a range above ``maximumDays`` is a 400.
    public static func parse(from: String?, to: String?, now: Date = Date()) -> Result<UsageRange, UsageRangeError> {
        func day(_ name: String, _ text: String?, fallback: String) -> Result<Date, UsageRangeError> {
            let text = text ?? fallback
            guard let date = UTCCalendar.parseDay(text) else {
                return .failure(UsageRangeError("\(name): expected a date as YYYY-MM-DD (UTC), found '\(text.prefix(40))'."))
            }
            return .success(date)
        }
        let start: Date
        let end: Date
        switch day("from", from, fallback: UTCCalendar.firstOfMonth(of: now)) {
        case .success(let date): start = date
        case .failure(let error): return .failure(error)
        }
        switch day("to", to, fallback: UTCCalendar.day(of: now)) {
        case .success(let date): end = date
        case .failure(let error): return .failure(error)
        }
        guard start <= end else {
            return .failure(UsageRangeError("from (\(UTCCalendar.day(of: start))) is after to (\(UTCCalendar.day(of: end)))."))
        }
        guard end.timeIntervalSince(start) / 86400 < Double(maximumDays) else {
            return .failure(UsageRangeError("from and to are more than \(maximumDays) days apart; ask for a shorter range."))
        }
        return .success(UsageRange(from: UTCCalendar.day(of: start), to: UTCCalendar.day(of: end)))
    }
}

/// Why a usage range was refused: a sentence for the caller (a 400 `invalid_request`).
public struct UsageRangeError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var code: String { "invalid_request" }
    public var description: String { message }

    init(_ message: String) {
        self.message = message
    }
}

extension UsageLedger {
    /// What `GET /usage` (and JSON-RPC `usage.get`) answers for `account`.
    public func report(account: String, range: UsageRange) async throws -> UsageReport {
        let rows = try await usage(account: account, from: range.from, to: range.to)
        let status = try await status(account: account)
        return UsageReport(
            usage: rows.map {
                UsageDay(
                    date: $0.date, model: $0.model, requests: $0.requests, inputTokens: $0.inputTokens,
                    cachedInputTokens: $0.cachedInputTokens, outputTokens: $0.outputTokens
                )
            },
            budget: TokenBudget(
                tokensPerDay: status.tokensPerDay,
                tokensPerMonth: status.tokensPerMonth,
                usedToday: status.usedToday,
                usedThisMonth: status.usedThisMonth,
                resetsAt: UTCCalendar.timestamp(status.resetsAt)
            ),
            modelsAllowed: status.modelsAllowed
        )
    }
}
