import GatewayRuntime
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A stand-in for the OpenAI API on loopback, for tests and benchmarks.
///
/// It speaks the real wire formats over real HTTP/1.1: Chat Completions (`POST /v1/chat/completions`,
/// JSON or SSE `data:` chunks ending in `data: [DONE]`), Responses (`POST /v1/responses`, JSON or SSE
/// `event:`/`data:` pairs ending in `response.completed`) and `GET /v1/models`. What it answers is
/// chosen by the request's `model` field; see ``FakeModel`` for the scenarios.
///
/// ```swift
/// let upstream = try await FakeOpenAIServer.start()
/// defer { Task { await upstream.shutdown() } }
/// // point the client at upstream.baseURL, e.g. "http://127.0.0.1:54321/v1"
/// #expect(upstream.recorder.count(path: "/v1/chat/completions") == 1)
/// ```
public struct FakeOpenAIServer: Sendable {
    /// The TCP port the server listens on.
    public var port: Int
    /// The host it listens on (`127.0.0.1` unless started otherwise).
    public var host: String
    /// The API base URL, `http://127.0.0.1:<port>/v1`.
    public var baseURL: String { "http://\(host):\(port)/v1" }
    /// Every request received, in order.
    public var recorder: RequestRecorder

    private let lifecycle: Lifecycle

    /// A logger that stays quiet unless something goes wrong.
    public static var quietLogger: Logger {
        var logger = Logger(label: "fake-openai")
        logger.logLevel = .warning
        return logger
    }

    /// Starts a server on `host` (127.0.0.1 by default) with an OS-chosen port and returns once it
    /// is listening.
    public static func start(host: String = "127.0.0.1", logger: Logger = FakeOpenAIServer.quietLogger) async throws -> FakeOpenAIServer {
        let recorder = RequestRecorder()
        let state = ServerState(recorder: recorder, logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = makeApplication(state: state, host: host, port: 0, logger: logger) { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        var configuration = ServiceGroupConfiguration(services: [app], logger: logger)
        // A backstop: shutdown normally ends every stream at once (see `shutdown()`).
        configuration.maximumGracefulShutdownDuration = .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        // On the event loops, as the standalone binary runs: an in-process fake answers on time
        // even while other work (a parallel test run) keeps Swift's global pool busy.
        let task = Task(executorPreference: EventLoopTaskExecutor.singleton) { try await group.run() }
        // If the server fails to start (say the port is taken), stop waiting for a port.
        Task {
            _ = await task.result
            portContinuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await task.value
            throw FakeOpenAIServerError.didNotStart
        }
        return FakeOpenAIServer(
            port: port, host: host, recorder: recorder,
            lifecycle: Lifecycle(state: state, group: group, task: task)
        )
    }

    /// Stops the server: every stream in progress ends at once (its connection is closed), then
    /// the listener closes. Safe to call more than once, and concurrently.
    public func shutdown() async {
        await lifecycle.shutdown()
    }

    /// Clears the recorded requests and the per-model attempt counters (`fake-429`, `fake-500`).
    public func reset() {
        recorder.reset()
        lifecycle.state.resetAttempts()
    }

    /// A Hummingbird application serving the fake API on `host:port`, for running it standalone
    /// (`try await app.runService()` stops gracefully on SIGINT/SIGTERM). `onListening` receives the
    /// bound port.
    public static func makeApplication(
        host: String,
        port: Int,
        recorder: RequestRecorder = RequestRecorder(),
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let state = ServerState(recorder: recorder, logger: logger)
        return makeApplication(state: state, host: host, port: port, logger: logger, onListening: onListening)
    }

    static func makeApplication(
        state: ServerState,
        host: String,
        port: Int,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> Application<FakeOpenAIResponder> {
        Application(
            responder: FakeOpenAIResponder(state: state),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}

/// Errors from ``FakeOpenAIServer/start(host:logger:)``.
public enum FakeOpenAIServerError: Error {
    /// The server stopped before it was listening.
    case didNotStart
}

private final class Lifecycle: Sendable {
    let state: ServerState
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let started = Mutex(false)

    init(state: ServerState, group: ServiceGroup, task: Task<Void, any Error>) {
        self.state = state
        self.group = group
        self.task = task
    }

    func shutdown() async {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        if first {
            state.stopSignal.stop()
            await group.triggerGracefulShutdown()
        }
        _ = await task.result
    }
}
