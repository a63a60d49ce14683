import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an ID: a valid incoming `X-Request-Id` is kept, anything else replaced.
/// The ID goes into the logger metadata, the error envelope and the response header, and into the
/// ``RequestLogScope`` of everything the request runs, a streamed body included.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    public static let header = HTTPField.Name("X-Request-Id")!

    /// Told about every request, so memory is trimmed only once requests stop (IdleMemoryTrimmer).
    let activity: IdleMemoryTrimmer.Activity?

    public init(activity: IdleMemoryTrimmer.Activity? = nil) {
        self.activity = activity
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        activity?.record()
        var context = context
        let id = request.headers[Self.header].flatMap(Self.accept) ?? Self.generate()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = .string(id)
        let scope = RequestLogScope(requestID: id)
        var response = try await RequestLogScope.$current.withValue(scope) { try await next(request, context) }
        response.headers[Self.header] = id
        if response.body.contentLength == nil {
            // A stream is written after this returns: its work logs under the request too. (A
            // body of known length is complete already, and stays unwrapped.)
            let body = response.body
            response.body = ResponseBody { writer in
                try await RequestLogScope.$current.withValue(scope) { try await body.write(writer) }
            }
        }
        return response
    }

    /// 1–128 characters of `A–Z a–z 0–9 - _ . :`; anything else could inject into logs or headers.
    static func accept(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x3A
            })
        else { return nil }
        return value
    }

    /// 32 lowercase hex digits from 128 random bits, written straight into the string.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<32 {
                let half = index < 16 ? high : low
                buffer[index] = digits.utf8Start[Int(truncatingIfNeeded: (half >> UInt64(60 - 4 * (index % 16))) & 0xF)]
            }
            return 32
        }
    }
}
