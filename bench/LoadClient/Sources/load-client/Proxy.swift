import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

// `load-client proxy`: a byte-level TCP relay (no HTTP), the floor of what any relay between the
// load client and the upstream costs: per chunk one read and one write. For comparing the
// gateway's CPU per relayed chunk with that floor on the same machine.
//
//   load-client proxy --port N --target HOST:PORT [--threads 2]
//
// Prints `load-client proxy listening on 127.0.0.1:PORT` and relays until killed.

func runProxy(_ options: Options) throws -> String {
    let target = try options.string("target")
    guard let colon = target.lastIndex(of: ":"), let targetPort = Int(target[target.index(after: colon)...]) else {
        throw UsageError("--target HOST:PORT")
    }
    let targetHost = String(target[..<colon])
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.int("threads", 2)))
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 4096)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { inbound in
            ClientBootstrap(group: inbound.eventLoop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: targetHost, port: targetPort)
                .flatMap { outbound in
                    let (a, b) = GlueHandler.matchedPair()
                    return inbound.pipeline.addHandler(a).flatMap { outbound.pipeline.addHandler(b) }
                }
        }
        .bind(host: "127.0.0.1", port: options.int("port", 0))
        .wait()
    print("load-client proxy listening on 127.0.0.1:\(channel.localAddress?.port ?? 0)")
    fflush(stdout)
    try channel.closeFuture.wait()
    return "{\"mode\":\"proxy\",\"closed\":true}"
}

/// SwiftNIO's connect-proxy example's glue: each side writes what the other reads, with backpressure.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }
    private func partnerFlush() { context?.flush() }
    private func partnerClose() { context?.close(promise: nil) }
    private var partnerWritable: Bool { context?.channel.isWritable ?? false }
    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { partner?.partnerWrite(data) }
    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }
    func channelInactive(context: ChannelHandlerContext) { partner?.partnerClose() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }
    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
