import NIOCore
import NIOPosix

/// Runs Swift Concurrency jobs on the threads of NIO's singleton event-loop group, which serves
/// the HTTP server, the WebSockets and the model providers' HTTP client, instead of on the global
/// cooperative pool. `runGateway` and `fake-openai` run their service groups with it as the task
/// executor preference (`withTaskExecutorPreference`), which every child task inherits.
///
/// Without it every request crosses threads several times: the server's event loop hands the
/// request to a task on the cooperative pool, the upstream call goes back to an event loop, its
/// answer resumes the task on the pool, and each response write hops to the event loop again.
/// On a small machine each hand-off is a thread wake-up. With this executor as the task executor
/// preference of the server's tasks (inherited by every child task), a job enqueued from an
/// event-loop thread runs on that same thread: `EventLoopGroup.any()` returns the current loop
/// when called on one of the group's threads.
///
/// Blocking calls must therefore stay off tasks that run here, as on any event loop: the
/// gateway's blocking work (opening and migrating SQLite, reading configuration) happens before
/// the service group starts, and SQLite queries run on NIO's thread pool.
///
/// (NIO's `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`
/// would do this for every task, but it patches a runtime hook that a static binary does not
/// export, so it does nothing in the release build.)
public final class EventLoopTaskExecutor: TaskExecutor {
    public static let singleton = EventLoopTaskExecutor(group: .singleton)

    private let group: MultiThreadedEventLoopGroup

    init(group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        group.any().execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
