/// Decides which of a streaming message's snapshots become `item.updated` events.
///
/// Every `item.updated` carries the whole text so far (Codex's shape), so one per model delta
/// makes an answer cost bytes quadratic in its length. A snapshot goes out when the text has
/// grown by a quarter since the last one sent (so all of them together are at most five times
/// the final text), or when it has grown at all and `interval` has passed (so a slow stream still
/// shows progress, at most one snapshot per interval).
struct ItemUpdateCoalescer {
    let interval: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant
    private var sentLength = 0
    private var sentAt: ContinuousClock.Instant?

    init(interval: Duration = .seconds(1), clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.interval = interval
        self.clock = clock
    }

    /// Whether the snapshot of `length` UTF-8 bytes should be sent; if so it counts as sent.
    mutating func shouldSend(length: Int) -> Bool {
        guard length > sentLength else { return false }
        let now = clock()
        let grownEnough = length - sentLength >= max(1, sentLength / 4)
        let waitedEnough = sentAt.map { now - $0 >= interval } ?? true
        guard grownEnough || waitedEnough else { return false }
        sentLength = length
        sentAt = now
        return true
    }

    /// A new attempt of the turn starts its text again.
    mutating func reset() {
        sentLength = 0
        sentAt = nil
    }
}
