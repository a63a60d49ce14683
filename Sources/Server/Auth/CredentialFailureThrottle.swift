import Foundation
import NIOCore
import Synchronization

/// Slows credential guessing (PROTOCOLS.md §0): failed attempts (a wrong API key or token, a
/// wrong client secret or authorization code, a wrong key on the consent page) are counted per
/// source address and per OAuth client id. Each may fail `budgetPerMinute` times in a burst, then
/// one more time per `60 / budgetPerMinute` seconds; past that its attempts are refused with 429
/// until the budget refills, right credentials included, so a guess can no longer be tested.
public final class CredentialFailureThrottle: Sendable {
    /// Who failed: where the attempt came from, or which OAuth client it named.
    public enum Subject: Hashable, Sendable, CustomStringConvertible {
        case address(String)
        case client(String)

        public var description: String {
            switch self {
            case .address(let address): "address \(address)"
            case .client(let clientID): "client \(clientID)"
            }
        }
    }

    let budgetPerMinute: Int
    private let clock: @Sendable () -> Double
    private let buckets = Mutex<[Subject: TokenBucket]>([:])
    /// Beyond this many subjects, buckets that have refilled are dropped.
    private let sweepThreshold: Int

    /// - Parameters:
    ///   - budgetPerMinute: `AUTH_FAILURE_BUDGET_PER_MINUTE`; 0 turns the throttle off.
    ///   - clock: seconds on a monotonic clock (tests pass their own).
    public init(
        budgetPerMinute: Int,
        sweepThreshold: Int = 10_000,
        clock: @escaping @Sendable () -> Double = { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }
    ) {
        self.budgetPerMinute = budgetPerMinute
        self.sweepThreshold = sweepThreshold
        self.clock = clock
    }

    public var isEnabled: Bool { budgetPerMinute > 0 }

    /// Whether any subject has a failure on record (refilled ones may linger until a sweep).
    public var hasFailures: Bool { buckets.withLock { !$0.isEmpty } }

    /// Seconds to wait (for `Retry-After`) if any of `subjects` has spent its budget, else nil.
    public func refusal(_ subjects: [Subject]) -> Int? {
        guard isEnabled else { return nil }
        let now = clock()
        return buckets.withLock { buckets in
            subjects.compactMap { subject -> Int? in
                guard var bucket = buckets[subject] else { return nil }
                bucket.refill(now: now)
                buckets[subject] = bucket
                return bucket.hasToken ? nil : bucket.secondsUntilToken
            }.max()
        }
    }

    /// Counts one failed attempt against each of `subjects`.
    public func recordFailure(_ subjects: [Subject]) {
        guard isEnabled else { return }
        let now = clock()
        buckets.withLock { buckets in
            if buckets.count > sweepThreshold { Self.sweep(&buckets, now: now) }
            for subject in subjects {
                var bucket = buckets[subject] ?? TokenBucket(capacity: budgetPerMinute, window: 60, now: now)
                bucket.refill(now: now)
                if bucket.tokens > 0 { bucket.take() }
                buckets[subject] = bucket
            }
        }
    }

    /// Subjects held now (refilled ones are dropped past the sweep threshold).
    var trackedCount: Int { buckets.withLock { $0.count } }

    private static func sweep(_ buckets: inout [Subject: TokenBucket], now: Double) {
        buckets = buckets.filter { _, bucket in
            var bucket = bucket
            bucket.refill(now: now)
            return !bucket.isFull
        }
    }

    /// The subject for a client's address: the address itself for IPv4, its /64 for IPv6 (one
    /// host usually holds a whole /64, so single addresses would cost it nothing to change).
    public static func subject(for address: SocketAddress?) -> Subject? {
        guard let address, let ip = address.ipAddress else { return nil }
        guard case .v6 = address else { return .address(ip) }
        if let mapped = ip.lowercased().split(separator: ":").last, ip.lowercased().hasPrefix("::ffff:"), mapped.contains(".") {
            return .address(String(mapped))
        }
        let groups = expandedIPv6Groups(ip)
        return .address(groups.prefix(4).joined(separator: ":") + "::/64")
    }

    /// The eight groups of an IPv6 address written with `::`.
    static func expandedIPv6Groups(_ ip: String) -> [String] {
        let halves = ip.components(separatedBy: "::")
        let head = halves[0].split(separator: ":").map(String.init)
        let tail = halves.count > 1 ? halves[1].split(separator: ":").map(String.init) : []
        let zeros = Array(repeating: "0", count: max(0, 8 - head.count - tail.count))
        return head + zeros + tail
    }
}
