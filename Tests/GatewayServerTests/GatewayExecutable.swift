import Foundation
import ModelProvider
import Testing

/// The built `codex-gateway` executable, run as an operator would: its own working directory
/// (so no stray `.env`), only the given environment, stdout and stderr collected apart.
struct GatewayExecutable {
    static var url: URL {
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("codex-gateway")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    var environment: [String: String]
    var directory: String = TemporaryDirectory.make()

    /// Runs a command to its end; one still running after `timeout` (a server that started when
    /// it should have refused to) is stopped and reported with status -1.
    func run(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> Result {
        let running = try start(arguments)
        let deadline = ContinuousClock.now + timeout
        while running.process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        guard !running.process.isRunning else {
            running.stop(grace: .seconds(5))
            var result = running.result()
            result.status = -1
            return result
        }
        return running.result()
    }

    /// Starts a long-running command (the server); the caller terminates it.
    func start(_ arguments: [String]) throws -> Running {
        try #require(FileManager.default.isExecutableFile(atPath: Self.url.path), "build the executable first: \(Self.url.path)")
        let output = directory + "/stdout-\(UUID().uuidString)"
        let errors = directory + "/stderr-\(UUID().uuidString)"
        for path in [output, errors] { try #require(FileManager.default.createFile(atPath: path, contents: nil)) }
        let process = Process()
        process.executableURL = Self.url
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory].merging(environment) { _, new in new }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try process.run()
        return Running(process: process, stdoutPath: output, stderrPath: errors)
    }

    struct Running {
        var process: Process
        var stdoutPath: String
        var stderrPath: String

        func result() -> Result {
            Result(
                status: process.isRunning ? -1 : process.terminationStatus,
                stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            )
        }

        /// Waits (up to `attempts` × 100 ms) for a stderr line containing `fragment`.
        func waitForStderrLine(containing fragment: String, attempts: Int = 300) async throws -> String? {
            for _ in 0..<attempts {
                if let line = result().stderrLines.first(where: { $0.contains(fragment) }) { return line }
                if !process.isRunning { return nil }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }

        /// SIGTERM, then SIGKILL if it is still running after `grace`.
        func stop(grace: Duration = .seconds(15)) {
            if process.isRunning { process.terminate() }
            let deadline = ContinuousClock.now + grace
            while process.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }
}
