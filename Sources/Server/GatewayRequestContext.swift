import Hummingbird

/// The request context of every gateway route.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``RequestIDMiddleware`` before anything else runs.
    public var requestID: String
    /// Set by ``GatewayAuthenticator`` on operations that declare `security`.
    public var principal: Principal?
    /// The rate-limit decision for ``principal``, for ``RateLimitHeadersMiddleware``.
    public let rateLimit: RateLimitNote

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.principal = nil
        self.rateLimit = RateLimitNote()
    }
}
