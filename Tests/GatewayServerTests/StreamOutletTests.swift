import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayRuntime
import Hummingbird
@testable import GatewayServer
import ModelProvider
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// A relayed stream written to the client's connection from the event loop (``StreamOutlet``),
/// on a real loopback server with the gateway's HTTP/1.1 framing (NIO's codec) and the outlet,
/// the test writing the head and the end as Hummingbird does.
@Suite("Relayed streams go to the client's connection from the event loop", .serialized)
struct StreamOutletTests {
    /// A server connection with an outlet, and a raw client connected to it that has sent a request.
    struct Connection {
        let server: any Channel
        let client: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let watcher: ConnectionWatcher
    }

    /// What happened to the server's end of the connection (for failure messages).
    final class ConnectionWatcher: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        private let events = Mutex<[String]>([])
        private let requests = Atomic<Int>(0)
        var description: String { events.withLock { $0.joined(separator: ", ") } }
        /// Whether a request came in on it: the test client's connection, not a stray one.
        var sawRequest: Bool { requests.load(ordering: .acquiring) > 0 }
        private func note(_ event: String) { events.withLock { $0.append("\(ContinuousClock.now) \(event)") } }

        func channelActive(context: ChannelHandlerContext) {
            note("active")
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                note("request \(head.method) \(head.uri)")
                requests.add(1, ordering: .releasing)
            case .body: note("body")
            case .end: note("end")
            }
            context.fireChannelRead(data)
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            note("event \(event)")
            context.fireUserInboundEventTriggered(event)
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            note("error \(error)")
            context.fireErrorCaught(error)
        }
        func channelInactive(context: ChannelHandlerContext) {
            note("inactive")
            context.fireChannelInactive()
        }
    }

    static func withConnection(_ body: (Connection) async throws -> Void) async throws {
        // Every accepted connection: a port freed by another test and given to this listener can
        // bring a stray connection from that test, and one accepted channel in many runs never
        // became active (closed before it was, its watcher having seen nothing). The client's
        // own is the one from its address that is active and has its request.
        let accepted = Mutex<[(channel: any Channel, watcher: ConnectionWatcher)]>([])
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
                    let watcher = ConnectionWatcher()
                    try channel.pipeline.syncOperations.addHandlers(StreamOutlet(), watcher)
                    accepted.withLock { $0.append((channel, watcher)) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await rawConnection(port: listener.localAddress!.port!)
        try await client.channel.writeAndFlush(ByteBuffer(string: "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Length: 0\r\n\r\n"))
        var found: (channel: any Channel, watcher: ConnectionWatcher)?
        for _ in 0..<500 where found == nil {
            found = accepted.withLock {
                $0.first { $0.channel.remoteAddress == client.channel.localAddress && $0.channel.isActive && $0.watcher.sawRequest }
            }
            if found == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let everyAccepted = accepted.withLock { $0.map { "\($0.channel.remoteAddress.map(String.init(describing:)) ?? "?"): \($0.watcher.description)" } }
        let (server, watcher) = try #require(
            found, "the listener accepted the client's connection (client \(String(describing: client.channel.localAddress)), accepted: \(everyAccepted))")
        do {
            try await body(Connection(server: server, client: client, watcher: watcher))
        } catch {
            try? await client.channel.close()
            try? await listener.close()
            throw error
        }
        try? await client.channel.close()
        try await listener.close()
    }

    /// A provider transport to `baseURL` as the gateway makes it, and the server connection with its outlet.
    static func withRelay(
        to baseURL: String,
        queryParams: [String: String] = [:], httpHeaders: [String: String] = [:],
        _ body: (ProviderTransport, Connection) async throws -> Void
    ) async throws {
        let clients = ProviderHTTPClient(connectTimeout: .seconds(5), maximumConnections: 16)
        let provider = ModelProviderInfo(
            name: "Fake", baseURL: baseURL, envKey: "K", wireAPI: .chat, queryParams: queryParams, httpHeaders: httpHeaders,
            streamIdleTimeoutMilliseconds: 5000)
        let transport = ProviderTransport(provider: provider, http: clients, environment: ["K": "k"], logger: TestGateway.quietLogger)
        do {
            // On the event loops, as the gateway runs.
            try await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) {
                try await withConnection { connection in try await body(transport, connection) }
            }
        } catch {
            try? await clients.shutdown()
            throw error
        }
        try await clients.shutdown()
    }

    static func streamRequest(_ model: String) -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#)
    }

    /// The chunked body as the client reads it: the bytes of its chunks, and when each arrived.
    struct ChunkedReader {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var raw = ByteBuffer()
        var headSkipped = false

        /// The next body bytes, `nil` after the last chunk.
        mutating func next() async throws -> ByteBuffer? {
            while true {
                if !headSkipped, let end = raw.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) {
                    raw.moveReaderIndex(forwardBy: end.upperBound - raw.readerIndex)
                    headSkipped = true
                }
                if headSkipped, let line = raw.readableBytesView.firstRange(of: Array("\r\n".utf8)) {
                    let sizeText = String(decoding: raw.readableBytesView[raw.readerIndex..<line.lowerBound], as: UTF8.self)
                    let size = try #require(Int(sizeText, radix: 16), "chunk size line \(sizeText)")
                    let needed = line.upperBound - raw.readerIndex + size + 2
                    if raw.readableBytes >= needed {
                        raw.moveReaderIndex(forwardBy: line.upperBound - raw.readerIndex)
                        let chunk = raw.readSlice(length: size)!
                        raw.moveReaderIndex(forwardBy: 2)
                        return size == 0 ? nil : chunk
                    }
                }
                guard var more = try await iterator.next() else { throw ChannelError.eof }
                raw.writeBuffer(&more)
            }
        }
    }

    static func writeHead(_ server: any Channel) async throws {
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Type": "text/event-stream"])
        try await server.writeAndFlush(HTTPServerResponsePart.head(head))
    }

    @Test func aStreamIsWrittenWholeInOrderWithItsUsageAndItsEnd() async throws {
        try await withFakeUpstream { fake in
            try await Self.withRelay(to: fake.baseURL) { transport, connection in
                let outlet = try #require(await StreamOutlet.find(on: connection.server))
                let relayed = RelayedStream(outlet: outlet)
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.streamRequest("fake-slow-5-8"), accept: "text/event-stream", relayed: relayed)
                #expect(response.status == .ok)
                #expect(relayed.isEngaged, "a 2xx stream goes to the outlet; server connection: \(connection.watcher.description)")
                try await Self.writeHead(connection.server)
                let relay = Task {
                    try await relayed.run(RelayProgress(isStream: true, contentLength: nil, permit: nil))
                    try await connection.server.writeAndFlush(HTTPServerResponsePart.end(nil))
                }
                try await connection.client.executeThenClose { inbound, _ in
                    var reader = ChunkedReader(iterator: inbound.makeAsyncIterator())
                    var text = ""
                    while let chunk = try await reader.next() { text += String(buffer: chunk) }
                    let ticks = (0..<8).map { text.range(of: "tick\($0) ")?.lowerBound }
                    #expect(ticks.allSatisfy { $0 != nil } && ticks == ticks.sorted { $0! < $1! }, "every tick, in order")
                    #expect(text.contains(#""usage":{"#))
                    #expect(text.hasSuffix("data: [DONE]\n\n"))
                }
                try await relay.value
            }
        }
    }

    @Test func chunksAreWrittenAsTheyArriveNotWhenTheAnswerEnds() async throws {
        // fake-stall sends the role chunk and two deltas, then nothing until the client leaves:
        // the client can only see the deltas if each was passed on as it came.
        try await withFakeUpstream { fake in
            try await Self.withRelay(to: fake.baseURL) { transport, connection in
                let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.streamRequest("fake-stall"), accept: "text/event-stream", relayed: relayed)
                let active = try await connection.server.eventLoop.submit { [server = connection.server] in server.isActive }.get()
                #expect(relayed.isEngaged, "status \(response.status), client connection active: \(active); server connection: \(connection.watcher.description)")
                try await Self.writeHead(connection.server)
                let relay = Task { try await relayed.run(RelayProgress(isStream: true, contentLength: nil, permit: nil)) }
                let sawBothDeltas = try await connection.client.executeThenClose { inbound, _ in
                    try await withThrowingTaskGroup(of: Bool.self) { group in
                        group.addTask {
                            var reader = ChunkedReader(iterator: inbound.makeAsyncIterator())
                            var text = ""
                            while text.components(separatedBy: #""delta":{"content":"#).count < 3, let chunk = try await reader.next() {
                                text += String(buffer: chunk)
                            }
                            return true
                        }
                        group.addTask {
                            try await Task.sleep(for: .seconds(20))
                            return false
                        }
                        defer { group.cancelAll() }
                        return try await group.next() ?? false
                    }
                }
                #expect(sawBothDeltas, "the deltas reached the client while the provider was still answering")
                // The client left: the provider request stops, and so does the relay.
                #expect(await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.last?.clientDisconnected == true })
                await #expect(throws: (any Error).self) { try await relay.value }
            }
        }
    }

    @Test func anErrorAnswerIsNotTakenOnAndComesBackWithItsBody() async throws {
        try await withFakeUpstream { fake in
            try await Self.withRelay(to: fake.baseURL) { transport, connection in
                let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.streamRequest("fake-500-always"), accept: "text/event-stream", relayed: relayed)
                #expect(response.status.code == 500)
                #expect(!relayed.isEngaged)
                let body = try await response.body.collect(upTo: 1 << 16)
                #expect(String(buffer: body).contains("server_error"))
            }
        }
    }

    @Test func theGatewaysHTTPConnectionsCarryAnOutlet() async throws {
        let channel = EmbeddedChannel()
        let server = WebSocketUpgradeChannel(responder: { _, _, _ in }, configuration: .init(), shouldUpgrade: { _, _ in .refuse })
        let value = try await server.setup(channel: channel, logger: TestGateway.quietLogger).get()
        try channel.writeInbound(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n"))
        channel.embeddedEventLoop.run()
        _ = try await value.negotiated.get()
        #expect((try? channel.pipeline.syncOperations.handler(type: StreamOutlet.self)) != nil)
        _ = try? channel.finish()
    }

    @Test func aStreamDroppedBeforeItStartsStopsTheProviderRequest() async throws {
        try await withFakeUpstream { fake in
            try await Self.withRelay(to: fake.baseURL) { transport, connection in
                var relayed: RelayedStream? = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                _ = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.streamRequest("fake-stall"), accept: "text/event-stream", relayed: relayed)
                #expect(relayed?.isEngaged == true, "server connection: \(connection.watcher.description)")
                // The client left before the head went out, say: Hummingbird drops the body unrun.
                relayed = nil
                let stopped = await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.last?.clientDisconnected == true }
                #expect(stopped, "the provider request was stopped")
            }
        }
    }

    @Test func aClientThatStopsReadingHoldsTheProviderBackAndStillGetsEveryByte() async throws {
        let chunkSize = 64 * 1024
        let chunks = 1536  // 96 MiB: more than every socket buffer between the two ends can hold (about 45 MiB here)
        try await withBulkUpstream(chunkSize: chunkSize, chunks: chunks) { upstream in
            try await Self.withRelay(to: upstream.baseURL) { transport, connection in
                let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                let response = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.streamRequest("bulk"), accept: "text/event-stream", relayed: relayed)
                let active = try await connection.server.eventLoop.submit { [server = connection.server] in server.isActive }.get()
                #expect(relayed.isEngaged, "status \(response.status), client connection active: \(active); server connection: \(connection.watcher.description)")
                try await Self.writeHead(connection.server)
                let relay = Task {
                    try await relayed.run(RelayProgress(isStream: true, contentLength: nil, permit: nil))
                    try await connection.server.writeAndFlush(HTTPServerResponsePart.end(nil))
                }
                // The client reads nothing: once the socket buffers between the two ends are
                // full, the gateway must stop reading the provider, not gather its answer in
                // memory. The provider's writes then stall (no chunk written for 300 ms).
                var stalled = false
                var lastCount = -1
                let deadline = ContinuousClock.now + .seconds(10)
                while !stalled, !upstream.isFinished, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(300))
                    let count = upstream.chunksWritten
                    stalled = count == lastCount
                    lastCount = count
                }
                #expect(stalled && !upstream.isFinished, "the provider was held back at \(lastCount) of \(chunks) chunks while the client did not read")
                let written = try await connection.server.eventLoop.submit { [server = connection.server] in server.isWritable }.get()
                #expect(!written, "the client's connection is full")
                var total = 0
                try await connection.client.executeThenClose { inbound, _ in
                    var reader = ChunkedReader(iterator: inbound.makeAsyncIterator())
                    while let chunk = try await reader.next() { total += chunk.readableBytes }
                }
                try await relay.value
                #expect(total == chunkSize * chunks, "every byte arrived")
                #expect(upstream.isFinished)
            }
        }
    }

    /// Reads a relayed answer to its end: the body's bytes, or the error that ended it.
    static func relayBulk(_ transport: ProviderTransport, _ connection: Connection) async throws -> (bytes: Int, relay: Result<Void, any Error>) {
        let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
        _ = try await transport.send(method: .POST, path: "/chat/completions", body: streamRequest("bulk"), accept: "text/event-stream", relayed: relayed)
        #expect(relayed.isEngaged, "server connection: \(connection.watcher.description)")
        try await writeHead(connection.server)
        let relay = Task {
            try await relayed.run(RelayProgress(isStream: true, contentLength: nil, permit: nil))
            try await connection.server.writeAndFlush(HTTPServerResponsePart.end(nil))
        }
        var total = 0
        do {
            try await connection.client.executeThenClose { inbound, _ in
                var reader = ChunkedReader(iterator: inbound.makeAsyncIterator())
                while let chunk = try await reader.next() { total += chunk.readableBytes }
            }
        } catch {
            // The client's body broke off: what was read counts.
        }
        return (total, await relay.result)
    }

    @Test func anAnswerEndingWithItsConnectionIsRelayedWholeAsBodyParts() async throws {
        try await withBulkUpstream(chunkSize: 4096, chunks: 64, framing: .toClose) { upstream in
            try await Self.withRelay(to: upstream.baseURL) { transport, connection in
                let (bytes, relay) = try await Self.relayBulk(transport, connection)
                #expect(bytes == 4096 * 64)
                #expect((try? relay.get()) != nil)
            }
        }
    }

    /// Relays `rounds` streams one after the other on the client's one connection, as a client
    /// sends its next request when an answer has ended; the body bytes of each.
    static func relayRounds(_ rounds: Int, _ transport: ProviderTransport, _ connection: Connection) async throws -> [Int] {
        try await connection.client.executeThenClose { inbound, outbound in
            var reader = ChunkedReader(iterator: inbound.makeAsyncIterator())
            var totals: [Int] = []
            for round in 0..<rounds {
                if round > 0 {
                    // The client's next request on the same connection.
                    try await outbound.write(ByteBuffer(string: "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Length: 0\r\n\r\n"))
                }
                let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                _ = try await transport.send(
                    method: .POST, path: "/chat/completions", body: Self.streamRequest("bulk"), accept: "text/event-stream", relayed: relayed)
                try await Self.writeHead(connection.server)
                try await relayed.run(RelayProgress(isStream: true, contentLength: nil, permit: nil))
                try await connection.server.writeAndFlush(HTTPServerResponsePart.end(nil))
                var total = 0
                reader.headSkipped = false
                while let chunk = try await reader.next() { total += chunk.readableBytes }
                totals.append(total)
            }
            return totals
        }
    }

    @Test func badChunkFramingFromTheProviderEndsTheRelayWithAnError() async throws {
        try await withBulkUpstream(chunkSize: 4096, chunks: 1, framing: .badFraming) { upstream in
            try await Self.withRelay(to: upstream.baseURL) { transport, connection in
                let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                _ = try await transport.send(method: .POST, path: "/chat/completions", body: Self.streamRequest("bulk"), accept: "text/event-stream", relayed: relayed)
                try await Self.writeHead(connection.server)
                await #expect(throws: (any Error).self) {
                    try await relayed.run(RelayProgress(isStream: true, contentLength: nil, permit: nil))
                }
            }
        }
    }

    @Test func streamsOnOneClientConnectionReuseOneProviderConnection() async throws {
        try await withBulkUpstream(chunkSize: 1024, chunks: 4) { upstream in
            try await Self.withRelay(to: upstream.baseURL) { transport, connection in
                let totals = try await Self.relayRounds(3, transport, connection)
                #expect(totals == [4096, 4096, 4096])
                // AsyncHTTPClient returns a connection to its pool just after the answer's end, so the
                // next request may race it and open a second one; never one per stream.
                #expect(upstream.connectionCount < 3, "provider connections are reused between streams")
            }
        }
    }

    @Test func aStreamWhoseClientHasGoneIsNotReadOn() async throws {
        try await withFakeUpstream { fake in
            try await Self.withRelay(to: fake.baseURL) { transport, connection in
                let relayed = RelayedStream(outlet: try #require(await StreamOutlet.find(on: connection.server)))
                // The client leaves while its request is on the way to the provider.
                try await connection.client.channel.close()
                var serverActive = true
                for _ in 0..<500 where serverActive {
                    serverActive = try await connection.server.eventLoop.submit { [server = connection.server] in server.isActive }.get()
                    if serverActive { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(!serverActive)
                // fake-stall answers 200, two deltas, then silence for a minute: read on, the
                // request would end only at the idle timeout, 5 s later. The outlet does not take
                // it on, and dropping the answer's body ends the provider request.
                do {
                    _ = try await transport.send(
                        method: .POST, path: "/chat/completions", body: Self.streamRequest("fake-stall"), accept: "text/event-stream", relayed: relayed)
                }
                #expect(!relayed.isEngaged)
                #expect(await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.last?.clientDisconnected == true }, "the provider request was ended")
            }
        }
    }

}

/// A provider that answers any request with `chunks` chunks of `chunkSize` bytes of SSE, as fast
/// as its connection takes them (NIO's writability), and records when it wrote the last one.
final class BulkUpstream: Sendable {
    let baseURL: String
    /// How the answer's body is framed.
    enum Framing: Sendable {
        case chunked
        /// No length, `Connection: close`: the body ends with the connection.
        case toClose
        /// One chunk, then a size line that is not hex.
        case badFraming
    }

    private let finished = Atomic<Bool>(false)
    private let written = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)
    private let closedConnections = Atomic<Int>(0)
    /// How many connections the provider accepted, and how many of them have closed.
    var connectionCount: Int { connections.load(ordering: .relaxed) }
    var closedConnectionCount: Int { closedConnections.load(ordering: .relaxed) }
    var isFinished: Bool { finished.load(ordering: .acquiring) }
    var chunksWritten: Int { written.load(ordering: .relaxed) }

    fileprivate init(port: Int) {
        baseURL = "http://127.0.0.1:\(port)/v1"
    }

    fileprivate func countConnection() {
        connections.add(1, ordering: .relaxed)
    }

    fileprivate func countClose() {
        closedConnections.add(1, ordering: .relaxed)
    }

    fileprivate func countChunk() {
        written.add(1, ordering: .relaxed)
    }

    fileprivate func markFinished() {
        finished.store(true, ordering: .releasing)
    }

    fileprivate final class Streamer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let upstream: BulkUpstream
        let framing: Framing
        let chunk: ByteBuffer
        let chunks: Int
        var remaining: Int
        var started = false
        var answered = 0
        var request = ByteBuffer()

        init(upstream: BulkUpstream, chunkSize: Int, chunks: Int, framing: Framing) {
            self.upstream = upstream
            self.framing = framing
            var payload = ByteBuffer(string: "data: ")
            payload.writeRepeatingByte(UInt8(ascii: "x"), count: chunkSize - 8)
            payload.writeString("\n\n")
            var chunk = ByteBuffer(string: String(chunkSize, radix: 16) + "\r\n")
            chunk.writeImmutableBuffer(payload)
            chunk.writeString("\r\n")
            self.chunk = framing == .toClose ? payload : chunk
            self.chunks = framing == .badFraming ? 1 : chunks
            self.remaining = self.chunks
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            request.writeBuffer(&bytes)
            // Answer once the head and the JSON body (ending in `}`) are in.
            guard !started, request.readableBytesView.last == UInt8(ascii: "}") else { return }
            started = true
            answered += 1
            let framingHeader = framing == .toClose ? "Connection: close" : "Transfer-Encoding: chunked"
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\(framingHeader)\r\n\r\n"
            context.write(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
            pump(context)
        }

        func channelInactive(context: ChannelHandlerContext) {
            upstream.countClose()
            context.fireChannelInactive()
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if started { pump(context) }
            context.fireChannelWritabilityChanged()
        }

        private func pump(_ context: ChannelHandlerContext) {
            while remaining > 0, context.channel.isWritable {
                remaining -= 1
                upstream.countChunk()
                context.write(wrapOutboundOut(chunk), promise: nil)
                if remaining == 0 {
                    let upstream = self.upstream
                    switch framing {
                    case .chunked:
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "0\r\n\r\n"))).whenSuccess { upstream.markFinished() }
                        // Keep-alive: ready for the next request on this connection.
                        started = false
                        request.clear()
                        remaining = chunks
                    case .toClose:
                        // Closed once everything written has gone out.
                        let channel = context.channel
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in
                            upstream.markFinished()
                            channel.close(promise: nil)
                        }
                    case .badFraming:
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "zz\r\n")), promise: nil)
                    }
                    return
                }
            }
            context.flush()
        }
    }
}

func withBulkUpstream(chunkSize: Int, chunks: Int, framing: BulkUpstream.Framing = .chunked, _ body: (BulkUpstream) async throws -> Void) async throws {
    let upstreamBox = Mutex<BulkUpstream?>(nil)
    let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let upstream = upstreamBox.withLock { $0 }!
                upstream.countConnection()
                try channel.pipeline.syncOperations.addHandler(BulkUpstream.Streamer(upstream: upstream, chunkSize: chunkSize, chunks: chunks, framing: framing))
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    let upstream = BulkUpstream(port: listener.localAddress!.port!)
    upstreamBox.withLock { $0 = upstream }
    do {
        try await body(upstream)
    } catch {
        try? await listener.close()
        throw error
    }
    try await listener.close()
}
