import AsyncHTTPClient
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The HTTP client for URLs a caller supplied (webhook callbacks), under an ``OutboundPolicy``.
///
/// Every connection is checked against the policy once it is made, on the address it is
/// connected to, before a request is written on it; a refused one is closed and its request
/// fails at once with ``OutboundConnectionRefused`` (connection attempts are not retried).
/// Redirects are not followed. Shut down when the service stops.
public struct OutboundHTTPClient: Service {
    public let client: HTTPClient
    public let policy: OutboundPolicy

    /// - Parameter tlsConfiguration: the TLS trust to use instead of the system's (tests trust a
    ///   private CA with it; no configuration variable sets it).
    public init(policy: OutboundPolicy, logger: Logger, tlsConfiguration: TLSConfiguration? = nil) {
        self.policy = policy
        var configuration = HTTPClient.Configuration(tlsConfiguration: tlsConfiguration, redirectConfiguration: .disallow)
        configuration.connectionPool.retryConnectionEstablishment = false
        let check: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
            let address = channel.remoteAddress.flatMap(OutboundAddress.init)
            if let address, policy.permits(address) { return channel.eventLoop.makeSucceededVoidFuture() }
            logger.warning("outbound connection refused by policy", metadata: ["outbound.address": .string(address?.description ?? "unknown")])
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(OutboundConnectionRefused(address: address))
        }
        configuration.http1_1ConnectionDebugInitializer = check
        configuration.http2ConnectionDebugInitializer = check
        self.client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// A connection went to an address the ``OutboundPolicy`` forbids.
public struct OutboundConnectionRefused: Error, CustomStringConvertible {
    public let address: OutboundAddress?

    public var description: String { "connection to \(address?.description ?? "an unknown address") refused by the outbound policy" }
}
