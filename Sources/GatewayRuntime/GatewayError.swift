public import HTTPTypes

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

/// The body of every non-OAuth, non-JSON-RPC error response.
public struct ErrorEnvelope: Codable, Hashable, Sendable {
    public var error: String
    public var code: String
    public var status: Int
    public var requestID: String

    public init(error: String, code: String, status: Int, requestID: String) {
        self.error = error
        self.code = code
        self.status = status
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey {
        case error, code, status
        case requestID = "request_id"
    }
}
