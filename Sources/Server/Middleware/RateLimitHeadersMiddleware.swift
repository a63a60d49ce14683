import Synchronization
import HTTPTypes
import Hummingbird

/// Adds `X-RateLimit-Limit`, `-Remaining`, `-Reset` and `-Policy` to every response of a request
/// that the authenticator admitted (or refused), errors included.
///
/// It sits outside ``ErrorMiddleware`` so it sees the final response; the authenticator runs deep
/// inside the route and records its decision in the context's ``RateLimitNote``.
public struct RateLimitHeadersMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if let status = context.rateLimit.status {
            Self.apply(status, to: &response.headers)
        }
        return response
    }

    static func apply(_ status: RateLimitStatus, to headers: inout HTTPFields) {
        headers[.xRateLimitLimit] = String(status.limit)
        headers[.xRateLimitRemaining] = String(status.remaining)
        headers[.xRateLimitReset] = String(status.resetSeconds)
        headers[.xRateLimitPolicy] = status.policy
    }
}

/// Where the authenticator leaves its rate-limit decision for ``RateLimitHeadersMiddleware``.
/// A reference, so the decision made on the route's copy of the context reaches the middleware.
public final class RateLimitNote: Sendable {
    private let value = Mutex<RateLimitStatus?>(nil)

    public init() {}

    public var status: RateLimitStatus? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

extension HTTPField.Name {
    static let xRateLimitLimit = Self("X-RateLimit-Limit")!
    static let xRateLimitRemaining = Self("X-RateLimit-Remaining")!
    static let xRateLimitReset = Self("X-RateLimit-Reset")!
    static let xRateLimitPolicy = Self("X-RateLimit-Policy")!
    static let retryAfter = Self("Retry-After")!
}
