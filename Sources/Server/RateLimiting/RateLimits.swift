/// A principal's budgets. Zero means unlimited.
public struct RateLimits: Sendable, Hashable {
    public var perMinute: Int
    public var perHour: Int
    public var perDay: Int
    /// Turns (prompts, exec runs, relayed completions) a principal may have running at once.
    public var concurrentTurns: Int

    public init(perMinute: Int, perHour: Int, perDay: Int, concurrentTurns: Int) {
        self.perMinute = perMinute
        self.perHour = perHour
        self.perDay = perDay
        self.concurrentTurns = concurrentTurns
    }

    /// PROTOCOLS.md §0: 100 / 1000 / 10000 requests per minute / hour / day.
    public static let defaults = RateLimits(perMinute: 100, perHour: 1000, perDay: 10000, concurrentTurns: 8)

    /// No limit at all.
    public static let unlimited = RateLimits(perMinute: 0, perHour: 0, perDay: 0, concurrentTurns: 0)

    /// These limits with `overrides` applied field by field.
    public func applying(_ overrides: RateLimitOverrides) -> RateLimits {
        RateLimits(
            perMinute: overrides.perMinute ?? perMinute,
            perHour: overrides.perHour ?? perHour,
            perDay: overrides.perDay ?? perDay,
            concurrentTurns: overrides.concurrentTurns ?? concurrentTurns
        )
    }
}

/// Per-key limits set with `codex-gateway keys limits`; nil fields take the configured default.
public struct RateLimitOverrides: Sendable, Hashable {
    public var perMinute: Int?
    public var perHour: Int?
    public var perDay: Int?
    public var concurrentTurns: Int?

    public init(perMinute: Int? = nil, perHour: Int? = nil, perDay: Int? = nil, concurrentTurns: Int? = nil) {
        self.perMinute = perMinute
        self.perHour = perHour
        self.perDay = perDay
        self.concurrentTurns = concurrentTurns
    }

    public var isEmpty: Bool { self == RateLimitOverrides() }
}

/// What the `X-RateLimit-*` headers of one response say: the window with the fewest requests left.
public struct RateLimitStatus: Sendable, Hashable {
    public var limit: Int
    /// That window's length in seconds (60, 3600 or 86400).
    public var window: Int
    public var remaining: Int
    /// Whole seconds until that window is full again.
    public var resetSeconds: Int
    /// Every limited window, e.g. `100;w=60, 1000;w=3600` (the IETF RateLimit-Policy syntax).
    public var policy: String
}
