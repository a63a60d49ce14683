/// A bucket of `capacity` tokens refilled continuously over `window` seconds.
///
/// A full bucket allows a burst of `capacity` requests; after that, one request per
/// `window / capacity` seconds. Times are seconds on a monotonic clock.
struct TokenBucket: Sendable {
    let capacity: Double
    let window: Double
    private(set) var tokens: Double
    private(set) var updated: Double

    init(capacity: Int, window: Double, now: Double) {
        self.capacity = Double(capacity)
        self.window = window
        self.tokens = Double(capacity)
        self.updated = now
    }

    /// A bucket as stored (shared rate limits, ``PostgresRateLimitStore``).
    init(capacity: Int, window: Double, tokens: Double, updated: Double) {
        self.capacity = Double(capacity)
        self.window = window
        self.tokens = min(Double(capacity), tokens)
        self.updated = updated
    }

    var refillPerSecond: Double { capacity / window }

    mutating func refill(now: Double) {
        guard now > updated else { return }
        tokens = min(capacity, tokens + (now - updated) * refillPerSecond)
        updated = now
    }

    /// Call after `refill(now:)`.
    var hasToken: Bool { tokens >= 1 }

    mutating func take() { tokens -= 1 }

    var remaining: Int { max(0, Int(tokens.rounded(.down))) }

    /// Seconds until one token is available (at least 1, as `Retry-After` is whole seconds).
    var secondsUntilToken: Int { max(1, Int(((1 - tokens) / refillPerSecond).rounded(.up))) }

    /// Seconds until the bucket is full again.
    var secondsUntilFull: Int { max(0, Int(((capacity - tokens) / refillPerSecond).rounded(.up))) }

    var isFull: Bool { tokens >= capacity }

    /// Keeps the fill ratio when the capacity changes (a key's limits were edited).
    func resized(to capacity: Int, now: Double) -> TokenBucket {
        var bucket = TokenBucket(capacity: capacity, window: window, now: now)
        bucket.tokens = self.capacity > 0 ? Double(capacity) * (tokens / self.capacity) : Double(capacity)
        return bucket
    }
}
