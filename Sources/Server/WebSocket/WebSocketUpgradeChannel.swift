import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import ModelProvider
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ServiceLifecycle
import Synchronization
// `WebSocketHandler` runs the frames of an accepted connection: pings, the close handshake,
// message assembly and size limits. It is the entry point HummingbirdWebSocket's own channel
// uses, published to it as SPI; using it here keeps that behaviour identical (see below).
@_spi(WSInternal) import WSCore

/// The gateway's HTTP/1.1 server channel, with WebSocket upgrades.
///
/// It is HummingbirdWebSocket's `HTTP1WebSocketUpgradeChannel` with one difference. That channel
/// answers every refused upgrade itself, with an empty `400` and `Connection: close`; the gateway
/// must answer a refused `/ws` handshake with `401`, `WWW-Authenticate` and the error envelope
/// (PROTOCOLS.md §0). Here a refused upgrade carries on as the HTTP request it is, so the router
/// answers it, middleware and all, on a connection that stays usable. Accepted upgrades run
/// exactly as in the library.
public struct WebSocketUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    public typealias Handler = WebSocketDataHandler<WebSocketConnectionContext>

    /// What to do with a request that asks for a WebSocket.
    public enum UpgradeDecision: Sendable {
        /// Serve it as plain HTTP: the router answers.
        case refuse
        /// Switch protocols, adding `headers` to the `101`, and run `handler` on the connection.
        case upgrade(headers: HTTPFields, handler: Handler)
    }

    public typealias ShouldUpgrade = @Sendable (Request, Logger) async -> UpgradeDecision

    public struct Configuration: Sendable {
        public var http1: HTTP1Channel.Configuration
        /// The largest frame accepted; a bigger one closes the connection with 1009.
        public var maxFrameSize: Int
        /// Protocol-level pings; a peer that misses a pong is closed with 1001.
        public var autoPing: AutoPingSetup
        /// How long the close handshake may take before the connection is dropped.
        public var closeTimeout: Duration
        /// Slow clients: the header and body timeouts (``RequestTimeoutHandler``) and the idle
        /// keep-alive timeout (Hummingbird's, in place of `http1.idleTimeout`).
        public var timeouts: HTTPTimeouts

        public init(
            http1: HTTP1Channel.Configuration = .init(),
            maxFrameSize: Int = 1 << 20,
            autoPing: AutoPingSetup = .enabled(timePeriod: .seconds(30)),
            closeTimeout: Duration = .seconds(10),
            timeouts: HTTPTimeouts = .defaults
        ) {
            self.http1 = http1
            self.maxFrameSize = maxFrameSize
            self.autoPing = autoPing
            self.closeTimeout = closeTimeout
            self.timeouts = timeouts
        }
    }

    enum Negotiated: Sendable {
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, Handler)
    }

    public struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        public let channel: any Channel
    }

    public let responder: HTTPChannelHandler.Responder
    let configuration: Configuration
    let shouldUpgrade: ShouldUpgrade

    public init(responder: @escaping HTTPChannelHandler.Responder, configuration: Configuration, shouldUpgrade: @escaping ShouldUpgrade) {
        self.responder = responder
        self.configuration = configuration
        self.shouldUpgrade = shouldUpgrade
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let accepted = AcceptedHandler()
            let firstRequest = NIOLoopBound(FirstRequestWatcher(), eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: configuration.maxFrameSize,
                shouldUpgrade: { [shouldUpgrade] channel, head in
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        guard let head = try? HTTPRequest(head, secure: false, splitCookie: false) else { return nil }
                        switch await shouldUpgrade(Request(head: head, body: .init(buffer: .init())), logger) {
                        case .refuse:
                            return nil
                        case .upgrade(let headers, let handler):
                            accepted.handler.withLock { $0 = handler }
                            return HTTPHeaders(headers)
                        }
                    }
                    // On the event loop, before the upgrade handler acts on the decision.
                    return promise.futureResult.map { headers in
                        if headers != nil { RequestTimeoutHandler.remove(from: channel) }
                        return headers
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let handler = accepted.handler.withLock({ $0.take() }) else {
                            preconditionFailure("the upgrade runs only after shouldUpgrade accepted it")
                        }
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return .webSocket(asyncChannel, handler)
                    }
                }
            )
            let http1 = configuration.http1
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration<Negotiated>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    // Not an upgrade, or a declined one: the same pipeline as Hummingbird's HTTP1Channel.
                    channel.eventLoop.makeCompletedFuture {
                        let declined = firstRequest.value.takeConsumedRequest()
                        // Where the relay writes streamed answers (see StreamOutlet).
                        try channel.pipeline.syncOperations.addHandler(StreamOutlet())
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        if declined != nil {
                            // The HTTP decoder stops parsing after a request that asked for an upgrade,
                            // so this connection ends after answering it.
                            try channel.pipeline.syncOperations.addHandler(ConnectionCloseHeader())
                        }
                        try channel.pipeline.syncOperations.addHandlers(http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: configuration.timeouts.idle, logger: logger)
                        )
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if let declined {
                            let upgradeHandler = try channel.pipeline.syncOperations.context(
                                handlerType: NIOTypedHTTPServerUpgradeHandler<Negotiated>.self)
                            declined.replay(from: upgradeHandler)
                        }
                        return .http(asyncChannel)
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            pipeline.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            pipeline.enableErrorHandling = false  // Hummingbird handles errors
            pipeline.enableResponseHeaderValidation = false  // HTTPTypes already validates
            pipeline.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<Negotiated>.self)
            try channel.pipeline.syncOperations.addHandler(
                RequestTimeoutHandler(timeouts: configuration.timeouts),
                position: .before(upgradeHandler)
            )
            try channel.pipeline.syncOperations.addHandler(firstRequest.value, position: .before(upgradeHandler))
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        let negotiated: Negotiated
        do {
            negotiated = try await value.negotiated.get()
        } catch {
            // The peer went away mid-handshake, or sent something that is not HTTP.
            logger.debug("connection ended before HTTP or WebSocket was negotiated", metadata: ["error": .string("\(error)")])
            return
        }
        switch negotiated {
        case .http(let asyncChannel):
            await handleHTTP(asyncChannel: asyncChannel, logger: logger)
        case .webSocket(let asyncChannel, let handler):
            await runWebSocket(asyncChannel, handler: handler, logger: logger)
        }
    }

    private func runWebSocket(_ asyncChannel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, handler: @escaping Handler, logger: Logger) async {
        let context = WebSocketConnectionContext(logger: logger, channel: asyncChannel.channel)
        let shutdownNotice = ShutdownNotice()
        // Registered before `WebSocketHandler` registers its own handler (which closes with 1000),
        // so a server shutdown closes with 1001 "going away", as RFC 6455 §7.4.1 describes it.
        await withGracefulShutdownHandler {
            do {
                _ = try await WebSocketHandler.handle(
                    type: .server,
                    configuration: .init(
                        extensions: [],
                        autoPing: configuration.autoPing,
                        closeTimeout: configuration.closeTimeout,
                        validateUTF8: true,
                        maxFrameSize: configuration.maxFrameSize
                    ),
                    asyncChannel: asyncChannel,
                    context: context
                ) { inbound, outbound, context in
                    shutdownNotice.attach(outbound)
                    try await handler(inbound, outbound, context)
                }
            } catch {
                logger.debug("WebSocket ended with an error", metadata: ["error": .string("\(error)")])
            }
        } onGracefulShutdown: {
            shutdownNotice.send()
        }
    }
}

/// What a WebSocket connection's handler gets besides its frames.
public struct WebSocketConnectionContext: WebSocketContext {
    public let logger: Logger
    /// The connection, for dropping a peer that does not answer a close.
    public let channel: any Channel
}

/// Watches a connection until its first request is read, just before NIO's upgrade handler.
///
/// - It remembers a request that asks for an upgrade: the upgrade handler consumes its head (and,
///   if it has arrived, its end) while deciding and does not pass them on when it declines (which
///   is why HummingbirdWebSocket writes its own `400` then), so they are replayed to the router.
/// - It closes the connection if the server shuts down before any request arrived. Hummingbird's
///   `HTTPConnectionStateHandler` does that on a plain HTTP/1 channel, but here it is only added
///   once the first request is known not to be an upgrade; without this, graceful shutdown would
///   wait for idle keep-alive connections that clients opened but have not used yet.
private final class FirstRequestWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// The head of a request NIO considered upgrading (one with an `Upgrade` header).
    private var upgradeHead: HTTPRequestHead?
    private var sawHead = false
    private var sawEnd = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !sawHead {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var done = false
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            sawHead = true
            if head.headers[canonicalForm: "upgrade"].isEmpty {
                done = true  // NIO buffers and replays requests that do not ask for an upgrade
            } else {
                upgradeHead = head
            }
        case .body:
            break
        case .end:
            sawEnd = true
            done = true
        }
        context.fireChannelRead(data)
        if done { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    /// What the upgrade handler consumed, once it declined; nil when it consumed nothing.
    func takeConsumedRequest() -> DeclinedUpgrade? {
        defer { upgradeHead = nil }
        return upgradeHead.map { DeclinedUpgrade(head: $0, endWasRead: sawEnd) }
    }
}

/// A request whose upgrade was declined, to be answered over HTTP.
private struct DeclinedUpgrade {
    var head: HTTPRequestHead
    /// Whether the upgrade handler consumed the request's end too (else it replays it itself).
    var endWasRead: Bool

    /// Sends the request on from the upgrade handler's place in the pipeline, before the upgrade
    /// handler replays anything it buffered after it. `Connection: close` makes Hummingbird close
    /// the connection once it has answered.
    func replay(from upgradeHandler: ChannelHandlerContext) {
        var head = head
        head.headers.replaceOrAdd(name: "connection", value: "close")
        upgradeHandler.fireChannelRead(NIOAny(HTTPServerRequestPart.head(head)))
        if endWasRead { upgradeHandler.fireChannelRead(NIOAny(HTTPServerRequestPart.end(nil))) }
        upgradeHandler.fireChannelReadComplete()
    }
}

/// Tells the client that the connection closes after this response.
private final class ConnectionCloseHeader: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = Self.unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        head.headerFields[.connection] = "close"
        context.write(Self.wrapOutboundOut(.head(head)), promise: promise)
    }
}

/// Carries the accepted handler from `shouldUpgrade` to the pipeline switch, per connection.
private final class AcceptedHandler: Sendable {
    let handler = Mutex<WebSocketUpgradeChannel.Handler?>(nil)
}

/// Sends the close frame with 1001 when the server shuts down.
///
/// `Task.immediate` runs on the shutdown handler's thread up to the writer's actor, so this close
/// frame is sent before the one `WebSocketHandler`'s later-registered handler asks for (which then
/// does nothing: a connection closes once).
private final class ShutdownNotice: Sendable {
    private let writer = Mutex<WebSocketOutboundWriter?>(nil)

    func attach(_ writer: WebSocketOutboundWriter) {
        self.writer.withLock { $0 = writer }
    }

    func send() {
        guard let writer = writer.withLock({ $0 }) else { return }
        Task.immediate {
            try? await writer.close(.goingAway, reason: "server shutting down")
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with WebSocket upgrades decided by `shouldUpgrade`; see ``WebSocketUpgradeChannel``.
    public static func http1WithWebSockets(
        configuration: WebSocketUpgradeChannel.Configuration = .init(),
        shouldUpgrade: @escaping WebSocketUpgradeChannel.ShouldUpgrade
    ) -> HTTPServerBuilder {
        .init { responder in
            WebSocketUpgradeChannel(responder: responder, configuration: configuration, shouldUpgrade: shouldUpgrade)
        }
    }
}
