import CodexAppServer
import Logging
import Synchronization

/// Hands each message of a `codex app-server` child to the turn of the thread it is about.
///
/// A running turn ``open(threadID:session:)``s a route and reads its messages in order; messages
/// for a thread without a route are dropped, except the child's requests (approvals), which are
/// refused so the child never waits on nobody. When the child ends, every route of it finishes.
final class CodexThreadRouter: Sendable {
    private struct Route {
        var generation: Int
        var sink: AsyncStream<AppServerInbound>.Continuation
    }

    private let routes = Mutex<[String: Route]>([:])
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// The messages about `threadID` from `session`'s child, until ``close(threadID:)`` or the child ends.
    func open(threadID: String, session: AppServerSession) -> AsyncStream<AppServerInbound> {
        let (stream, sink) = AsyncStream.makeStream(of: AppServerInbound.self, bufferingPolicy: .unbounded)
        let previous = routes.withLock { $0.updateValue(Route(generation: session.generation, sink: sink), forKey: threadID.lowercased()) }
        previous?.sink.finish()
        return stream
    }

    func close(threadID: String) {
        routes.withLock { $0.removeValue(forKey: threadID.lowercased()) }?.sink.finish()
    }

    /// Reads `session`'s messages until its child ends (``AppServerSupervisor``'s `onSession`).
    func serve(_ session: AppServerSession) async {
        for await message in session.inbound {
            guard let thread = message.threadID?.lowercased() else { continue }
            let route = routes.withLock { $0[thread] }
            if let route, route.generation == session.generation {
                route.sink.yield(message)
            } else if case .request(let id, let request) = message {
                logger.warning("codex app-server asked about a thread with no turn; refused", metadata: ["engine.method": .string(request.method)])
                try? session.refuse(id.jsonValue, message: "No turn of this thread is running in the gateway.")
            }
        }
        let ended: [Route] = routes.withLock { routes in
            let gone = routes.filter { $0.value.generation == session.generation }
            for key in gone.keys { routes.removeValue(forKey: key) }
            return Array(gone.values)
        }
        for route in ended { route.sink.finish() }
    }
}
