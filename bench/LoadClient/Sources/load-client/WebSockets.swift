import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// Counts shared by every held WebSocket (all on one event loop).
final class WebSocketTally {
    var closedByServer = 0
    var pingsAnswered = 0
    var closing = false
}

/// Sends the handshake request when the channel becomes active; reports a refused handshake.
final class HandshakeStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let target: Target
    let headers: [String]
    let promise: EventLoopPromise<Channel>

    init(target: Target, headers: [String], promise: EventLoopPromise<Channel>) {
        self.target = target
        self.headers = headers
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var fields = HTTPHeaders()
        fields.add(name: "Host", value: target.hostHeader)
        fields.add(name: "Content-Length", value: "0")
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { continue }
            fields.add(
                name: String(header[..<colon]),
                value: String(header[header.index(after: colon)...].drop { $0 == " " })
            )
        }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: fields)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            promise.fail(ProtocolError("handshake answered \(head.status.code)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ProtocolError("closed during the handshake"))
        context.fireChannelInactive()
    }
}

/// An open WebSocket that stays idle: answers pings, notes a close by the server.
final class WebSocketHolder: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let tally: WebSocketTally

    init(tally: WebSocketTally) { self.tally = tally }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            tally.pingsAnswered += 1
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            if !tally.closing { tally.closedByServer += 1 }
            context.close(promise: nil)
        default:
            break
        }
    }
}

func openWebSocket(target: Target, headers: [String], eventLoop: EventLoop, tally: WebSocketTally) -> EventLoopFuture<Channel> {
    let promise = eventLoop.makePromise(of: Channel.self)
    let starter = HandshakeStarter(target: target, headers: headers, promise: promise)
    let connect = ClientBootstrap(group: eventLoop)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .connectTimeout(.seconds(10))
        .channelInitializer { channel in
            let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 16, automaticErrorHandling: true) { channel, _ in
                channel.pipeline.removeHandler(starter).flatMap {
                    channel.pipeline.addHandler(WebSocketHolder(tally: tally))
                }.map {
                    promise.succeed(channel)
                }
            }
            let upgrade: NIOHTTPClientUpgradeConfiguration = (upgraders: [upgrader], completionHandler: { _ in })
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers(withClientUpgrade: upgrade)
                try channel.pipeline.syncOperations.addHandler(starter)
            }
        }
        .connect(host: target.host, port: target.port)
    connect.whenFailure { promise.fail($0) }
    return promise.futureResult
}

func runWebSockets(_ options: Options) throws -> String {
    raiseFileLimit()
    let target = try Target(url: options.string("url"))
    let headers = options.all("header")
    let count = options.int("count", 10_000)
    let parallel = options.int("parallel", 128)
    let settle = options.double("settle-seconds", 2)
    let hold = options.double("hold-seconds", 5)
    let pid = options.pids.first?.1
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let loop = group.next()
    let tally = WebSocketTally()

    let rssBefore = pid.flatMap(rssKiB)
    let started = nowNanos()
    let allDone = loop.makePromise(of: Void.self)
    var channels: [Channel] = []
    var failed = 0
    var firstError: String?
    var next = 0
    var finished = 0
    func startOne() {
        guard next < count else { return }
        next += 1
        openWebSocket(target: target, headers: headers, eventLoop: loop, tally: tally).hop(to: loop).whenComplete { result in
            switch result {
            case .success(let channel): channels.append(channel)
            case .failure(let error):
                failed += 1
                if firstError == nil { firstError = "\(error)" }
            }
            finished += 1
            if finished == count { allDone.succeed(()) } else { startOne() }
        }
    }
    loop.execute { for _ in 0..<min(parallel, count) { startOne() } }
    try allDone.futureResult.wait()
    let openSeconds = Double(nowNanos() - started) / 1e9
    let opened = try loop.submit { channels.count }.wait()

    sleepSeconds(settle)
    let rssOpen = pid.flatMap(rssKiB)
    sleepSeconds(hold)
    let rssHeld = pid.flatMap(rssKiB)
    let (stillOpen, closedByServer, pings) = try loop.submit { () -> (Int, Int, Int) in
        (channels.filter { $0.isActive }.count, tally.closedByServer, tally.pingsAnswered)
    }.wait()

    // Close them all (the server sees each client leave), then let the server settle.
    let closed = try loop.submit { () -> EventLoopFuture<Void> in
        tally.closing = true
        let futures = channels.map { channel -> EventLoopFuture<Void> in
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: ByteBuffer(bytes: [0x03, 0xE8]))
            channel.writeAndFlush(close, promise: nil)
            return channel.closeFuture
        }
        return EventLoopFuture.andAllComplete(futures, on: loop)
    }.wait()
    let closing = loop.scheduleTask(in: .seconds(15)) { for channel in channels { channel.close(promise: nil) } }
    try closed.wait()
    closing.cancel()
    sleepSeconds(settle)
    let rssAfterClose = pid.flatMap(rssKiB)

    func kib(_ value: Int?) -> String { value.map(String.init) ?? "null" }
    var out = "{\"mode\":\"websockets\",\"label\":\(jsonString(options.string("label", ""))),\"requested\":\(count),"
    out += "\"opened\":\(opened),\"failed\":\(failed),\"open_seconds\":\(fmt3(openSeconds)),"
    out += "\"still_open_after_hold\":\(stillOpen),\"closed_by_server\":\(closedByServer),\"pings_answered\":\(pings),"
    out += "\"rss_before_kib\":\(kib(rssBefore)),\"rss_open_kib\":\(kib(rssOpen)),\"rss_held_kib\":\(kib(rssHeld)),"
    out += "\"rss_after_close_kib\":\(kib(rssAfterClose))"
    if let firstError { out += ",\"first_error\":\(jsonString(firstError))" }
    return out + "}"
}

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}

/// Lifts the soft open-file limit to the hard one (10,000 sockets need it).
func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
