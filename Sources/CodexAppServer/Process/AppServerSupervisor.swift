import Foundation
import GatewayRuntime
import Logging
import ServiceLifecycle
import Subprocess
import Synchronization
import SystemPackage

/// Runs one `codex app-server` for the gateway and keeps it running: started when the service
/// starts, restarted with backoff when it exits or fails to start, stopped (its whole process
/// group, SIGTERM then SIGKILL) on graceful shutdown or ``recycle(generation:)``.
///
/// Each child is an ``AppServerSession``. After its `initialize` handshake the supervisor calls
/// `onSession` with it, in a task that lives as long as the child; the handler reads the child's
/// ``AppServerSession/inbound`` messages. ``session(waitingUpTo:)`` gives callers the running
/// child, waiting a bounded time while one starts.
public final class AppServerSupervisor: Service, Sendable {
    public let launch: AppServerLaunch
    private let logger: Logger
    private let onSession: @Sendable (AppServerSession) async -> Void
    /// The wait before the n-th restart in a row: 0.5 s doubling up to 30 s.
    private let backoff: @Sendable (Int) -> Duration

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<AppServerSession, any Error>
    }

    private struct State {
        var current: AppServerSession?
        var waiters: [Waiter] = []
        var nextWaiterID = 0
        var stopping = false
        /// Why the last child could not start or ended, for waiters that time out.
        var lastFailure: String?
        /// Asks the running child's body to stop the child (recycle or shutdown).
        var stopCurrent: (@Sendable () -> Void)?
        /// The generation ``recycle(generation:)`` stopped: its successor starts at once.
        var recycled: Int?
    }

    private let state = Mutex(State())

    public init(
        launch: AppServerLaunch,
        logger: Logger,
        backoff: @escaping @Sendable (Int) -> Duration = { failures in
            .milliseconds(min(30_000, 500 << min(failures - 1, 6)))
        },
        onSession: @escaping @Sendable (AppServerSession) async -> Void
    ) {
        self.launch = launch
        self.logger = logger
        self.backoff = backoff
        self.onSession = onSession
    }

    /// The running child, or the next one to finish starting within `timeout`.
    public func session(waitingUpTo timeout: Duration) async throws -> AppServerSession {
        let ready: AppServerSession? = try state.withLock { state in
            if state.stopping { throw AppServerError.unavailable("the gateway is stopping") }
            if let current = state.current, !current.isClosed { return current }
            return nil
        }
        if let ready { return ready }
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.failWaiter(id, timeout: timeout)
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<AppServerSession, any Error>? = state.withLock { state in
                    if state.stopping { return .failure(AppServerError.unavailable("the gateway is stopping")) }
                    if let current = state.current, !current.isClosed { return .success(current) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
            }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Stops the child of `generation` if it still runs; the supervisor starts a fresh one. The
    /// engine uses this to bound memory (Codex never unloads a thread) when no turn runs.
    public func recycle(generation: Int) {
        let stop: (@Sendable () -> Void)? = state.withLock { state in
            guard state.current?.generation == generation else { return nil }
            state.recycled = generation
            return state.stopCurrent
        }
        stop?()
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            await supervise()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Stops the current child and starts no other.
    public func stop() {
        let (stop, waiters) = state.withLock { state in
            state.stopping = true
            defer { state.waiters.removeAll() }
            return (state.stopCurrent, state.waiters)
        }
        stop?()
        for waiter in waiters { waiter.continuation.resume(throwing: AppServerError.unavailable("the gateway is stopping")) }
    }

    private func supervise() async {
        var generation = 0
        var failuresInARow = 0
        while !state.withLock({ $0.stopping }) && !Task.isCancelled {
            generation += 1
            let started = ContinuousClock.now
            let outcome = await runChild(generation: generation)
            state.withLock { state in
                state.current = nil
                state.stopCurrent = nil
                state.lastFailure = outcome
            }
            if state.withLock({ $0.stopping }) || Task.isCancelled { break }
            if state.withLock({ $0.recycled == generation }) {
                logger.info("codex app-server recycled; starting another", metadata: ["engine.generation": .stringConvertible(generation)])
                failuresInARow = 0
                continue
            }
            // A child that ran a good while before ending starts the count again.
            failuresInARow = ContinuousClock.now - started > .seconds(30) ? 1 : failuresInARow + 1
            let delay = backoff(failuresInARow)
            logger.error(
                "codex app-server ended; starting another",
                metadata: ["engine.reason": .string(outcome), "engine.generation": .stringConvertible(generation), "engine.restart_in_ms": .stringConvertible(Int(delay.milliseconds))]
            )
            try? await Task.sleep(for: delay)
        }
    }

    /// Runs one child until it exits or is stopped; returns why it ended.
    private func runChild(generation: Int) async -> String {
        let session = AppServerSession(generation: generation, logger: logger)
        var options = PlatformOptions()
        // Its own session and process group, so stopping it reaches every process it started.
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: launch.stopGracePeriod)]
        var environment: [Environment.Key: String] = [:]
        for (key, value) in launch.environment { environment[Environment.Key(stringLiteral: key)] = value }
        let configuration = Configuration(
            executable: .path(FilePath(launch.binary.path)),
            arguments: Arguments(launch.arguments),
            environment: .custom(environment),
            workingDirectory: FilePath(launch.workingDirectory),
            platformOptions: options
        )
        let (stopRequests, requestStop) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let alreadyStopping: Bool = state.withLock { state in
            state.stopCurrent = { requestStop.yield() }
            return state.stopping
        }
        if alreadyStopping { return "the gateway is stopping" }
        let logger = self.logger
        do {
            let processGroup = Mutex<pid_t?>(nil)
            // Whatever the child leaves behind in its process group (a command it ran) ends with it,
            // however it ended (a crash included).
            defer { processGroup.withLock { $0 }.map { _ = kill(-$0, SIGKILL) } }
            let result = try await Subprocess.run(configuration, input: .inputWriter, output: .sequence, error: .sequence) { execution in
                processGroup.withLock { $0 = execution.processIdentifier.value }
                return await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // The child's lines; at end of file (the child exited or closed stdout) the session closes.
                        // Split as bytes (LineSplitter): one search for the newline per read, no work per character.
                        do {
                            var lines = LineSplitter(maxLength: 64 << 20)
                            for try await buffer in execution.standardOutput {
                                try buffer.withUnsafeBytes { bytes in try lines.append(bytes, line: session.receive) }
                            }
                            if let last = lines.finish() { session.receive(last) }
                            session.close(reason: "its standard output closed")
                        } catch {
                            session.close(reason: "reading its output failed: \(error)")
                        }
                        // The child is exiting: nothing is left to stop.
                        requestStop.finish()
                    }
                    group.addTask {
                        do {
                            for try await line in execution.standardError.strings(separatedBy: .unicodeScalarSequence(["\n"]), bufferingPolicy: .maxLineLength(1 << 20)) {
                                logger.info("codex app-server", metadata: ["engine.stderr": .string(line)])
                            }
                        } catch {}
                    }
                    group.addTask {
                        let writer = execution.standardInputWriter
                        for await line in session.outbox {
                            do {
                                _ = try await writer.write(Array(line))
                            } catch {
                                session.close(reason: "writing to it failed: \(error)")
                                break
                            }
                        }
                        try? await writer.finish()
                    }
                    group.addTask {
                        // Stop on request (recycle, shutdown, a failed handshake).
                        for await _ in stopRequests {
                            await execution.teardown(using: [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: self.launch.stopGracePeriod)])
                            return
                        }
                    }
                    group.addTask {
                        do {
                            try await self.handshake(session)
                        } catch {
                            logger.error("codex app-server did not start", metadata: ["error.message": .string(String(describing: error))])
                            requestStop.yield()
                            return
                        }
                        self.publish(session)
                        await self.onSession(session)
                    }
                }
            }
            session.close(reason: "it exited (\(result.terminationStatus))")
            return "exited (\(result.terminationStatus))"
        } catch {
            session.close(reason: "it could not be started: \(error)")
            return "could not be started: \(error)"
        }
    }

    private func handshake(_ session: AppServerSession) async throws {
        // `experimentalApi`: `thread/backgroundTerminals/clean`, which ends an interrupted turn's
        // commands, is refused without it.
        let initialize = AppServer.InitializeParams(
            clientInfo: AppServer.ClientInfo(name: launch.clientName, version: launch.clientVersion),
            capabilities: AppServer.InitializeCapabilities(experimentalApi: true)
        )
        _ = try await session.send(initialize, timeout: launch.startTimeout)
        try session.notify("initialized", params: JSONValue.object([:]))
    }

    private func publish(_ session: AppServerSession) {
        let waiters: [Waiter] = state.withLock { state in
            state.current = session
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        logger.info("codex app-server started", metadata: ["engine.generation": .stringConvertible(session.generation)])
        for waiter in waiters { waiter.continuation.resume(returning: session) }
    }

    private func failWaiter(_ id: Int, timeout: Duration) {
        let (waiter, why) = state.withLock { state in
            (state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }, state.lastFailure)
        }
        let detail = why.map { "the last one \($0)" } ?? "it is still starting"
        waiter?.continuation.resume(throwing: AppServerError.unavailable("no codex app-server within \(timeout) (\(detail))"))
    }
}
