import GatewayRuntime
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Drops HTTP/1.1 clients that are too slow to send a request (``HTTPTimeouts``).
///
/// - The head must be complete within `header` of accept, or of the first byte of a following
///   request on a keep-alive connection.
/// - The body must be complete within `body` of its head.
/// - No timer runs while a request waits for its answer or an answer is being written, so a slow
///   model call or a long stream is never cut.
///
/// A head or body that timed out before anything of its answer was written gets `408` with the
/// error envelope and `Connection: close`; otherwise the connection is just closed. A silent
/// keep-alive connection is Hummingbird's `HTTPConnectionStateHandler`'s to close (its
/// `idleTimeout`), so this handler sets no timer between requests.
///
/// It sits between NIO's HTTP decoder and the upgrade handler, so it sees the first request
/// before a WebSocket upgrade is decided; an accepted upgrade takes it out of the pipeline
/// (``remove(from:)``) before the HTTP decoder goes. Used on its event loop only.
final class RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        /// Waiting for a request head; the header timer runs.
        case head
        /// A head was read, its body not yet all; the body timer runs.
        case body
        /// The request is read; its answer is due (no timer).
        case answering
        /// Nothing in progress; the next byte starts a head (no timer: idle is Hummingbird's).
        case idle
    }

    private let timeouts: HTTPTimeouts
    private var phase = Phase.head
    private var deadline = NIODeadline.distantFuture
    /// Heads read whose answer's end is not written yet.
    private var unanswered = 0
    /// An answer's head is written, its end not yet.
    private var isResponding = false
    /// Something of the answer to the request being read was written (an early answer).
    private var answeredEarly = false
    private var hasTimedOut = false
    private var timer: Scheduled<Void>?

    init(timeouts: HTTPTimeouts) {
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        startHead(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After a 408, what the client still sends is read and dropped (see `lingeringClose`).
        guard !hasTimedOut else { return }
        switch Self.unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            answeredEarly = false
            phase = .body
            deadline = .now() + TimeAmount(timeouts.body)
            rearm(context: context)
        case .body:
            break
        case .end:
            phase = unanswered == 0 ? .idle : .answering
            rearm(context: context)
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The rest of a timed-out request may not parse; the connection is closing anyway.
        guard !hasTimedOut else { return }
        context.fireErrorCaught(error)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if phase == .idle { startHead(context: context) }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !hasTimedOut else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch Self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            isResponding = true
            if phase == .body && unanswered == 1 { answeredEarly = true }
            rearm(context: context)
        case .head, .body:
            break
        case .end:
            isResponding = false
            unanswered = max(0, unanswered - 1)
            if unanswered == 0 && phase == .answering { phase = .idle }
            rearm(context: context)
        }
        context.write(data, promise: promise)
    }

    /// Leaves `channel`'s pipeline, as an accepted WebSocket upgrade needs before the HTTP
    /// decoder is removed (which passes on raw bytes). Called on the channel's event loop.
    static func remove(from channel: any Channel) {
        guard let context = try? channel.pipeline.syncOperations.context(handlerType: RequestTimeoutHandler.self) else { return }
        channel.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func startHead(context: ChannelHandlerContext) {
        phase = .head
        deadline = .now() + TimeAmount(timeouts.header)
        rearm(context: context)
    }

    /// Schedules the timer of the current phase, or none.
    private func rearm(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        guard !hasTimedOut, !isResponding, phase == .head || phase == .body else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timedOut(context: context)
        }
    }

    private func timedOut(context: ChannelHandlerContext) {
        let headTimedOut = phase == .head && unanswered == 0
        let bodyTimedOut = phase == .body && unanswered == 1 && !answeredEarly
        hasTimedOut = true
        guard headTimedOut || bodyTimedOut, !isResponding else {
            context.close(promise: nil)
            return
        }
        let error = GatewayError(
            status: .requestTimeout,
            code: "request_timeout",
            message: headTimedOut
                ? "The request head did not arrive within \(Self.seconds(timeouts.header)) (HTTP_HEADER_TIMEOUT_SECONDS)."
                : "The request body did not arrive within \(Self.seconds(timeouts.body)) (HTTP_BODY_TIMEOUT_SECONDS)."
        )
        let requestID = RequestIDMiddleware.generate()
        let body = ErrorResponder.envelope(for: error, requestID: requestID)
        var head = HTTPResponseHead(version: .http1_1, status: .requestTimeout)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Cache-Control", value: "no-store")
        head.headers.add(name: RequestIDMiddleware.header.rawName, value: requestID)
        head.headers.add(name: ContentTypeOptionsMiddleware.header.rawName, value: "nosniff")
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            Self.lingeringClose(context: context)
        }
    }

    /// Closes after an unsolicited answer so the client can read it: closing at once, with the
    /// rest of its request unread (or still arriving), makes the kernel send a reset, which can
    /// discard the 408 before the client reads it (RFC 9112 §9.6). So: close the sending side
    /// (the client sees the end of the answer), keep reading and dropping for a moment, then close.
    private static func lingeringClose(context: ChannelHandlerContext) {
        context.close(mode: .output, promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: lingerTime) {
            context.close(promise: nil)
        }
    }

    static let lingerTime = TimeAmount.seconds(2)

    private static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
