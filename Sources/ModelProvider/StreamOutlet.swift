import NIOCore
import NIOHTTP1
import Synchronization

/// The client's HTTP/1.1 connection as the relay writes a streamed answer to it: each chunk the
/// provider sends is written from the event loop that read it, the moment it is read.
///
/// Kept, not Hummingbird's writer, for a measured saving in CPU per relayed chunk and in chunk
/// gaps at 1,000 streams (bench/RESULTS.md, "Streams written from the event loop").
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
public final class StreamOutlet: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart

    public init() {}

    private var context: ChannelHandlerContext?
    /// The answer being relayed (one at a time: HTTP/1.1 answers requests in order).
    private var stream: (any OutletSource)?

    /// The outlet of `channel`'s pipeline, looked up on its event loop; `nil` for a connection
    /// without one (HTTP/2, tests serving Hummingbird's own channel).
    package static func find(on channel: any Channel) async -> NIOLoopBound<StreamOutlet>? {
        @Sendable func lookUp() -> NIOLoopBound<StreamOutlet>? {
            (try? channel.pipeline.syncOperations.handler(type: StreamOutlet.self)).map { NIOLoopBound($0, eventLoop: channel.eventLoop) }
        }
        if channel.eventLoop.inEventLoop { return lookUp() }
        return try? await channel.eventLoop.submit(lookUp).get()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        clientLeft()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        clientLeft()
        context.fireChannelInactive()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { stream?.outletDrained() }
        context.fireChannelWritabilityChanged()
    }

    private func clientLeft() {
        guard let stream else { return }
        self.stream = nil
        stream.consumerLeft()
    }

    /// Takes `stream` on; `false` if the connection is gone or already carries one.
    package func attach(_ stream: any OutletSource) -> Bool {
        guard self.stream == nil, let context, context.channel.isActive else { return false }
        self.stream = stream
        return true
    }

    package func detach(_ stream: any OutletSource) {
        if self.stream === stream { self.stream = nil }
    }

    /// Writes one chunk of the body; `false` once the connection's send buffer is above its
    /// high-water mark, so the provider should be read no further until it drains.
    package func write(_ buffer: ByteBuffer, flush: Bool) -> Bool {
        guard let context else { return false }
        let part = NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer)))
        if flush {
            context.writeAndFlush(part, promise: nil)
        } else {
            context.write(part, promise: nil)
        }
        return context.channel.isWritable
    }

    package func flush() {
        context?.flush()
    }

    package var isWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

/// A provider answer written to a ``StreamOutlet`` by the event loop (``UpstreamExchange``).
/// Called on the outlet's event loop.
package protocol OutletSource: AnyObject, Sendable {
    /// The relay starts (Hummingbird has written the head); completes when the answer has ended.
    func startOutlet(_ progress: any RelayObserver) -> EventLoopFuture<Void>
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
package final class RelayedStream: Sendable {
    package let outlet: NIOLoopBound<StreamOutlet>
    /// Shared with the provider request, which does not hold this handle: so the handle's end is
    /// the consumer's.
    package let engagement = Engagement()

    package final class Engagement: Sendable {
        fileprivate struct State {
            var exchange: (any OutletSource)?
            var isStarted = false
        }
        fileprivate let state = Mutex(State())

        func engage(_ exchange: any OutletSource) {
            state.withLock { $0.exchange = exchange }
        }
    }

    package init(outlet: NIOLoopBound<StreamOutlet>) {
        self.outlet = outlet
    }

    package var eventLoop: any EventLoop { outlet.eventLoop }

    /// Whether the provider's answer is being held for the outlet (else its body is the response's).
    package var isEngaged: Bool {
        engagement.state.withLock { $0.exchange != nil }
    }

    /// Writes the answer's chunks to the client as they come, each seen by `progress` first;
    /// returns once the provider's answer has ended, throws if it broke off or the client left.
    package func run(_ progress: any RelayObserver) async throws {
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

/// Sees each chunk of a relayed answer pass on its way to the client (the usage it reports, its
/// end) and returns what the client gets of it: the chunk, a rewritten one, or nil for nothing yet.
/// Called by one consumer at a time: the relay's task, or the outlet's event loop.
package protocol RelayObserver: AnyObject, Sendable {
    func relay(_ buffer: ByteBuffer) -> ByteBuffer?
}
