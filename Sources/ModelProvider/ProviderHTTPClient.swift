import AsyncHTTPClient
import NIOCore
import NIOPosix

/// The one HTTP client the gateway talks to model providers with (AsyncHTTPClient), set up for
/// long streams: a request made from an event loop is sent and read on a connection of that loop
/// (``ProviderTransport`` asks for `.delegateAndChannel(on:)`), so an answer is relayed on the
/// thread that reads it.
public final class ProviderHTTPClient: Sendable {
    public let client: HTTPClient

    /// - Parameters:
    ///   - connectTimeout: the longest wait for a connection (connecting, or a free one).
    ///   - maximumConnections: connections to one provider at once. A stream holds its own for its
    ///     whole life, so AsyncHTTPClient's default of 8 would let 8 streams hold every other turn back.
    ///   - trust: the certificates an `https://` provider is verified against.
    ///   - tracing: a span per provider request for the bootstrapped tracer; off, the client makes
    ///     none (it otherwise fills span attributes for the no-op tracer on every request).
    public init(
        connectTimeout: TimeAmount,
        maximumConnections: Int,
        trust: ProviderTrust = ProviderTrust(),
        tracing: Bool = false,
        group: MultiThreadedEventLoopGroup = .singleton
    ) {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = trust.tlsConfiguration
        // No read timeout: stream_idle_timeout_ms is kept by each request's UpstreamExchange.
        configuration.timeout = .init(connect: connectTimeout)
        // A connection that fails fails its request at once, instead of AsyncHTTPClient trying
        // again until the connect timeout: ProviderTransport decides what to retry, within the
        // request's retry budget, and a refused connection is not retried at all.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maximumConnections)
        // A provider's redirect is not followed: the request carries the provider's key.
        configuration.redirectConfiguration = .disallow
        if !tracing { configuration.tracing.tracer = nil }
        self.client = HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

    /// Wraps a client made elsewhere (tests, tools).
    public init(_ client: HTTPClient) {
        self.client = client
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }
}
