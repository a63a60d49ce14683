import Foundation
public import HTTPTypes
public import Hummingbird
import NIOCore

/// An error that becomes an HTTP response with the gateway's error envelope.
///
/// Thrown by generated code (bad input, body too large) and by handlers and authenticators; the
/// server's error middleware renders it with the request ID.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// Stable machine-readable code, e.g. `invalid_request`.
    public var code: String
    /// A human sentence, safe to show to the client.
    public var message: String
    /// Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`).
    public var headers: HTTPFields

    public init(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func badRequest(_ message: String, code: String = "invalid_request") -> GatewayError {
        GatewayError(status: .badRequest, code: code, message: message)
    }

    public static func contentTooLarge(limit: Int) -> GatewayError {
        GatewayError(status: .contentTooLarge, code: "payload_too_large", message: "The request body exceeds the limit of \(limit) bytes for this operation.")
    }
}

extension GatewayError: HTTPResponseError {
    /// The envelope, for routers without the gateway's error middleware (which adds the
    /// gateway's own request ID); here the ID is Hummingbird's.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let envelope: [String: JSONValue] = [
            "error": .string(message), "code": .string(code), "status": .integer(Int(status.code)), "request_id": .string(context.id),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(envelope))))
    }
}
