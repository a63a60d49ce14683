import NIOCore

extension EventLoop {
    /// Suspends for `duration` on a timer of this event loop; cancelling the task removes the timer
    /// at once and throws `CancellationError`.
    ///
    /// `Task.sleep` keeps its timer, and the memory of the sleep, until the deadline even when the
    /// task is cancelled: for a connection's idle timeout, minutes after the connection is gone.
    public func sleep(for duration: Duration) async throws {
        let promise = makePromise(of: Void.self)
        let timer = scheduleTask(in: TimeAmount(duration)) { promise.succeed() }
        try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            timer.cancel()
            promise.fail(CancellationError())
        }
    }
}
