import NIOPosix

/// A serial executor on a thread of its own, for actors whose work blocks: file I/O.
///
/// The gateway's tasks run on the event loops (see ``EventLoopTaskExecutor``), and a default actor
/// runs on its caller's task executor, so a plain actor that writes files would block an event
/// loop, and every connection on it, for as long as the disk takes. On a network volume (Azure
/// Files under Container Apps, a Cloud Run volume mount) that can be tens of milliseconds. An actor
/// that returns this executor's ``asUnownedSerialExecutor()`` from its `unownedExecutor` runs its
/// methods here instead, one job at a time; its callers wait without blocking their loop.
public final class BlockingIOExecutor: SerialExecutor {
    /// One thread for the whole process, started on first use and never stopped (like NIO's own
    /// singletons). Conversation files are small appends: one thread keeps up, and keeps their
    /// writes in order.
    public static let shared = BlockingIOExecutor()

    private let pool: NIOThreadPool
    /// Set on the pool's thread (first thing it runs), so ``isCurrent`` can tell it apart.
    private let marker = ThreadSpecificVariable<Marker>()
    private final class Marker: Sendable {}

    init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let marker = marker
        pool.submit { _ in marker.currentValue = Marker() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pool.submit { _ in
            job.runSynchronously(on: self.asUnownedSerialExecutor())
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// True on the executor's thread (for preconditions and tests).
    public var isCurrent: Bool {
        marker.currentValue != nil
    }
}
