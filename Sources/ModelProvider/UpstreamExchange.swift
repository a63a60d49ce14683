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
///
/// A body with a `Content-Length` of at most ``collectLimit`` (a whole JSON answer, never a
/// stream) is gathered here and handed over with the head, in one piece: streaming it through an
/// async sequence cost more than the rest of relaying it. A failure before its end then fails the
/// request itself, so the relay can still answer with a clean 502.
///
/// A streamed 2xx answer to a relayed request that came with a ``RelayedStream`` skips the body
/// sequence: its chunks are written to the client's ``StreamOutlet`` from the event loop as they
/// are read (the exchange then runs on the outlet's event loop). Until the relay starts it,
/// after Hummingbird has written the response head, the first chunk waits and the provider is
/// read no further; afterwards the provider is read no faster than the client's connection
/// drains.
package final class UpstreamExchange: HTTPClientResponseDelegate, OutletSource, Sendable {
    package typealias Response = Void
    package typealias Body = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand
    >

    /// The largest sized body gathered before the response is handed over.
    package static let collectLimit = 1 << 20

    private struct State {
        /// Until the head comes (or, for a gathered body, until its end): the caller waiting.
        var head: CheckedContinuation<HTTPClientResponse, any Error>?
        /// A response whose sized body is being gathered, and the bytes so far.
        var gathering: (head: HTTPResponseHead, bytes: ByteBuffer)?
        /// The streamed body's producer side, from the head on.
        var source: Body.Source?
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
        var outlet: OutletPhase = .off
    }

    /// Where a stream written to the client's outlet is.
    private enum OutletPhase {
        case off
        /// Taken on at the head; the chunks read before the relay starts.
        case waiting([ByteBuffer])
        /// Started: chunks go to the outlet; `done` completes when the answer ends.
        case running(any RelayObserver, done: EventLoopPromise<Void>)
        /// The answer ended (`error` if it broke off) before the relay started.
        case endedEarly([ByteBuffer], error: (any Error)?)
    }

    private let state: Mutex<State>
    private let eventLoop: any EventLoop
    private let idleTimeout: TimeAmount
    /// The client's outlet a 2xx stream goes to, and where the relay learns that it does.
    private let outlet: NIOLoopBound<StreamOutlet>?
    private let engagement: RelayedStream.Engagement?
    /// Whether a flush of the outlet is queued on the event loop (``flushSoon()``).
    private let flushQueued: NIOLoopBoundBox<Bool>

    private init(eventLoop: any EventLoop, idleTimeout: TimeAmount, relayed: RelayedStream?) {
        self.eventLoop = eventLoop
        self.idleTimeout = idleTimeout
        self.outlet = relayed?.outlet
        self.engagement = relayed?.engagement
        self.state = Mutex(State(lastActivity: .now()))
        self.flushQueued = .makeBoxSendingValue(false, eventLoop: eventLoop)
    }

    /// A streamed body for the consumer, this exchange feeding it.
    private func makeBody() -> (Body.Source, Body) {
        let demand = BodyDemand()
        let sequence = Body.makeSequence(
            backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4),
            finishOnDeinit: true,
            delegate: demand
        )
        demand.exchange.withLock { $0 = self }
        return (sequence.source, sequence.sequence)
    }

    /// Sends `request` on `client`, whose connections live on `eventLoop` (``ProviderHTTPClient``),
    /// and returns once the response head has arrived. With
    /// `relayed`, a 2xx streamed answer goes to its outlet (`relayed.isEngaged`), and the
    /// response's body is empty.
    package static func execute(
        _ request: HTTPClient.Request,
        on client: HTTPClient,
        eventLoop: any EventLoop,
        idleTimeout: TimeAmount,
        relayed: RelayedStream? = nil
    ) async throws -> HTTPClientResponse {
        let exchange = UpstreamExchange(eventLoop: eventLoop, idleTimeout: idleTimeout, relayed: relayed)
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

    /// The request is over: the waiter or the body's consumer learns how, and the timer and any
    /// held-back read are released.
    private func finish(error: (any Error)?) {
        // What was pending, taken out under the lock and settled after it.
        let ended: State? = state.withLock { state in
            guard !state.isDone else { return nil }
            let ended = state
            state = State(lastActivity: state.lastActivity, isDone: true)
            if case .waiting(let pending) = ended.outlet { state.outlet = .endedEarly(pending, error: error) }
            return ended
        }
        guard let ended else { return }
        ended.watchdog?.cancel()
        ended.demand?.succeed()
        if case .running(_, let done) = ended.outlet {
            onEventLoop { [self] in
                outlet?.value.detach(self)
                if let error { done.fail(error) } else { done.succeed() }
            }
        } else if case .waiting = ended.outlet {
            onEventLoop { [self] in outlet?.value.detach(self) }
        } else if let head = ended.head {
            if error == nil, let gathered = ended.gathering {
                head.resume(returning: Self.response(gathered.head, body: .bytes(gathered.bytes)))
            } else {
                head.resume(throwing: error ?? HTTPClientError.remoteConnectionClosed)
            }
        } else if let error {
            ended.source?.finish(error)
        } else {
            ended.source?.finish()
        }
    }

    private static func response(_ head: HTTPResponseHead, body: HTTPClientResponse.Body) -> HTTPClientResponse {
        HTTPClientResponse(version: head.version, status: head.status, headers: head.headers, body: body)
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

    /// Flushes the outlet once the event loop has handed over the parts it has now: the parts of
    /// one read of the provider's socket (a burst of events) leave in one write, not one system
    /// call and one wake-up of the client each; a part that comes alone is flushed as at once.
    private func flushSoon() {
        guard !flushQueued.value else { return }
        flushQueued.value = true
        eventLoop.execute { [self] in
            flushQueued.value = false
            outlet?.value.flush()
        }
    }

    // MARK: HTTPClientResponseDelegate (called on `eventLoop`)

    package func didSendRequestHead(task: HTTPClient.Task<Void>, _ head: HTTPRequestHead) {
        state.withLock { state in
            state.isSent = true
            state.lastActivity = .now()
        }
    }

    package func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), (0...Self.collectLimit).contains(length) {
            state.withLock { state in
                state.lastActivity = .now()
                if !state.isDone { state.gathering = (head, ByteBufferAllocator().buffer(capacity: length)) }
            }
            return eventLoop.makeSucceededVoidFuture()
        }
        if let outlet, let engagement, (200..<300).contains(head.status.code), outlet.value.attach(self) {
            engagement.engage(self)
            let waiter = state.withLock { state in
                state.lastActivity = .now()
                if !state.isDone { state.outlet = .waiting([]) }
                defer { state.head = nil }
                return state.head
            }
            waiter?.resume(returning: Self.response(head, body: .bytes(ByteBuffer())))
            return eventLoop.makeSucceededVoidFuture()
        }
        let (source, body) = makeBody()
        let waiter = state.withLock { state in
            state.lastActivity = .now()
            if !state.isDone { state.source = source }
            defer { state.head = nil }
            return state.head
        }
        waiter?.resume(returning: Self.response(head, body: .stream(body)))
        return eventLoop.makeSucceededVoidFuture()
    }

    package func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        var buffer = buffer
        enum Consumer { case none, sequence(Body.Source), outlet((any RelayObserver)?) }
        let consumer: Consumer = state.withLock { state in
            state.lastActivity = .now()
            if state.gathering != nil {
                state.gathering!.bytes.writeBuffer(&buffer)
                return .none
            }
            switch state.outlet {
            case .off: return state.source.map { .sequence($0) } ?? .none
            case .waiting(var pending):
                state.outlet = .off  // (no copy of the array while it grows)
                pending.append(buffer)
                state.outlet = .waiting(pending)
                return .outlet(nil)
            case .running(let progress, _): return .outlet(progress)
            case .endedEarly: return .none
            }
        }
        let wantsMore: Bool
        switch consumer {
        case .none:
            wantsMore = true
        case .sequence(let source):
            switch source.yield(buffer) {
            case .produceMore, .dropped: wantsMore = true
            case .stopProducing: wantsMore = false
            }
        case .outlet(nil):
            wantsMore = false  // held until the relay starts
        case .outlet(let progress?):
            if let relayed = progress.relay(buffer) {
                wantsMore = outlet!.value.write(relayed, flush: false)
                flushSoon()
            } else {
                wantsMore = outlet!.value.isWritable
            }
        }
        if wantsMore { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        let isDone = state.withLock { state in
            if !state.isDone { state.demand = promise }
            return state.isDone
        }
        if isDone { promise.succeed() }
        return promise.futureResult
    }

    package func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        finish(error: error)
    }

    package func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        finish(error: nil)
    }

    /// The consumer wants more, or went away.
    package func consumerDemanded() {
        let demand: EventLoopPromise<Void>? = state.withLock { state in
            defer { state.demand = nil }
            if state.demand != nil { state.lastActivity = .now() }
            return state.demand
        }
        demand?.succeed()
    }

    package func consumerLeft() {
        fail(HTTPClientError.cancelled)
        consumerDemanded()
    }
}

// MARK: The outlet (on its event loop)

extension UpstreamExchange {
    /// The relay starts writing to the outlet (Hummingbird has written the head): the chunks
    /// that waited go first, then reading goes on. Completes when the answer has ended.
    package func startOutlet(_ progress: any RelayObserver) -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        let done = eventLoop.makePromise(of: Void.self)
        enum Start { case pending([ByteBuffer]), ended([ByteBuffer], (any Error)?), unknown }
        let start: Start = state.withLock { state in
            switch state.outlet {
            case .waiting(let pending):
                state.outlet = .running(progress, done: done)
                return .pending(pending)
            case .endedEarly(let pending, let error):
                state.outlet = .off
                return .ended(pending, error)
            case .off, .running:
                return .unknown
            }
        }
        let outlet = self.outlet!.value
        func send(_ pending: [ByteBuffer]) {
            for buffer in pending {
                if let relayed = progress.relay(buffer) { _ = outlet.write(relayed, flush: false) }
            }
            outlet.flush()
        }
        switch start {
        case .pending(let pending):
            send(pending)
            if outlet.isWritable { consumerDemanded() }
        case .ended(let pending, let error):
            send(pending)
            outlet.detach(self)
            if let error { done.fail(error) } else { done.succeed() }
        case .unknown:
            done.fail(HTTPClientError.cancelled)
        }
        return done.futureResult
    }

    /// The client's connection drained below its low-water mark: read on, if it was what held
    /// the provider back.
    package func outletDrained() {
        let running = state.withLock { state in
            if case .running = state.outlet { return true }
            return false
        }
        if running { consumerDemanded() }
    }

    private func onEventLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }
}

/// The body sequence's delegate: tells the exchange when its consumer wants more or is gone.
/// (The exchange holds the sequence's source, so this side holds it only until the sequence ends.)
package final class BodyDemand: NIOAsyncSequenceProducerDelegate {
    fileprivate let exchange = Mutex<UpstreamExchange?>(nil)

    package func produceMore() {
        exchange.withLock { $0 }?.consumerDemanded()
    }

    package func didTerminate() {
        let exchange = exchange.withLock { exchange in
            defer { exchange = nil }
            return exchange
        }
        exchange?.consumerLeft()
    }
}
