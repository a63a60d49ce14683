import AsyncHTTPClient
import NIOCore
import NIOPosix
import Synchronization

/// One `HTTPClient`, with its own connection pool, per event loop of NIO's singleton group.
///
/// A request made from an event loop goes out on a connection of that same loop, so the answer
/// is read on the thread that relays it. (A single client prefers the current loop, but takes an
/// idle connection of another loop when its own has none, and the answer then crosses threads.)
///
/// The cap on connections is divided between the loops. A stream needs its own connection for
/// its whole life: AsyncHTTPClient's default of 8 connections per host, with the rest queued,
/// let 8 long streams hold every other turn and relayed answer back (found by the benchmark's
/// 1,000 slow streams).
public final class UpstreamHTTPClients: Sendable {
    private let byLoop: [ObjectIdentifier: HTTPClient]
    /// Every client, the first being the one used off the event loops.
    public let all: [HTTPClient]
    /// The gateway's own connections for spliced streams, by provider base URL (see
    /// ``SpliceConnections``); `nil` where splicing is off (`UPSTREAM_SPLICE=false`, or a client
    /// from elsewhere).
    private let spliced: Mutex<[String: SpliceConnections]>?
    private let perLoopLimit: Int
    private let connectTimeout: TimeAmount
    private let idleTimeout: TimeAmount

    /// `splice`: relayed streams to a plain-`http://` provider go over ``SpliceConnections``
    /// (`UPSTREAM_SPLICE`).
    public init(configuration: HTTPClient.Configuration, maximumConnections: Int, splice: Bool = true, group: MultiThreadedEventLoopGroup = .singleton) {
        let loops = Array(group.makeIterator())
        var configuration = configuration
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maximumConnections / max(1, loops.count))
        var byLoop: [ObjectIdentifier: HTTPClient] = [:]
        var all: [HTTPClient] = []
        for loop in loops {
            let client = HTTPClient(eventLoopGroup: loop, configuration: configuration)
            byLoop[ObjectIdentifier(loop)] = client
            all.append(client)
        }
        self.byLoop = byLoop
        self.all = all
        self.spliced = splice ? Mutex([:]) : nil
        self.perLoopLimit = configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit
        self.connectTimeout = configuration.timeout.connect ?? .seconds(10)
        self.idleTimeout = configuration.connectionPool.idleTimeout
    }

    /// Wraps one client (tests, tools); streams are not spliced.
    public init(_ client: HTTPClient) {
        self.byLoop = [:]
        self.all = [client]
        self.spliced = nil
        self.perLoopLimit = 0
        self.connectTimeout = .seconds(10)
        self.idleTimeout = .seconds(60)
    }

    /// The spliced-stream connections to the provider at `baseURL`, if it is `http://`.
    func splice(for baseURL: String) -> SpliceConnections? {
        spliced?.withLock { cache in
            if let connections = cache[baseURL] { return connections }
            let connections = SpliceConnections(baseURL: baseURL, perLoopLimit: perLoopLimit, connectTimeout: connectTimeout, idleTimeout: idleTimeout)
            cache[baseURL] = connections
            return connections
        }
    }

    /// The client of the event loop this runs on, else the first.
    public var current: HTTPClient {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop, let client = byLoop[ObjectIdentifier(loop)] {
            return client
        }
        return all[0]
    }

    /// The client whose connections live on `loop`, else the first.
    func client(on loop: any EventLoop) -> HTTPClient {
        byLoop[ObjectIdentifier(loop)] ?? all[0]
    }

    public func shutdown() async throws {
        for connections in spliced?.withLock({ Array($0.values) }) ?? [] { connections.shutdown() }
        for client in all { try await client.shutdown() }
    }
}
