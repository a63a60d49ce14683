import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The gateway's own HTTP/1.1 connections to a plain-HTTP provider, for relayed streams whose
/// chunked body is copied to the client as it is (spliced): see ``SpliceExchange``.
///
/// One list of idle keep-alive connections per event loop, so that a stream's provider
/// connection lives on the thread of the client's connection. At most `perLoopLimit`
/// connections per loop; beyond that (and for anything but `http://`) the relay uses
/// AsyncHTTPClient as before. An idle connection is closed after `idleTimeout` (AsyncHTTPClient's
/// pool idle timeout, 60 s by default), or when the provider closes it.
final class SpliceConnections: Sendable {
    let host: String
    let port: Int
    /// The base URL's path as configured, still percent-encoded (`/v1`).
    private let basePath: String
    private let perLoopLimit: Int
    private let connectTimeout: TimeAmount
    /// How long a connection is kept open unused.
    let idleTimeout: TimeAmount
    private let pools: Mutex<[ObjectIdentifier: Pool]> = Mutex([:])
    private let isShutDown = Atomic<Bool>(false)

    private struct Pool {
        var idle: [(connection: SpliceConnection, since: NIODeadline)] = []
        var open = 0
    }

    /// `nil` unless `baseURL` is `http://` with a host.
    init?(baseURL: String, perLoopLimit: Int, connectTimeout: TimeAmount, idleTimeout: TimeAmount) {
        guard let url = URLComponents(string: baseURL), url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty else { return nil }
        // An IPv6 literal without its brackets, for connecting.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = url.port ?? 80
        self.basePath = url.percentEncodedPath
        self.perLoopLimit = max(1, perLoopLimit)
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
    }

    /// The value of the `Host` header: the port unless 80, an IPv6 literal in brackets (RFC 9110 §7.2).
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }

    /// A request to `path` (below the base URL; `query` percent-encoded, with its `?`), head and
    /// body in one buffer, framed by `Content-Length`. `Host` is added unless `headers` has one;
    /// a `Content-Length` or `Transfer-Encoding` in `headers` is left out, the body being framed
    /// here. `nil` when a header holds what no HTTP/1.1 field may (a control character in a name
    /// or value, a separator in a name): AsyncHTTPClient then sends the request, and refuses it
    /// with its own error, as it does for an `https://` provider.
    func request(method: HTTPMethod, path: String, query: String, headers: HTTPHeaders, body: ByteBuffer?) -> ByteBuffer? {
        var head = "\(method.rawValue) \(basePath)\(path)\(query) HTTP/1.1\r\n"
        if !headers.contains(name: "Host") { head += "Host: \(hostHeader)\r\n" }
        for (name, value) in headers {
            guard Self.isFieldName(name), Self.isFieldValue(value) else { return nil }
            if name.caseInsensitiveCompare("Content-Length") == .orderedSame || name.caseInsensitiveCompare("Transfer-Encoding") == .orderedSame { continue }
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Length: \(body?.readableBytes ?? 0)\r\n\r\n"
        var bytes = ByteBuffer(string: head)
        if var body { bytes.writeBuffer(&body) }
        return bytes
    }

    /// A token (RFC 9110 §5.6.2): visible ASCII but for the separators.
    private static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (0x21...0x7E).contains(byte) && !#"()<>@,;:\"/[]?={}"#.utf8.contains(byte)
        }
    }

    /// No control character but horizontal tab (RFC 9110 §5.5): above all, no CR or LF.
    private static func isFieldValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    /// A connection on `loop`: an idle one (`isReused`), a new one, or `nil` at the limit.
    func acquire(on loop: any EventLoop) async throws -> (connection: SpliceConnection, isReused: Bool)? {
        let key = ObjectIdentifier(loop)
        let now = NIODeadline.now()
        enum Pick { case reuse(SpliceConnection), connect, full }
        var stale: [SpliceConnection] = []
        let pick: Pick = pools.withLock { pools in
            var pool = pools[key] ?? Pool()
            defer { pools[key] = pool }
            while let (connection, since) = pool.idle.popLast() {
                if now - since < idleTimeout, connection.isUsable { return .reuse(connection) }
                stale.append(connection)  // counted out when its channel closes
            }
            guard pool.open < perLoopLimit, !isShutDown.load(ordering: .relaxed) else { return .full }
            pool.open += 1
            return .connect
        }
        for connection in stale { connection.close() }
        switch pick {
        case .reuse(let connection): return (connection, true)
        case .full: return nil
        case .connect:
            do {
                let connection = try await connect(on: loop)
                return (connection, false)
            } catch {
                pools.withLock { $0[key]?.open -= 1 }
                throw error
            }
        }
    }

    private func connect(on loop: any EventLoop) async throws -> SpliceConnection {
        try await ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SpliceConnection(pool: self))
                }
            }
            .connect(host: host, port: port)
            .flatMapThrowing { channel in try channel.pipeline.syncOperations.handler(type: SpliceConnection.self) }
            .get()
    }

    /// A connection whose answer ended cleanly goes back to its loop's list.
    func release(_ connection: SpliceConnection, on loop: any EventLoop) {
        let keep = !isShutDown.load(ordering: .relaxed) && connection.isUsable
        if keep {
            pools.withLock { $0[ObjectIdentifier(loop), default: Pool()].idle.append((connection, .now())) }
        } else {
            connection.close()
        }
    }

    /// A connection's channel closed (each once): it is counted out, and leaves the idle list if
    /// it was there (the provider closed it while it was idle).
    func closed(_ connection: SpliceConnection, on loop: any EventLoop) {
        pools.withLock { pools in
            let key = ObjectIdentifier(loop)
            pools[key]?.open -= 1
            if let index = pools[key]?.idle.firstIndex(where: { $0.connection === connection }) {
                pools[key]!.idle.remove(at: index)
            }
        }
    }

    func shutdown() {
        isShutDown.store(true, ordering: .relaxed)
        let idle = pools.withLock { pools in
            defer { for key in pools.keys { pools[key]!.idle = [] } }
            return pools.values.flatMap { $0.idle.map(\.connection) }
        }
        for connection in idle { connection.close() }
    }
}

/// One provider connection of ``SpliceConnections``: hands the bytes it reads to the exchange it
/// carries, one at a time. Its methods run on its event loop; `isUsable` and `close` from anywhere.
final class SpliceConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let pool: SpliceConnections
    private let channelBox = Mutex<(any Channel)?>(nil)
    private let usable = Atomic<Bool>(true)
    /// On the event loop.
    private var exchange: SpliceExchange?
    private var context: ChannelHandlerContext?
    /// Closes the connection once it has been idle for the pool's `idleTimeout`.
    private var idleTimer: Scheduled<Void>?

    init(pool: SpliceConnections) {
        self.pool = pool
    }

    var isUsable: Bool { usable.load(ordering: .acquiring) }
    var channel: (any Channel)? { channelBox.withLock { $0 } }

    func close() {
        usable.store(false, ordering: .releasing)
        channel?.close(promise: nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channelBox.withLock { $0 = context.channel }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Starts `exchange` on this connection: writes its request (head and body in one buffer).
    func begin(_ exchange: SpliceExchange, request: ByteBuffer) {
        idleTimer?.cancel()
        idleTimer = nil
        guard let context else {
            exchange.connectionFailed(ChannelError.ioOnClosedChannel)
            return
        }
        self.exchange = exchange
        context.writeAndFlush(NIOAny(request)).whenFailure { [weak exchange] error in exchange?.connectionFailed(error) }
    }

    /// The exchange is over: the connection goes back to the pool if its answer ended cleanly.
    func end(_ exchange: SpliceExchange, reusable: Bool) {
        guard self.exchange === exchange, let context else { return }
        self.exchange = nil
        setReading(true)
        if reusable {
            pool.release(self, on: context.eventLoop)
            // On the loop, as `begin` is: taken again before it fires, it is cancelled there.
            idleTimer = context.eventLoop.scheduleTask(in: pool.idleTimeout) { [weak self] in self?.close() }
        } else {
            usable.store(false, ordering: .releasing)
            context.close(promise: nil)
        }
    }

    /// Reads on or holds back (the client's connection is full, or the relay has not started).
    func setReading(_ reading: Bool) {
        guard let context else { return }
        try? context.channel.syncOptions?.setOption(.autoRead, value: reading)
        if reading { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let exchange else {
            // Bytes on an idle connection: nothing may follow an answer unasked.
            usable.store(false, ordering: .releasing)
            context.close(promise: nil)
            return
        }
        exchange.received(bytes)
    }

    func channelInactive(context: ChannelHandlerContext) {
        usable.store(false, ordering: .releasing)
        idleTimer?.cancel()
        idleTimer = nil
        pool.closed(self, on: context.eventLoop)
        if let exchange {
            self.exchange = nil
            exchange.connectionClosed()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// One relayed stream over a ``SpliceConnection``: the response head is read here, then a 2xx
/// chunked answer goes to the client's ``StreamOutlet`` as it is, framing and all (the outlet
/// writes it past NIO's encoder, which framed the head as chunked and writes the final chunk);
/// only the chunk sizes are read, to find the end and to show the data to the relay's progress.
/// A 2xx answer that is not chunked goes to the outlet as body parts; any other answer is read
/// whole and handed over with the head, as ``UpstreamExchange`` does.
///
/// Everything runs on the outlet's event loop, which is also the connection's.
final class SpliceExchange: OutletSource, @unchecked Sendable {
    let eventLoop: any EventLoop
    private let outlet: NIOLoopBound<StreamOutlet>
    private let engagement: RelayedStream.Engagement
    private let connection: SpliceConnection
    private let idleTimeout: TimeAmount

    private enum Body {
        /// Before the head is whole: what came so far.
        case head(ByteBuffer)
        /// Chunked: copied as it is when `framed`; else (no encoder to write under) the data goes
        /// as body parts.
        case chunked(ChunkedBodyScanner)
        /// Not chunked: the bytes left (`nil`: to the end of the connection).
        case parts(remaining: Int?)
        /// An answer read whole before it is handed over.
        case whole(HTTPResponseHead, framing: WholeFraming, collected: ByteBuffer)
        case ended
    }

    private enum WholeFraming {
        case chunked(ChunkedBodyScanner)
        case length(Int)
        case toClose
    }

    private enum Outlet {
        /// Taken on; what came before the relay started (`data` for the progress).
        case waiting(forward: [ByteBuffer], data: [ByteBuffer])
        case running(RelayProgress, done: EventLoopPromise<Void>)
        case endedEarly(forward: [ByteBuffer], data: [ByteBuffer], error: (any Error)?)
        case over
    }

    private var body = Body.head(ByteBuffer())
    /// Whether what goes to the outlet is framed already (spliced).
    private var framed = false
    private var outletState = Outlet.over
    private var headWaiter: EventLoopPromise<HTTPClientResponse>?
    private var receivedAny = false
    private var keepAlive = true
    private var lastActivity = NIODeadline.now()
    private var watchdog: Scheduled<Void>?
    private var isOver = false

    /// The largest answer read whole: an error body, or a small 2xx answer with a length.
    static let wholeLimit = UpstreamExchange.collectLimit

    init(outlet: NIOLoopBound<StreamOutlet>, engagement: RelayedStream.Engagement, connection: SpliceConnection, idleTimeout: TimeAmount) {
        self.eventLoop = outlet.eventLoop
        self.outlet = outlet
        self.engagement = engagement
        self.connection = connection
        self.idleTimeout = idleTimeout
    }

    /// Why a request on a reused connection may be sent again: the connection ended before any
    /// byte of the answer came (the provider had closed it while it was idle).
    struct StaleConnection: Error {}

    /// An answer to be read whole (an error, or without a stream) over ``wholeLimit``.
    struct AnswerTooLarge: Error, CustomStringConvertible {
        var description: String { "the provider's answer is over \(SpliceExchange.wholeLimit) bytes" }
    }

    /// Sends the request; returns once the head has come (with the whole body unless it is a 2xx
    /// answer taken on by the outlet: `engagement` then says so and the body is empty).
    func start(request: ByteBuffer) -> EventLoopFuture<HTTPClientResponse> {
        eventLoop.assertInEventLoop()
        let waiter = eventLoop.makePromise(of: HTTPClientResponse.self)
        headWaiter = waiter
        connection.begin(self, request: request)
        armWatchdog()
        return waiter.futureResult
    }

    // MARK: Bytes from the provider

    func received(_ bytes: ByteBuffer) {
        lastActivity = .now()
        receivedAny = true
        do {
            switch body {
            case .head(var received):
                body = .ended
                var more = bytes
                received.writeBuffer(&more)
                try readHead(received)
            case .chunked(var scanner):
                body = .ended
                let scan = try scanner.scan(bytes)
                body = .chunked(scanner)
                pass(framed ? scan.forward : scan.data, data: scan.data)
                if scan.isComplete { finish(nil) }
            case .parts(let remaining):
                if let remaining {
                    guard bytes.readableBytes <= remaining else { throw HTTPClientError.remoteConnectionClosed }
                    body = .parts(remaining: remaining - bytes.readableBytes)
                    pass([bytes], data: [bytes])
                    if remaining == bytes.readableBytes { finish(nil) }
                } else {
                    pass([bytes], data: [bytes])
                }
            case .whole(let head, let framing, var collected):
                body = .ended
                try gather(bytes, head: head, framing: framing, collected: &collected)
            case .ended:
                break
            }
        } catch {
            keepAlive = false
            finish(error)
        }
    }

    private func readHead(_ received: ByteBuffer) throws {
        var received = received
        guard let head = try ResponseHeadParser.parse(&received) else {
            body = .head(received)
            return
        }
        if (100..<200).contains(head.status.code) {
            // An interim answer (103 Early Hints, say): the real one follows.
            body = .head(ByteBuffer())
            if received.readableBytes > 0 { self.received(received) }
            return
        }
        let bodyFraming = try ResponseHeadParser.bodyFraming(head)
        let chunked = bodyFraming == .chunked
        let length: Int?
        switch bodyFraming {
        case .empty: length = 0
        case .length(let value): length = value
        case .chunked, .untilClose: length = nil
        }
        // A connection is kept for the next request only if its answer's end is known by its
        // framing, and not when it came with both a length and a transfer coding (RFC 9112 §6.3).
        keepAlive = head.version == .http1_1 && bodyFraming != .untilClose
            && !head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
            && !(chunked && head.headers.contains(name: "Content-Length"))
        let isSmall = length.map { $0 <= Self.wholeLimit } ?? false
        if (200..<300).contains(head.status.code), !isSmall {
            // The outlet takes a stream unless the client's connection has closed: then the
            // provider is not read on for nobody.
            guard outlet.value.attach(self) else { throw HTTPClientError.cancelled }
            engagement.engage(self)
            outletState = .waiting(forward: [], data: [])
            framed = chunked && outlet.value.canWriteFramed
            body = chunked ? .chunked(ChunkedBodyScanner()) : .parts(remaining: length)
            connection.setReading(false)  // until the relay starts
            let waiter = headWaiter
            headWaiter = nil
            waiter?.succeed(HTTPClientResponse(version: head.version, status: head.status, headers: head.headers, body: .bytes(ByteBuffer())))
            if received.readableBytes > 0 { self.received(received) }
            if case .parts(0) = body { finish(nil) }
            return
        }
        let framing: WholeFraming = chunked ? .chunked(ChunkedBodyScanner()) : length.map { .length($0) } ?? .toClose
        var collected = ByteBuffer()
        if case .length(0) = framing {
            body = .whole(head, framing: framing, collected: collected)
            finish(nil)
            return
        }
        body = .whole(head, framing: framing, collected: collected)
        if received.readableBytes > 0 {
            body = .ended
            try gather(received, head: head, framing: framing, collected: &collected)
        }
    }

    /// Adds to an answer read whole; hands it over at its end.
    private func gather(_ bytes: ByteBuffer, head: HTTPResponseHead, framing: WholeFraming, collected: inout ByteBuffer) throws {
        var complete = false
        var framing = framing
        switch framing {
        case .chunked(var scanner):
            let scan = try scanner.scan(bytes)
            framing = .chunked(scanner)
            for var data in scan.data { collected.writeBuffer(&data) }
            complete = scan.isComplete
        case .length(let length):
            var bytes = bytes
            collected.writeBuffer(&bytes)
            guard collected.readableBytes <= length else { throw HTTPClientError.remoteConnectionClosed }
            complete = collected.readableBytes == length
        case .toClose:
            var bytes = bytes
            collected.writeBuffer(&bytes)
        }
        guard collected.readableBytes <= Self.wholeLimit else { throw AnswerTooLarge() }
        body = .whole(head, framing: framing, collected: collected)
        if complete { finish(nil) }
    }

    /// Bytes for the client (already framed when `framed`): written at once while the relay
    /// runs, kept until it starts.
    private func pass(_ forward: [ByteBuffer], data: [ByteBuffer]) {
        switch outletState {
        case .waiting(var waitingForward, var waitingData):
            outletState = .over
            waitingForward += forward
            waitingData += data
            outletState = .waiting(forward: waitingForward, data: waitingData)
        case .running(let progress, _):
            let parts: [ByteBuffer]
            if framed {
                for part in data { progress.observe(part) }
                parts = forward
            } else {
                parts = data.compactMap(progress.relay)  // (unframed, what goes forward is the data)
            }
            let outlet = self.outlet.value
            var writable = true
            for (index, part) in parts.enumerated() {
                let flush = index == parts.count - 1
                writable = framed ? outlet.writeFramed(part, flush: flush) : outlet.write(part, flush: flush)
            }
            if !writable { connection.setReading(false) }
        case .endedEarly, .over:
            break
        }
    }

    // MARK: The end

    func connectionClosed() {
        guard !isOver else { return }
        switch body {
        case .parts(remaining: nil):
            finish(nil)
        case .whole(_, .toClose, _):
            finish(nil)
        case .head where !receivedAny:
            keepAlive = false
            finish(StaleConnection())
        default:
            keepAlive = false
            finish(HTTPClientError.remoteConnectionClosed)
        }
    }

    func connectionFailed(_ error: any Error) {
        guard !isOver else { return }
        keepAlive = false
        finish(receivedAny ? error : StaleConnection())
        connection.close()
    }

    /// The answer is over, whole (`error == nil`) or not.
    private func finish(_ error: (any Error)?) {
        guard !isOver else { return }
        isOver = true
        watchdog?.cancel()
        watchdog = nil
        let wholeAnswer: HTTPResponseHead?
        var collected = ByteBuffer()
        if case .whole(let head, _, let bytes) = body {
            wholeAnswer = head
            collected = bytes
        } else {
            wholeAnswer = nil
        }
        body = .ended
        connection.end(self, reusable: error == nil && keepAlive)
        if let waiter = headWaiter {
            headWaiter = nil
            if error == nil, let head = wholeAnswer {
                waiter.succeed(HTTPClientResponse(version: head.version, status: head.status, headers: head.headers, body: .bytes(collected)))
            } else {
                waiter.fail(error ?? HTTPClientError.remoteConnectionClosed)
            }
            return
        }
        switch outletState {
        case .waiting(let forward, let data):
            outletState = .endedEarly(forward: forward, data: data, error: error)
        case .running(_, let done):
            outletState = .over
            outlet.value.detach(self)
            if let error { done.fail(error) } else { done.succeed() }
        case .endedEarly, .over:
            break
        }
    }

    // MARK: OutletSource

    func startOutlet(_ progress: RelayProgress) -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        let done = eventLoop.makePromise(of: Void.self)
        switch outletState {
        case .waiting(let forward, let data):
            outletState = .running(progress, done: done)
            pass(unframedIfRewritten(forward, data, progress), data: data)
            if outlet.value.isWritable { connection.setReading(true) }
        case .endedEarly(let forward, let data, let error):
            outletState = .running(progress, done: done)
            pass(unframedIfRewritten(forward, data, progress), data: data)
            outletState = .over
            outlet.value.detach(self)
            if let error { done.fail(error) } else { done.succeed() }
        case .running, .over:
            done.fail(HTTPClientError.cancelled)
        }
        return done.futureResult
    }

    /// A stream the relay rewrites (``RelayProgress/rewritesStream``) goes as data, framed by the
    /// encoder, not as the provider's chunks: from the start, so `forward` gives way to `data`.
    private func unframedIfRewritten(_ forward: [ByteBuffer], _ data: [ByteBuffer], _ progress: RelayProgress) -> [ByteBuffer] {
        guard framed, progress.rewritesStream else { return forward }
        framed = false
        return data
    }

    func outletDrained() {
        guard case .running = outletState, !isOver else { return }
        connection.setReading(true)
    }

    func consumerLeft() {
        eventLoop.execute { [self] in
            guard !isOver else {
                if case .endedEarly = outletState { outletState = .over }
                return
            }
            keepAlive = false
            finish(HTTPClientError.cancelled)
        }
    }

    // MARK: The idle timer

    private func armWatchdog() {
        watchdog = eventLoop.scheduleTask(deadline: lastActivity + idleTimeout) { [self] in watchdogFired() }
    }

    private func watchdogFired() {
        watchdog = nil
        guard !isOver else { return }
        let heldBack: Bool
        switch outletState {
        case .waiting: heldBack = true
        case .running: heldBack = !outlet.value.isWritable
        default: heldBack = false
        }
        if heldBack || lastActivity + idleTimeout > .now() {
            if heldBack { lastActivity = .now() }
            armWatchdog()
            return
        }
        keepAlive = false
        finish(HTTPClientError.readTimeout)
    }
}
