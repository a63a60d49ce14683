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

    /// Runs `body`, which may wait with ``sleepUnlessStopped(for:)``, so that a graceful shutdown of
    /// the server's service group (SIGTERM in `fake-openai`) stops every such wait at once:
    /// Hummingbird's graceful shutdown waits for open connections to finish, and a stalled stream
    /// would otherwise hold it up for a minute. One handler for a whole stream, not one per wait.
    func untilShutdown<T>(_ body: () async throws -> T) async throws -> T {
        if stopSignal.isStopped { throw ServerStopping() }
        let stopSignal = stopSignal
        return try await withGracefulShutdownHandler {
            try await body()
        } onGracefulShutdown: {
            stopSignal.stop()
        }
    }

    /// Sleeps, but throws ``ServerStopping`` as soon as the server shuts down and
    /// `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws {
        try await untilShutdown { try await sleepUnlessStopped(for: duration) }
    }

    /// ``sleep(for:)`` for code already inside ``untilShutdown(_:)``.
    ///
    /// One timer on the current event loop, not a task group of two sleeping tasks: a thousand
    /// slow streams make tens of thousands of these waits a second.
    func sleepUnlessStopped(for duration: Duration) async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let woken = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(in: TimeAmount(duration)) { woken.succeed() }
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

/// A one-shot broadcast: every callback registered with ``onStop(_:)`` runs once ``stop()`` is called.
final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var nextID = 0
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    var isStopped: Bool { state.withLock { $0.stopped } }

    func stop() {
        let callbacks = state.withLock { state in
            state.stopped = true
            defer { state.callbacks.removeAll() }
            return Array(state.callbacks.values)
        }
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
}
