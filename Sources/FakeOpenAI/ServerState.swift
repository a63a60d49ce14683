import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// State shared by every request of one fake server.
final class ServerState: Sendable {
    let recorder: RequestRecorder
    let logger: Logger
    let stopSignal = StopSignal()
    private let attempts = Mutex<[String: Int]>([:])

    init(recorder: RequestRecorder, logger: Logger) {
        self.recorder = recorder
        self.logger = logger
    }

    /// Counts one more attempt for `model` and returns the count (1 for the first).
    func nextAttempt(for model: String) -> Int {
        attempts.withLock { counts in
            let count = counts[model, default: 0] + 1
            counts[model] = count
            return count
        }
    }

    func resetAttempts() {
        attempts.withLock { $0.removeAll() }
    }

    /// Sleeps, but throws ``ServerStopping`` as soon as the server shuts down and
    /// `CancellationError` when the task is cancelled.
    ///
    /// A graceful shutdown of the server's service group (SIGTERM in `fake-openai`) stops every
    /// wait at once: Hummingbird's graceful shutdown waits for open connections to finish, and a
    /// stalled stream would otherwise hold it up for a minute.
    func sleep(for duration: Duration) async throws {
        if stopSignal.isStopped { throw ServerStopping() }
        let stopSignal = stopSignal
        try await withGracefulShutdownHandler {
            try await sleepUnlessStopped(for: duration)
        } onGracefulShutdown: {
            stopSignal.stop()
        }
    }

    /// Like ``sleep(for:)`` but for callers already inside `withGracefulShutdownHandler` that
    /// stops ``stopSignal`` (a streamed answer, which sleeps between all its chunks).
    ///
    /// One timer on the current event loop, not a task group of two sleeping tasks: a thousand
    /// slow streams make tens of thousands of these waits a second.
    func sleepUnlessStopped(for duration: Duration) async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let woken = loop.makePromise(of: Void.self)
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        let timer = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { woken.succeed() }
        guard let registration = stopSignal.onStop({ woken.fail(ServerStopping()) }) else {
            timer.cancel()
            woken.fail(ServerStopping())
            throw ServerStopping()
        }
        defer {
            timer.cancel()
            stopSignal.remove(registration)
        }
        try await withTaskCancellationHandler {
            try await woken.futureResult.get()
        } onCancel: {
            woken.fail(CancellationError())
        }
    }
}

/// Thrown by waits when the server is shutting down.
struct ServerStopping: Error {}

/// Thrown on purpose to close a connection abruptly (`fake-cut`, the end of `fake-stall`).
struct DeliberateCut: Error {}

/// A one-shot broadcast: every ``wait()`` returns once ``stop()`` has been called (or its task is cancelled).
final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelledBeforeRegistering: Set<Int> = []
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    var isStopped: Bool { state.withLock { $0.stopped } }

    func stop() {
        let (waiters, callbacks) = state.withLock { state in
            state.stopped = true
            defer {
                state.waiters.removeAll()
                state.callbacks.removeAll()
            }
            return (Array(state.waiters.values), Array(state.callbacks.values))
        }
        for waiter in waiters { waiter.resume() }
        for callback in callbacks { callback() }
    }

    /// Calls `callback` once on ``stop()``, unless ``remove(_:)`` came first. Returns nil (and
    /// never calls it) when already stopped.
    func onStop(_ callback: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { state in
            guard !state.stopped else { return nil }
            state.nextID += 1
            state.callbacks[state.nextID] = callback
            return state.nextID
        }
    }

    func remove(_ registration: Int) {
        _ = state.withLock { $0.callbacks.removeValue(forKey: registration) }
    }

    func wait() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.stopped || state.cancelledBeforeRegistering.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let continuation = state.waiters.removeValue(forKey: id) { return continuation }
                if !state.stopped { state.cancelledBeforeRegistering.insert(id) }
                return nil
            }
            continuation?.resume()
        }
        // A cancellation that arrived after the continuation was resumed leaves an id behind.
        state.withLock { _ = $0.cancelledBeforeRegistering.remove(id) }
    }
}
