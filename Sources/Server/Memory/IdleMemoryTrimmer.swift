#if canImport(Glibc)
import Glibc
#endif
import ServiceLifecycle
import Synchronization

/// Hands freed heap memory back to the system once the gateway has gone quiet.
///
/// glibc's allocator keeps what a burst of requests freed: after the benchmark's loads the
/// gateway stayed at about 125 MiB RSS, and a `malloc_trim(0)` by hand brought it to about 42.
/// Every `interval` this looks at how many requests (and WebSocket messages) have come; when none
/// came during the last interval and memory has not been trimmed since, it calls
/// `malloc_trim(0)`, which returns the free pages at the top of every arena and the free whole
/// pages inside them. It never runs while requests keep arriving, so it costs nothing under load;
/// relayed streams still open may go on meanwhile (the call only takes the allocator's locks
/// briefly).
public struct IdleMemoryTrimmer: Service {
    /// Counts requests as they start (`RequestIDMiddleware`) and WebSocket messages as they arrive
    /// (`WebSocketConnection`).
    public final class Activity: Sendable {
        private let requests = Atomic<Int>(0)

        public init() {}

        public func record() { requests.add(1, ordering: .relaxed) }

        var count: Int { requests.load(ordering: .relaxed) }
    }

    let activity: Activity
    let interval: Duration
    /// The trim itself; `malloc_trim(0)` on glibc, nothing elsewhere. Tests count the calls.
    let trim: @Sendable () -> Void

    public init(activity: Activity, interval: Duration = .seconds(2), trim: @escaping @Sendable () -> Void = IdleMemoryTrimmer.mallocTrim) {
        self.activity = activity
        self.interval = interval
        self.trim = trim
    }

    /// glibc's `malloc_trim(0)`, looked up at run time (it is not in Swift's Glibc module, and a
    /// libc without it, such as musl, makes this a no-op).
    public static let mallocTrim: @Sendable () -> Void = {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {  // RTLD_DEFAULT
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        }
        #endif
    }

    /// The decision, one interval at a time: trim when no request started during the last
    /// interval and none has started since the last trim.
    public struct Policy: Sendable {
        private var seen: Int
        private var trimmedAt: Int?

        public init(requestsSoFar: Int) {
            self.seen = requestsSoFar
        }

        /// Called once per interval with the number of requests started so far.
        public mutating func shouldTrim(requestsSoFar now: Int) -> Bool {
            defer { seen = now }
            guard now == seen, trimmedAt != now else { return false }
            trimmedAt = now
            return true
        }
    }

    public func run() async throws {
        // Ends quietly on graceful shutdown (the sleep is cancelled).
        await cancelWhenGracefulShutdown {
            var policy = Policy(requestsSoFar: activity.count)
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                if policy.shouldTrim(requestsSoFar: activity.count) { trim() }
            }
        }
    }
}
