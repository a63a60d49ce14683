import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging

/// Applies ``CredentialFailureThrottle`` to requests that present an API key or a bearer token:
/// refused with 429 `too_many_failed_attempts` while their address has spent its budget of
/// failures, and counted against it when they are answered 401.
///
/// It sits inside ``ErrorMiddleware``, so it sees the authenticator's 401 as thrown and its own
/// 429 is rendered as the envelope. The OAuth endpoints count their own failures (a wrong client
/// secret, code or consent key), since only they know the client id an attempt named.
public struct CredentialThrottleMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    let throttle: CredentialFailureThrottle

    public init(throttle: CredentialFailureThrottle) {
        self.throttle = throttle
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard throttle.isEnabled, Self.presentsCredentials(request), !request.uri.path.hasPrefix("/oauth/") else {
            return try await next(request, context)
        }
        // The address is worked out only when a failure is on record: not on every request.
        let subject = { CredentialFailureThrottle.subject(for: context.clientAddress) }
        if throttle.hasFailures, let subject = subject(), let retryAfter = throttle.refusal([subject]) {
            context.logger.warning("credential attempt refused: too many failures", metadata: ["client.address": .string(subject.description)])
            throw Self.tooManyFailures(retryAfter: retryAfter)
        }
        do {
            let response = try await next(request, context)
            if response.status == .unauthorized, let subject = subject() { throttle.recordFailure([subject]) }
            return response
        } catch let error as GatewayError where error.status == .unauthorized {
            if let subject = subject() { throttle.recordFailure([subject]) }
            throw error
        }
    }

    static func presentsCredentials(_ request: Request) -> Bool {
        if request.headers[.authorization] != nil || request.headers[.xAPIKey] != nil { return true }
        if let protocols = request.headers[.secWebSocketProtocol], protocols.contains("bearer.") { return true }
        return request.uri.path == "/ws" && request.uri.queryParameters["ticket"] != nil
    }

    /// The 429 for an address or client that has spent its budget of failed attempts.
    static func tooManyFailures(retryAfter: Int) -> GatewayError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(retryAfter)
        return GatewayError(
            status: .tooManyRequests,
            code: "too_many_failed_attempts",
            message: "Too many failed credential attempts. Retry in \(retryAfter) s.",
            headers: headers
        )
    }
}

extension HTTPField.Name {
    static let xAPIKey = Self("X-API-Key")!
}
