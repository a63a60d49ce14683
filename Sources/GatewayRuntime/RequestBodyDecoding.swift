import Foundation
public import Hummingbird
public import NIOCore

/// Reads and decodes request bodies for generated routes.
public enum RequestBodyDecoding {
    /// Collects the body, refusing more than `limit` bytes with 413 (before reading, when the
    /// client announced the length).
    public static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw GatewayError.contentTooLarge(limit: limit)
        }
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw GatewayError.contentTooLarge(limit: limit)
        }
    }

    public static func decode<T: Decodable>(from body: ByteBuffer, contentType: String?, accepted: [String]) throws -> T {
        guard let value: T = try decodeIfPresent(from: body, contentType: contentType, accepted: accepted) else {
            throw GatewayError.badRequest("A request body (\(accepted.joined(separator: " or "))) is required.")
        }
        return value
    }

    /// ``decode(from:contentType:accepted:)`` for `x-raw-body` operations: the failure is handed
    /// to the handler, which answers it in the operation's own error shape.
    public static func result<T: Decodable>(from body: ByteBuffer, contentType: String?, accepted: [String]) -> Result<T, GatewayError> {
        catching { try decode(from: body, contentType: contentType, accepted: accepted) }
    }

    /// ``decodeIfPresent(from:contentType:accepted:)`` for `x-raw-body` operations.
    public static func resultIfPresent<T: Decodable>(from body: ByteBuffer, contentType: String?, accepted: [String]) -> Result<T?, GatewayError> {
        catching { try decodeIfPresent(from: body, contentType: contentType, accepted: accepted) }
    }

    static func catching<T>(_ decode: () throws -> T) -> Result<T, GatewayError> {
        do {
            return .success(try decode())
        } catch let error as GatewayError {
            return .failure(error)
        } catch {
            return .failure(.badRequest("The request body is invalid."))
        }
    }

    /// Picks the decoder by `Content-Type`. A missing or unexpected type is read as JSON when
    /// the operation accepts JSON, so `curl -d '{…}'` works without a header.
    public static func decodeIfPresent<T: Decodable>(from body: ByteBuffer, contentType: String?, accepted: [String]) throws -> T? {
        guard body.readableBytes > 0 else { return nil }
        let mediaType = contentType.map(AcceptHeader.mediaType(of:))
        let form = "application/x-www-form-urlencoded"
        if mediaType == form && accepted.contains(form) {
            do {
                return try FormDecoder().decode(T.self, from: String(buffer: body))
            } catch let error as DecodingError {
                throw GatewayError.badRequest("Invalid form body: \(describe(error)).")
            }
        }
        guard accepted.contains("application/json") else {
            throw GatewayError(
                status: .badRequest,
                code: "unsupported_media_type",
                message: "The request body must be \(accepted.joined(separator: " or ")), not \(contentType ?? "untyped")."
            )
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw GatewayError.badRequest(describe(error), code: isSyntaxError(error) ? "invalid_json" : "invalid_request")
        }
    }

    static func isSyntaxError(_ error: DecodingError) -> Bool {
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, context.underlyingError != nil { return true }
        return false
    }

    /// A sentence naming the field at fault, e.g. `body.params.prompt: expected a string`.
    public static func describe(_ error: DecodingError, root: String = "body") -> String {
        func path(_ codingPath: [any CodingKey], _ key: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (key.map { [$0] } ?? [])
            let rendered = keys.map { key in key.intValue.map { "[\($0)]" } ?? "." + key.stringValue }.joined()
            return root + rendered
        }
        switch error {
        case .keyNotFound(let key, let context):
            let detail = context.debugDescription.hasPrefix("required") ? " (\(context.debugDescription))" : ""
            return "\(path(context.codingPath, key)) is required\(detail)"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type)), found null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, context.underlyingError != nil { return "The \(root == "body" ? "request body" : root) is not valid JSON." }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "The request body is invalid."
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default:
            String(describing: type).hasPrefix("Array") || String(describing: type).hasPrefix("[") ? "an array" : "an object"
        }
    }
}
