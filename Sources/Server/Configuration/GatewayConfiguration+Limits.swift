import Foundation

extension GatewayConfiguration {
    /// The limits that protect the process and the provider: the retry budget of model
    /// requests, the failed-credential throttle and the conversation cache.
    mutating func loadLimits(environment: Environment) throws {
        if let raw = environment.nonEmpty("UPSTREAM_RETRY_BUDGET_SECONDS") {
            guard let value = Double(raw), value >= 0, value.isFinite else {
                throw environment.error("UPSTREAM_RETRY_BUDGET_SECONDS", "expected a number of seconds, 0 or more, found '\(raw)'")
            }
            upstreamRetryBudget = .milliseconds(Int64(value * 1000))
        }
        if let raw = environment.nonEmpty("AUTH_FAILURE_BUDGET_PER_MINUTE") {
            guard let value = Int(raw), value >= 0 else {
                throw environment.error("AUTH_FAILURE_BUDGET_PER_MINUTE", "expected a whole number, 0 to turn the throttle off, found '\(raw)'")
            }
            authFailureBudgetPerMinute = value
        }
        if let raw = environment.nonEmpty("CONVERSATION_CACHE_BYTES") {
            guard let value = Int(raw), value >= 0 else {
                throw environment.error("CONVERSATION_CACHE_BYTES", "expected a number of bytes, 0 or more, found '\(raw)'")
            }
            conversationCacheBytes = value
        }
    }
}
