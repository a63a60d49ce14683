import GatewayRuntime
import Hummingbird
import Logging
import ModelProvider
import NIOCore

/// One structured log event per request (`request`): method, route template, status, duration,
/// and the principal once authenticated.
///
/// A body of known length is logged when the handler hands it over. A stream (SSE, JSON Lines, a
/// relayed stream) is logged at its end: `duration_ms` to its last byte, and `stream.end` says how
/// it ended (``StreamEnd``).
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    private let routes: RouteTemplates

    /// - Parameter operations: the documented operations, whose templates name requests that
    ///   matched no route.
    public init(operations: [OperationDescriptor] = []) {
        self.routes = RouteTemplates(operations)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        var metadata: Logger.Metadata = [
            "http.method": .string(request.method.rawValue),
            "http.route": .string(routes.label(matched: context.endpointPath, path: request.uri.path)),
            "http.status_code": .stringConvertible(response.status.code),
        ]
        if let principal = RequestLogScope.current?.principal { metadata["principal"] = .string(principal) }
        let logger = context.logger
        guard response.body.contentLength == nil else {
            metadata["duration_ms"] = Self.milliseconds(since: start)
            logger.info("request", metadata: metadata)
            return response
        }
        let body = response.body
        let head = metadata
        response.body = ResponseBody { writer in
            var metadata = head
            defer {
                metadata["duration_ms"] = Self.milliseconds(since: start)
                logger.info("request", metadata: metadata)
            }
            do {
                try await body.write(writer)
                metadata["stream.end"] = .string(StreamEnd.completed.rawValue)
            } catch {
                metadata["stream.end"] = .string(StreamEnd(error).rawValue)
                metadata["error.type"] = .string(String(describing: type(of: error)))
                throw error
            }
        }
        return response
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Logger.MetadataValue {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return .stringConvertible((milliseconds * 1000).rounded() / 1000)
    }
}
