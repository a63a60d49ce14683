import Metrics
import NIOCore
import Synchronization

/// The metrics of requests to model providers (the gateway's `/metrics` describes and serves them).
package enum ProviderMetrics {
    package static let requestDuration = "codex_gateway_upstream_request_duration_seconds"
    package static let errors = "codex_gateway_upstream_errors_total"

    /// Handles made once, as their status or error kind is first seen: the factory's lookup (a lock
    /// and a sanitised name) stays off the hot path.
    private static let upstreamTimers = Mutex<[Int: Metrics.Timer]>([:])
    private static let upstreamFailureTimer = Timer(label: requestDuration, dimensions: [("status", "error")], preferredDisplayUnit: .seconds)
    private static let upstreamErrorCounters = Mutex<[String: Metrics.Counter]>([:])

    private static func handle<Key: Hashable & Sendable, Handle: Sendable>(_ key: Key, in cache: borrowing Mutex<[Key: Handle]>, make: () -> Handle) -> Handle {
        cache.withLock { handles in
            if let handle = handles[key] { return handle }
            let handle = make()
            handles[key] = handle
            return handle
        }
    }

    package static func recordRequest(status: Int?, timedOut: Bool = false, duration: Duration) {
        let timer: Metrics.Timer
        if let status {
            timer = handle(status, in: upstreamTimers) {
                Timer(label: requestDuration, dimensions: [("status", String(status))], preferredDisplayUnit: .seconds)
            }
        } else {
            timer = upstreamFailureTimer
        }
        timer.recordNanoseconds(TimeAmount(duration).nanoseconds)
        let kind: String? =
            switch status {
            case nil: timedOut ? "timeout" : "connection"
            case 429?: "http_429"
            case let code? where code >= 500: "http_5xx"
            case let code? where code >= 400: "http_4xx"
            default: nil
            }
        guard let kind else { return }
        handle(kind, in: upstreamErrorCounters) { Counter(label: errors, dimensions: [("kind", kind)]) }.increment()
    }
}
