import NIOCore
import NIOHTTP1
import Synchronization

/// The client's HTTP/1.1 connection as the relay writes a streamed answer to it: each chunk the
/// provider sends is written from the event loop that read it, the moment it is read.
///
/// Everything else the gateway answers goes through Hummingbird's response writer, which is an
/// `NIOAsyncChannel` writer: a chunk handed to it is one task resumption and one async-writer
/// hand-off after AsyncHTTPClient delivered it on the event loop. For a relayed stream that is
/// most of what the gateway adds per chunk, so the relay skips it: Hummingbird writes the head
/// and, after the last chunk, the end; the chunks in between go through this handler.
///
/// It sits on every HTTP/1.1 connection between NIO's HTTP codec and the HTTPTypes codec
/// (``WebSocketUpgradeChannel``), so what it writes is framed by NIO's `HTTPResponseEncoder`
/// exactly as Hummingbird's own body parts are (chunked for HTTP/1.1). It handles nothing on its
/// own: it passes every event on, and tells the stream it carries when the connection's buffer
/// drains (`channelWritabilityChanged`) or the client goes away (`channelInactive`).
///
/// A middleware that transforms response bodies would not see the relayed stream's bytes; the
/// gateway has none (its metrics and tracing middleware only time the body to its end).
///
/// Used on its event loop only.
final class StreamOutlet: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart

    private var context: ChannelHandlerContext?
    /// Where bytes that are already framed go: past NIO's `HTTPResponseEncoder`, to the socket.
    private var encoderContext: ChannelHandlerContext?
    /// The answer being relayed (one at a time: HTTP/1.1 answers requests in order).
    private var stream: (any OutletSource)?

    /// The outlet of `channel`'s pipeline, looked up on its event loop; `nil` for a connection
    /// without one (HTTP/2, tests serving Hummingbird's own channel).
    static func find(on channel: any Channel) async -> NIOLoopBound<StreamOutlet>? {
        @Sendable func lookUp() -> NIOLoopBound<StreamOutlet>? {
            (try? channel.pipeline.syncOperations.handler(type: StreamOutlet.self)).map { NIOLoopBound($0, eventLoop: channel.eventLoop) }
        }
        if channel.eventLoop.inEventLoop { return lookUp() }
        return try? await channel.eventLoop.submit(lookUp).get()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.encoderContext = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.encoderContext = nil
        clientLeft()
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientLeft()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { stream?.outletDrained() }
        context.fireChannelWritabilityChanged()
    }

    private func clientLeft() {
        guard let stream else { return }
        self.stream = nil
        stream.consumerLeft()
    }

    /// Takes `stream` on; `false` if the connection is gone or already carries one.
    func attach(_ stream: any OutletSource) -> Bool {
        guard self.stream == nil, let context, context.channel.isActive else { return false }
        self.stream = stream
        return true
    }

    func detach(_ stream: any OutletSource) {
        if self.stream === stream { self.stream = nil }
    }

    /// Writes one chunk of the body; `false` once the connection's send buffer is above its
    /// high-water mark, so the provider should be read no further until it drains.
    func write(_ buffer: ByteBuffer, flush: Bool) -> Bool {
        guard let context else { return false }
        let part = NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer)))
        if flush {
            context.writeAndFlush(part, promise: nil)
        } else {
            context.write(part, promise: nil)
        }
        return context.channel.isWritable
    }

    /// Writes bytes that are already framed as the response's chunks (the provider's own chunked
    /// framing, spliced) under the encoder, which framed the head as chunked and writes the end.
    /// `false` as for ``write(_:flush:)``.
    func writeFramed(_ buffer: ByteBuffer, flush: Bool) -> Bool {
        guard let encoderContext else { return false }
        let bytes = NIOAny(IOData.byteBuffer(buffer))
        if flush {
            encoderContext.writeAndFlush(bytes, promise: nil)
        } else {
            encoderContext.write(bytes, promise: nil)
        }
        return encoderContext.channel.isWritable
    }

    /// Whether framed bytes can be written (``writeFramed(_:flush:)``).
    var canWriteFramed: Bool { encoderContext != nil }

    func flush() {
        context?.flush()
    }

    var isWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

/// A provider answer written to a ``StreamOutlet`` by the event loop: ``UpstreamExchange``, or a
/// spliced one (``SpliceExchange``). Called on the outlet's event loop.
protocol OutletSource: AnyObject, Sendable {
    /// The relay starts (Hummingbird has written the head); completes when the answer has ended.
    func startOutlet(_ progress: RelayProgress) -> EventLoopFuture<Void>
    /// The client's connection drained below its low-water mark.
    func outletDrained()
    /// The client went away, or the relay dropped the answer unstarted.
    func consumerLeft()
}

/// The relay's side of a streamed answer that goes to a ``StreamOutlet``: created before the
/// request with the client's outlet, taken on by the provider request when its answer is a 2xx
/// stream (`isEngaged`), then started once Hummingbird has written the head (`run`).
///
/// If it is dropped without being started (the client left before the head went out), the
/// provider request is stopped, as dropping a body sequence stops it.
final class RelayedStream: Sendable {
    let outlet: NIOLoopBound<StreamOutlet>
    /// Shared with the provider request, which does not hold this handle: so the handle's end is
    /// the consumer's.
    let engagement = Engagement()

    final class Engagement: Sendable {
        fileprivate struct State {
            var exchange: (any OutletSource)?
            var isStarted = false
        }
        fileprivate let state = Mutex(State())

        func engage(_ exchange: any OutletSource) {
            state.withLock { $0.exchange = exchange }
        }
    }

    init(outlet: NIOLoopBound<StreamOutlet>) {
        self.outlet = outlet
    }

    var eventLoop: any EventLoop { outlet.eventLoop }

    /// Whether the provider's answer is being held for the outlet (else its body is the response's).
    var isEngaged: Bool {
        engagement.state.withLock { $0.exchange != nil }
    }

    /// Whether it is copied as it is, over the gateway's own provider connection.
    var isSpliced: Bool {
        engagement.state.withLock { $0.exchange is SpliceExchange }
    }

    /// Writes the answer's chunks to the client as they come, each seen by `progress` first;
    /// returns once the provider's answer has ended, throws if it broke off or the client left.
    func run(_ progress: RelayProgress) async throws {
        let exchange: (any OutletSource)? = engagement.state.withLock { state in
            state.isStarted = true
            return state.exchange
        }
        guard let exchange else { return }
        try await eventLoop.flatSubmit { exchange.startOutlet(progress) }.get()
    }

    deinit {
        // The exchange and the engagement refer to each other until here.
        let (exchange, isStarted) = engagement.state.withLock { state in
            defer { state.exchange = nil }
            return (state.exchange, state.isStarted)
        }
        if !isStarted { exchange?.consumerLeft() }
    }
}
