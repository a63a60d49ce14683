import Metrics
import NIOCore
import Synchronization

/// Per-principal token buckets (per minute, hour and day) and a cap on concurrent turns
/// (PROTOCOLS.md §0).
///
/// State is in memory, per process, unless a ``RateLimitCounterStore`` is given (PostgreSQL: the
/// request budgets are then shared by every replica). Entries of
/// principals whose buckets are full again and that run no turns are dropped, so memory follows
/// the number of recently active principals.
public final class RateLimiter: Sendable {
    public enum Decision: Sendable, Hashable {
        /// Admitted; nil status when every window is unlimited.
        case allowed(RateLimitStatus?)
        /// Refused: retry after `retryAfter` seconds.
        case refused(RateLimitStatus, retryAfter: Int)
    }

    private struct Entry {
        var limits: RateLimits
        var buckets: [TokenBucket]
        var runningTurns = 0
    }

    static func windows(_ limits: RateLimits) -> [(capacity: Int, seconds: Double)] {
        [(limits.perMinute, 60), (limits.perHour, 3600), (limits.perDay, 86400)]
    }

    public let defaults: RateLimits
    /// Where request budgets are kept when several replicas share them; nil: in memory.
    /// (Concurrent turns are counted per process either way: a turn runs where it started.)
    public let shared: (any RateLimitCounterStore)?
    private let clock: @Sendable () -> Double
    private let state = Mutex<[String: Entry]>([:])
    private let sweepThreshold: Int
    private let refusals: Counter
    private let turnRefusals: Counter

    /// - Parameters:
    ///   - defaults: the limits of principals without overrides.
    ///   - clock: seconds on a monotonic clock (tests pass their own).
    public init(
        defaults: RateLimits,
        sweepThreshold: Int = 10_000,
        shared: (any RateLimitCounterStore)? = nil,
        clock: @escaping @Sendable () -> Double = { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }
    ) {
        self.defaults = defaults
        self.shared = shared
        self.clock = clock
        self.sweepThreshold = sweepThreshold
        self.refusals = Counter(label: GatewayMetrics.rateLimitRefusals, dimensions: [("reason", "rate_limited")])
        self.turnRefusals = Counter(label: GatewayMetrics.rateLimitRefusals, dimensions: [("reason", "too_many_turns")])
    }

    /// The limits that apply to `principal`.
    public func limits(for principal: Principal) -> RateLimits {
        defaults.applying(principal.limitOverrides)
    }

    /// Takes one request from each of the principal's windows, or refuses without taking any.
    public func admit(_ principal: Principal) -> Decision {
        let limits = limits(for: principal)
        let now = clock()
        let decision = state.withLock { entries -> Decision in
            if entries.count > sweepThreshold { Self.sweep(&entries, now: now) }
            var entry = Self.entry(entries[principal.id], limits: limits, now: now)
            defer { entries[principal.id] = entry }
            return Self.take(&entry.buckets, now: now)
        }
        if case .refused = decision { refusals.increment() }
        return decision
    }

    /// Takes one request from every bucket, or refuses without taking any.
    static func take(_ buckets: inout [TokenBucket], now: Double) -> Decision {
        guard !buckets.isEmpty else { return .allowed(nil) }
        for index in buckets.indices { buckets[index].refill(now: now) }
        let exhausted = buckets.filter { !$0.hasToken }
        if !exhausted.isEmpty {
            let retryAfter = exhausted.map(\.secondsUntilToken).max() ?? 1
            return .refused(status(buckets), retryAfter: retryAfter)
        }
        for index in buckets.indices { buckets[index].take() }
        return .allowed(status(buckets))
    }

    /// Like ``admit(_:)``, in the shared store when there is one (PostgreSQL: the budgets hold
    /// across every replica together), else in this process's memory.
    public func decide(_ principal: Principal) async throws -> Decision {
        guard let shared else { return admit(principal) }
        let decision = try await shared.take(principal: principal.id, limits: limits(for: principal))
        if case .refused = decision { refusals.increment() }
        return decision
    }

    /// A permit to run one turn, or nil when the principal already runs as many as it may.
    /// The turn counts until the permit is released (or dropped). A principal without overrides
    /// gets the limits its latest admitted request had (a webhook's turn, run later as the
    /// sender, is capped like the sender's requests).
    public func acquireTurn(for principal: Principal) -> TurnPermit? {
        let now = clock()
        let acquired = state.withLock { entries -> Bool in
            let existing = entries[principal.id]
            let limits = principal.limitOverrides.isEmpty ? existing?.limits ?? defaults : limits(for: principal)
            var entry = Self.entry(existing, limits: limits, now: now)
            defer { entries[principal.id] = entry }
            guard limits.concurrentTurns == 0 || entry.runningTurns < limits.concurrentTurns else { return false }
            entry.runningTurns += 1
            return true
        }
        guard acquired else {
            turnRefusals.increment()
            return nil
        }
        return TurnPermit(limiter: self, principalID: principal.id)
    }

    func releaseTurn(principalID: String) {
        state.withLock { entries in
            guard var entry = entries[principalID] else { return }
            entry.runningTurns = max(0, entry.runningTurns - 1)
            entries[principalID] = entry
        }
    }

    /// Turns running for `principal` now (for tests and diagnostics).
    public func runningTurns(for principal: Principal) -> Int {
        state.withLock { $0[principal.id]?.runningTurns ?? 0 }
    }

    /// Principals with state held now (idle ones are dropped past the sweep threshold).
    public var trackedPrincipals: Int { state.withLock { $0.count } }

    private static func entry(_ existing: Entry?, limits: RateLimits, now: Double) -> Entry {
        let capacities = windows(limits).filter { $0.capacity > 0 }
        guard var entry = existing else {
            return Entry(limits: limits, buckets: capacities.map { TokenBucket(capacity: $0.0, window: $0.1, now: now) })
        }
        if entry.limits != limits {
            entry.buckets = capacities.map { capacity, window in
                entry.buckets.first(where: { $0.window == window })?.resized(to: capacity, now: now)
                    ?? TokenBucket(capacity: capacity, window: window, now: now)
            }
            entry.limits = limits
        }
        return entry
    }

    /// The window with the fewest requests left (the longer window on a tie: it takes longer to recover).
    static func status(_ buckets: [TokenBucket]) -> RateLimitStatus {
        let tightest = buckets.min { lhs, rhs in
            lhs.remaining != rhs.remaining ? lhs.remaining < rhs.remaining : lhs.window > rhs.window
        }!
        return RateLimitStatus(
            limit: Int(tightest.capacity),
            window: Int(tightest.window),
            remaining: tightest.remaining,
            resetSeconds: tightest.secondsUntilFull,
            policy: buckets.map { "\(Int($0.capacity));w=\(Int($0.window))" }.joined(separator: ", ")
        )
    }

    private static func sweep(_ entries: inout [String: Entry], now: Double) {
        entries = entries.filter { _, entry in
            entry.runningTurns > 0
                || entry.buckets.contains { bucket in
                    var bucket = bucket
                    bucket.refill(now: now)
                    return !bucket.isFull
                }
        }
    }
}

/// One running turn of a principal. Released explicitly when the turn ends, or when dropped.
public final class TurnPermit: Sendable {
    private let limiter: RateLimiter
    private let principalID: String
    private let released = Atomic<Bool>(false)

    init(limiter: RateLimiter, principalID: String) {
        self.limiter = limiter
        self.principalID = principalID
    }

    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        limiter.releaseTurn(principalID: principalID)
    }

    deinit { release() }
}
