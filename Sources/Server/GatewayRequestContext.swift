import Hummingbird
import NIOCore

/// The request context of every gateway route.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``RequestIDMiddleware`` before anything else runs.
    public var requestID: String
    /// Set by ``GatewayAuthenticator`` on operations that declare `security`.
    public var principal: Principal?
    /// The console session's token when the request was authenticated by its cookie
    /// (``GatewayAuthenticator``), for `GET`/`DELETE /console/session`.
    public var consoleSessionToken: String?
    /// What the console's session endpoints need of the request's headers (its origin, whether it
    /// came over https), which their generated input does not carry; set by ``ConsoleRequestMiddleware``.
    public var consoleRequest: ConsoleService.RequestFacts?
    /// The rate-limit decision for ``principal``, for ``RateLimitHeadersMiddleware``.
    public let rateLimit: RateLimitNote
    /// The client's connection (the relay writes streams to its ``StreamOutlet``).
    public let channel: any Channel
    /// What the replica that forwarded this request vouched for, under a verified signature
    /// (``ReplicaOriginMiddleware``); nil for a request straight from a client.
    var replicaForward: ReplicaForward?

    /// The address the client connected from: the one a forwarding replica vouched for, else the
    /// connection's peer. What the failed-credential throttle counts against.
    public var clientAddress: SocketAddress? { replicaForward?.clientAddress ?? channel.remoteAddress }

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.principal = nil
        self.consoleSessionToken = nil
        self.consoleRequest = nil
        self.rateLimit = RateLimitNote()
        self.channel = source.channel
        self.replicaForward = nil
    }
}
