/// Request budgets kept where every replica sees them (PostgreSQL: ``PostgresRateLimitStore``),
/// so a limit of 5 per minute holds across all replicas together. With SQLite (one process) the
/// budgets stay in ``RateLimiter``'s memory, which costs nothing per request.
public protocol RateLimitCounterStore: Sendable {
    /// Takes one request from each of `principal`'s windows under `limits`, or refuses without
    /// taking any; atomic across replicas.
    func take(principal: String, limits: RateLimits) async throws -> RateLimiter.Decision
}
