import GatewayRuntime
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Request counts, durations and errors by route template: the metrics of Hummingbird's
/// `MetricsMiddleware`, under the same names and labels (`hb.requests`,
/// `http.server.request.duration`, `hb.request.errors`, `http.server.active_requests`), without
/// wrapping a body of known length.
///
/// Hummingbird's middleware wraps every response body in a closure, to record once the body is
/// written. A closure body loses Hummingbird's fast path for a buffer body, which writes the head,
/// the body and the end in one go. Wrapped, they are flushed one by one: a system call more, and
/// a wake-up of the client more, per request (about 13 µs of added latency in `bench/`).
///
/// Here a body of known length is recorded when the handler hands it over. The gateway's
/// answers of known length are then complete in memory, except a relayed answer over 1 MiB,
/// which is timed to its head. A body of unknown length (a stream: SSE, JSON Lines, a relayed
/// stream) is wrapped and recorded at its last byte, as before.
///
/// A request that matched no route is labelled with the documented template its path matches
/// (a wrong method: `405`), else `unmatched`: never the raw path.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let cache = RequestMetricsCache()
    private let routes: RouteTemplates

    /// - Parameter operations: the documented operations, whose templates label requests that
    ///   matched no route.
    public init(operations: [OperationDescriptor] = []) {
        self.routes = RouteTemplates(operations)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let active = cache.activeRequests(request.method)
        active.increment()
        do {
            var response = try await next(request, context)
            let metrics = cache.endpoint(.init(route: route(request, context), method: request.method, status: response.status))
            guard response.body.contentLength == nil else {
                metrics.record(since: start)
                active.decrement()
                return response
            }
            let body = response.body
            response.body = ResponseBody { writer in
                defer {
                    metrics.record(since: start)
                    active.decrement()
                }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let key = RequestMetricsCache.Key(route: route(request, context), method: request.method, status: status)
            cache.endpoint(key).requests.increment()
            cache.errors(key).increment()
            active.decrement()
            throw error
        }
    }

    private func route(_ request: Request, _ context: Context) -> String {
        routes.label(matched: context.endpointPath, path: request.uri.path)
    }
}

/// The metric objects by route, method and status, made once: looking them up in the metrics
/// factory at every request would cost more.
final class RequestMetricsCache: Sendable {
    struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: HTTPResponse.Status
    }

    struct Endpoint: Sendable {
        let requests: Counter
        let duration: Metrics.Timer

        init(_ key: Key) {
            let dimensions = [
                ("http.route", key.route),
                ("http.request.method", key.method.rawValue),
                ("http.response.status_code", String(key.status.code)),
            ]
            requests = Counter(label: "hb.requests", dimensions: dimensions)
            duration = Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
        }

        func record(since start: ContinuousClock.Instant) {
            let elapsed = start.duration(to: .now).components
            requests.increment()
            duration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
    }

    private let endpoints = Mutex<[Key: Endpoint]>([:])
    /// Made only when an error is seen, so a route that never failed has no series of errors.
    private let errorCounters = Mutex<[Key: Counter]>([:])
    private let active = Mutex<[HTTPRequest.Method: Meter]>([:])

    func endpoint(_ key: Key) -> Endpoint {
        endpoints.withLock { endpoints in
            if let known = endpoints[key] { return known }
            let made = Endpoint(key)
            endpoints[key] = made
            return made
        }
    }

    func errors(_ key: Key) -> Counter {
        errorCounters.withLock { counters in
            if let known = counters[key] { return known }
            let made = Counter(
                label: "hb.request.errors",
                dimensions: [("http.route", key.route), ("http.request.method", key.method.rawValue), ("error.type", String(key.status.code))]
            )
            counters[key] = made
            return made
        }
    }

    func activeRequests(_ method: HTTPRequest.Method) -> Meter {
        active.withLock { meters in
            if let known = meters[method] { return known }
            let made = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
            meters[method] = made
            return made
        }
    }
}
