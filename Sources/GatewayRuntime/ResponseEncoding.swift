import Foundation
public import HTTPTypes
public import Hummingbird
import NIOCore

/// Turns the documented output cases into responses; generated routes call these.
public enum ResponseEncoding {
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }

    /// Encodes one value as a single line of JSON (no trailing newline).
    public static func encodeJSON<T: Encodable>(_ value: T) throws -> ByteBuffer {
        ByteBuffer(bytes: try makeEncoder().encode(value))
    }

    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status, headers: HTTPFields) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let body = try encodeJSON(value)
        fields[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
    }

    public static func jsonLines<T>(_ body: JSONLinesBody<T>, contentType: String, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        fields[.cacheControl] = "no-cache"
        // Proxies such as nginx buffer responses unless told not to.
        fields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(
            status: status,
            headers: fields,
            body: ResponseBody { writer in
                try await body.produce { element in
                    var line = try encodeJSON(element)
                    line.writeStaticString("\n")
                    try await writer.write(line)
                }
                try await writer.finish(nil)
            }
        )
    }

    public static func serverSentEvents(_ body: ServerSentEventsBody, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-cache"
        fields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(
            status: status,
            headers: fields,
            body: ResponseBody { writer in
                try await body.produce { event in
                    try await writer.write(ByteBuffer(string: event.wireFormat))
                }
                try await writer.finish(nil)
            }
        )
    }

    public static func text(_ text: String, contentType: String, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = contentType.hasPrefix("text/") || contentType == "application/yaml" ? "\(contentType); charset=utf-8" : contentType
        let body = ByteBuffer(string: text)
        fields[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
    }

    public static func empty(status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        Response(status: status, headers: headers, body: ResponseBody())
    }
}

/// Bytes the handler produces itself for a response documented with `x-raw-body: true`, such as
/// an upstream's answer relayed as it arrives.
public struct RawResponseBody: Sendable {
    public var body: ResponseBody
    /// Overrides the documented media type, e.g. to keep an upstream's `charset` parameter.
    public var contentType: String?
    /// Extra headers to send, e.g. an upstream's `Retry-After` or request ID.
    public var headers: HTTPFields

    public init(body: ResponseBody, contentType: String? = nil, headers: HTTPFields = [:]) {
        self.body = body
        self.contentType = contentType
        self.headers = headers
    }
}

extension ResponseEncoding {
    public static func raw(_ raw: RawResponseBody, contentType: String, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var fields = headers
        for field in raw.headers where fields[field.name] == nil { fields.append(field) }
        fields[.contentType] = raw.contentType ?? contentType
        if let length = raw.body.contentLength { fields[.contentLength] = String(length) }
        return Response(status: status, headers: fields, body: raw.body)
    }
}
