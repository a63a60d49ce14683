import AsyncHTTPClient
import NIOCore
import NIOPosix

/// The gateway's HTTP client for model providers (AsyncHTTPClient), set up for long streams: one
/// `HTTPClient` per event loop of the group, each with its own connection pool on that loop, so a
/// request made from an event loop is sent and read on a connection of that loop and its answer
/// is relayed on the thread that reads it.
///
/// Not one client with `.delegateAndChannel(on:)`: AsyncHTTPClient 1.37 serves a request bound to
/// an event loop with an "overflow" connection whenever that loop has no idle one, and closes such
/// a connection as soon as it is idle instead of keeping it, so under load nearly every request
/// opened a new connection (and over https, a new TLS handshake): bench/RESULTS.md, 07:30 run.
public final class ProviderHTTPClient: Sendable {
    private let byLoop: [ObjectIdentifier: HTTPClient]
    /// Every client; the first is the one used off the event loops.
    public let all: [HTTPClient]

    /// - Parameters:
    ///   - connectTimeout: the longest wait for a connection (connecting, or a free one).
    ///   - maximumConnections: connections to one provider at once, shared out between the loops.
    ///     A stream holds its own for its whole life, so AsyncHTTPClient's default of 8 would let 8
    ///     streams hold every other turn back.
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
        let loops = Array(group.makeIterator())
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = trust.tlsConfiguration
        // No read timeout: stream_idle_timeout_ms is kept by each request's UpstreamExchange.
        configuration.timeout = .init(connect: connectTimeout)
        // A connection that fails fails its request at once, instead of AsyncHTTPClient trying
        // again until the connect timeout: ProviderTransport decides what to retry, within the
        // request's retry budget, and a refused connection is not retried at all.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maximumConnections / max(1, loops.count))
        // A provider's redirect is not followed: the request carries the provider's key.
        configuration.redirectConfiguration = .disallow
        if !tracing { configuration.tracing.tracer = nil }
        var byLoop: [ObjectIdentifier: HTTPClient] = [:]
        var all: [HTTPClient] = []
        for loop in loops {
            let client = HTTPClient(eventLoopGroup: loop, configuration: configuration)
            byLoop[ObjectIdentifier(loop)] = client
            all.append(client)
        }
        self.byLoop = byLoop
        self.all = all
    }

    /// Wraps a client made elsewhere (tests, tools).
    public init(_ client: HTTPClient) {
        self.byLoop = [:]
        self.all = [client]
    }

    /// The client whose connections live on `loop`, else the first.
    func client(on loop: any EventLoop) -> HTTPClient {
        byLoop[ObjectIdentifier(loop)] ?? all[0]
    }

    public func shutdown() async throws {
        for client in all { try await client.shutdown() }
    }
}
