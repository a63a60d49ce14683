import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Renders errors as the gateway's error envelope (PROTOCOLS.md §0).
public enum ErrorResponder {
    public static func response(for error: GatewayError, requestID: String) -> Response {
        var headers = error.headers
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let body = envelope(for: error, requestID: requestID)
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: error.status, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// The envelope's JSON bytes, for answers written below the router too.
    static func envelope(for error: GatewayError, requestID: String) -> ByteBuffer {
        let envelope = ErrorEnvelope(error: error.message, code: error.code, status: Int(error.status.code), requestID: requestID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return (try? encoder.encode(envelope)).map { ByteBuffer(bytes: $0) } ?? ByteBuffer(string: "{}")
    }

    /// A machine code for statuses Hummingbird raises itself.
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "invalid_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 408: "request_timeout"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: status.code >= 500 ? "internal_error" : "http_\(status.code)"
        }
    }
}

/// Turns every error thrown below it into an envelope response, so clients always get the same
/// shape, and logs what it had to hide (500s never leak internals to the client).
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    let routes: RouteTemplates

    public init(operations: [OperationDescriptor]) {
        self.routes = RouteTemplates(operations)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as GatewayError {
            if error.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error.code": .string(error.code), "error.message": .string(error.message)])
            }
            return ErrorResponder.response(for: error, requestID: context.requestID)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            let allowed = routes.methods(forPath: path)
            if !allowed.isEmpty {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                let gatewayError = GatewayError(
                    status: .methodNotAllowed,
                    code: "method_not_allowed",
                    message: "\(request.method.rawValue) is not supported on \(path); use \(allowed.map(\.rawValue).joined(separator: " or ")).",
                    headers: headers
                )
                return ErrorResponder.response(for: gatewayError, requestID: context.requestID)
            }
            let gatewayError = GatewayError(status: .notFound, code: "not_found", message: "No route for \(request.method.rawValue) \(path).")
            return ErrorResponder.response(for: gatewayError, requestID: context.requestID)
        } catch let error as any HTTPResponseError {
            let status = error.status
            var message = status.reasonPhrase
            if let httpError = error as? HTTPError, let body = httpError.body { message = body }
            if status == .contentTooLarge { message = "The request body is too large." }
            if status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": .string(String(describing: error))])
            }
            let gatewayError = GatewayError(status: status, code: ErrorResponder.code(for: status), message: message)
            return ErrorResponder.response(for: gatewayError, requestID: context.requestID)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("unhandled error", metadata: ["error": .string(String(describing: error))])
            let gatewayError = GatewayError(status: .internalServerError, code: "internal_error", message: "Internal server error.")
            return ErrorResponder.response(for: gatewayError, requestID: context.requestID)
        }
    }
}

/// The documented path templates, to tell "no such path" (404) from "wrong method" (405).
struct RouteTemplates: Sendable {
    private let templates: [(path: String, segments: [Substring], method: HTTPRequest.Method)]

    /// The one label of every request whose path matches no template: raw paths would make the
    /// labels of telemetry unbounded.
    static let unmatched = "unmatched"

    init(_ operations: [OperationDescriptor]) {
        self.templates = operations.map { ($0.path, $0.path.split(separator: "/"), $0.method) }
    }

    func methods(forPath path: String) -> [HTTPRequest.Method] {
        var methods: [HTTPRequest.Method] = []
        for template in matching(path) where !methods.contains(template.method) {
            methods.append(template.method)
        }
        return methods.sorted { $0.rawValue < $1.rawValue }
    }

    /// The template of a route for telemetry: the one the router matched, else the documented
    /// template `path` matches whatever the method (a 405), else ``unmatched``. (Hummingbird's
    /// router names a request it found no route for `NotFound`.)
    func label(matched endpointPath: String?, path: String) -> String {
        if let endpointPath, endpointPath != "NotFound" { return endpointPath }
        return matching(path).first(where: { _ in true })?.path ?? Self.unmatched
    }

    private func matching(_ path: String) -> some Sequence<(path: String, segments: [Substring], method: HTTPRequest.Method)> {
        let segments = path.split(separator: "/")
        return templates.lazy.filter { template in
            template.segments.count == segments.count
                && zip(template.segments, segments).allSatisfy { pattern, segment in
                    pattern.hasPrefix("{") && pattern.hasSuffix("}") || pattern == segment
                }
        }
    }
}
