import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// One request to the model provider, answered as an `HTTPClientResponse` whose body streams
/// with backpressure, and which fails with `HTTPClientError.readTimeout` once the provider has
/// sent nothing for `idleTimeout` (from sending the request to the response head, or between two
/// body parts).
///
/// It uses AsyncHTTPClient's delegate API rather than `HTTPClient.execute(_:timeout:)`, for two
/// costs the benchmark found:
/// - `execute(_:timeout:)` starts an unstructured `Task` per request (to register the request
///   with its cancellation actor), which wakes a thread of Swift's global pool each time.
/// - An idle timeout made of the client's read timeout is cancelled and scheduled again at every
///   body part, and cancelling a NIO timer searches the event loop's timers one by one: with
///   1,000 streams open that was 5 % of the gateway's CPU. Here one timer per request is armed
///   for the idle deadline; when it fires early (bytes came meanwhile) it is armed again for the
///   new deadline, so a chunk costs a clock read.
///
/// While the consumer holds the body back (backpressure), the idle clock is stopped: a slow
/// client is not the provider's silence.
final class UpstreamExchange: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void
    typealias Body = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand
    >

    private struct State {
        /// Until the head comes: the caller waiting for it.
        var head: CheckedContinuation<HTTPClientResponse, any Error>?
        /// Handed out with the head and not kept: a response dropped unread must end its sequence
        /// (and with it the request).
        var body: Body?
        var task: HTTPClient.Task<Void>?
        /// Why the request was ended before `task` was known (cancelled, timed out).
        var pendingFailure: (any Error)?
        /// Whether the request has gone out: until then the connection pool's own deadline
        /// (the connect timeout) applies, and its error says why no connection was had.
        var isSent = false
        var lastActivity: NIODeadline
        /// AsyncHTTPClient waits on this future before reading more; set while the consumer is full.
        var demand: EventLoopPromise<Void>?
        var watchdog: Scheduled<Void>?
        var isDone = false
    }

    private let state: Mutex<State>
    private let source: Body.Source
    private let eventLoop: any EventLoop
    private let idleTimeout: TimeAmount

    private init(eventLoop: any EventLoop, idleTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.idleTimeout = idleTimeout
        let demand = BodyDemand()
        let sequence = Body.makeSequence(
            backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4),
            finishOnDeinit: true,
            delegate: demand
        )
        self.source = sequence.source
        self.state = Mutex(State(body: sequence.sequence, lastActivity: .now()))
        demand.exchange.withLock { $0 = self }
    }

    /// Sends `request` on `client` and returns once the response head has arrived.
    static func execute(_ request: HTTPClient.Request, on client: HTTPClient, idleTimeout: TimeAmount) async throws -> HTTPClientResponse {
        let eventLoop = client.eventLoopGroup.any()
        let exchange = UpstreamExchange(eventLoop: eventLoop, idleTimeout: idleTimeout)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                exchange.state.withLock { $0.head = continuation }
                let task = client.execute(request: request, delegate: exchange, eventLoop: .delegate(on: eventLoop))
                task.futureResult.whenComplete { result in
                    switch result {
                    case .success: exchange.finish(error: nil)
                    case .failure(let error): exchange.finish(error: error)
                    }
                }
                let failure: (any Error)? = exchange.state.withLock { state in
                    state.task = task
                    return state.isDone ? nil : state.pendingFailure
                }
                if let failure { task.fail(reason: failure) }
                exchange.armWatchdog(at: .now() + idleTimeout)
            }
        } onCancel: {
            exchange.fail(HTTPClientError.cancelled)
        }
    }

    /// Ends the request with `error` (idempotent; before the task exists, it is ended on creation).
    private func fail(_ error: any Error) {
        let task: HTTPClient.Task<Void>? = state.withLock { state in
            guard !state.isDone else { return nil }
            if state.task == nil, state.pendingFailure == nil { state.pendingFailure = error }
            return state.task
        }
        task?.fail(reason: error)
    }

    /// The request is over: the head waiter or the body's consumer learns how, and the timer and
    /// any held-back read are released.
    private func finish(error: (any Error)?) {
        // The unsent body leaves the lock with the rest: ending it calls back into `consumerLeft`.
        let (head, body, demand, watchdog) = state.withLock { state in
            guard !state.isDone else { return (nil, nil, nil, nil) as (CheckedContinuation<HTTPClientResponse, any Error>?, Body?, EventLoopPromise<Void>?, Scheduled<Void>?) }
            state.isDone = true
            defer { state.head = nil; state.demand = nil; state.watchdog = nil }
            return (state.head, state.body.take(), state.demand, state.watchdog)
        }
        _ = body  // dropped here, after the lock
        watchdog?.cancel()
        demand?.succeed()
        if let head {
            head.resume(throwing: error ?? HTTPClientError.remoteConnectionClosed)
        } else if let error {
            source.finish(error)
        } else {
            source.finish()
        }
    }

    // MARK: The idle timer

    private func armWatchdog(at deadline: NIODeadline) {
        let scheduled = eventLoop.scheduleTask(deadline: deadline) { [self] in watchdogFired() }
        let stale: Scheduled<Void>? = state.withLock { state in
            guard !state.isDone else { return scheduled }
            state.watchdog = scheduled
            return nil
        }
        stale?.cancel()
    }

    private func watchdogFired() {
        let now = NIODeadline.now()
        enum Next { case nothing, rearm(NIODeadline), timeout }
        let next: Next = state.withLock { state in
            guard !state.isDone else { return .nothing }
            state.watchdog = nil
            // Not sent yet, or held back by the consumer: the provider is not the one being slow.
            if !state.isSent || state.demand != nil { return .rearm(now + idleTimeout) }
            let deadline = state.lastActivity + idleTimeout
            return deadline > now ? .rearm(deadline) : .timeout
        }
        switch next {
        case .nothing: break
        case .rearm(let deadline): armWatchdog(at: deadline)
        case .timeout: fail(HTTPClientError.readTimeout)
        }
    }

    // MARK: HTTPClientResponseDelegate (called on `eventLoop`)

    func didSendRequestHead(task: HTTPClient.Task<Void>, _ head: HTTPRequestHead) {
        state.withLock { state in
            state.isSent = true
            state.lastActivity = .now()
        }
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let (waiter, body) = state.withLock { state in
            state.lastActivity = .now()
            defer { state.head = nil; state.body = nil }
            return (state.head, state.body)
        }
        if let waiter, let body {
            waiter.resume(returning: HTTPClientResponse(version: head.version, status: head.status, headers: head.headers, body: .stream(body)))
        }
        return eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        switch source.yield(buffer) {
        case .produceMore, .dropped:
            state.withLock { $0.lastActivity = .now() }
            return eventLoop.makeSucceededVoidFuture()
        case .stopProducing:
            let promise = eventLoop.makePromise(of: Void.self)
            let isDone = state.withLock { state in
                state.lastActivity = .now()
                if !state.isDone { state.demand = promise }
                return state.isDone
            }
            if isDone { promise.succeed() }
            return promise.futureResult
        }
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        finish(error: error)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        finish(error: nil)
    }

    /// The consumer wants more, or went away.
    fileprivate func consumerDemanded() {
        let demand: EventLoopPromise<Void>? = state.withLock { state in
            defer { state.demand = nil }
            if state.demand != nil { state.lastActivity = .now() }
            return state.demand
        }
        demand?.succeed()
    }

    fileprivate func consumerLeft() {
        fail(HTTPClientError.cancelled)
        consumerDemanded()
    }
}

/// The body sequence's delegate: tells the exchange when its consumer wants more or is gone.
/// (The exchange owns the sequence's source, so this side holds it until the sequence ends.)
final class BodyDemand: NIOAsyncSequenceProducerDelegate {
    fileprivate let exchange = Mutex<UpstreamExchange?>(nil)

    func produceMore() {
        exchange.withLock { $0 }?.consumerDemanded()
    }

    func didTerminate() {
        let exchange = exchange.withLock { exchange in
            defer { exchange = nil }
            return exchange
        }
        exchange?.consumerLeft()
    }
}
