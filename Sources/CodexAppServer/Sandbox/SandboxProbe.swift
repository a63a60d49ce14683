import Foundation
import Subprocess
import SystemPackage

/// The sandbox self-test: runs one shell command under Codex's own Linux sandbox, with the
/// `workspace-write` permissions the engine's threads get (`codex sandbox -P :workspace`), and
/// says whether it works. It works when the command writes a file inside its workspace and is
/// refused a write to a sibling directory outside it.
///
/// The probe takes at most `timeout` plus `terminationGrace`: a child still running at the
/// deadline gets SIGTERM and, `terminationGrace` later, SIGKILL, with every process it started
/// (its own session and process group). Everything it creates lives in one directory under
/// `scratchDirectory`, removed before `run()` returns.
public struct SandboxProbe: Sendable {
    /// The Codex program whose `codex sandbox` runs the command.
    public var codex: CodexBinary
    /// The `CODEX_HOME` Codex runs with: where it installs its sandbox helper (it refuses a
    /// temporary directory) and whose `config.toml` it reads (a config it rejects fails the probe).
    public var codexHome: String
    /// Where the probe makes its workspace and the directory it must not write to. Under `/tmp`
    /// or `$TMPDIR`, which `workspace-write` leaves writable, the outside write is not refused.
    public var scratchDirectory: String
    /// The child's whole environment, `CODEX_HOME` set to `codexHome` on top (`PATH` finds `bwrap`).
    public var environment: [String: String]
    /// How long the child may run before it counts as hung.
    public var timeout: Duration
    /// How long a hung child has between SIGTERM and SIGKILL.
    public var terminationGrace: Duration

    public init(
        codex: CodexBinary,
        codexHome: String,
        scratchDirectory: String,
        environment: [String: String],
        timeout: Duration = .seconds(15),
        terminationGrace: Duration = .seconds(2)
    ) {
        self.codex = codex
        self.codexHome = codexHome
        self.scratchDirectory = scratchDirectory
        self.environment = environment
        self.timeout = timeout
        self.terminationGrace = terminationGrace
    }

    /// The shell script run in the sandbox, `$1` the file outside the workspace: exit 10 when
    /// the write inside fails, 11 when the write outside succeeds, 0 otherwise.
    static let script = #"echo probe > inside.txt || exit 10; if (echo probe > "$1") 2>/dev/null; then exit 11; fi; exit 0"#

    /// The arguments after the program: `sandbox -P :workspace -C <workspace> -- /bin/sh -c <script> sh <outside file>`.
    static func arguments(workspace: String, outsideFile: String) -> [String] {
        ["sandbox", "-P", ":workspace", "-C", workspace, "--", "/bin/sh", "-c", script, "sh", outsideFile]
    }

    /// Runs the probe once.
    public func run() async -> SandboxStatus {
        let files = FileManager.default
        let directory = "\(scratchDirectory)/sandbox-probe-\(UUID().uuidString)"
        let layout = SandboxProbeLayout(directory: directory)
        do {
            try files.createDirectory(atPath: layout.workspace, withIntermediateDirectories: true)
            try files.createDirectory(atPath: layout.outside, withIntermediateDirectories: false)
        } catch {
            try? files.removeItem(atPath: directory)
            return .unavailable(reason: "the sandbox probe could not create its directory under \(scratchDirectory): \(error.localizedDescription)")
        }
        defer { try? files.removeItem(atPath: directory) }
        let outcome = await runChild(layout: layout)
        return SandboxProbeDiagnosis(
            codexHome: codexHome,
            scratchDirectory: scratchDirectory,
            environment: environment,
            timeout: timeout
        ).status(of: outcome, layout: layout)
    }

    /// Runs `codex sandbox` until it exits or the deadline passes, whichever comes first.
    private func runChild(layout: SandboxProbeLayout) async -> SandboxProbeOutcome {
        var childEnvironment: [Environment.Key: String] = [:]
        for (key, value) in environment { childEnvironment[Environment.Key(stringLiteral: key)] = value }
        childEnvironment["CODEX_HOME"] = codexHome
        var options = PlatformOptions()
        // Its own session and process group, so the teardown reaches bwrap and the command too.
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: terminationGrace)]
        let configuration = Configuration(
            executable: .path(FilePath(codex.path)),
            arguments: Arguments(Self.arguments(workspace: layout.workspace, outsideFile: layout.outsideFile)),
            environment: .custom(childEnvironment),
            workingDirectory: FilePath(layout.workspace),
            platformOptions: options
        )
        let timeout = self.timeout
        return await withTaskGroup(of: SandboxProbeOutcome?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(configuration, input: .none, output: .discarded, error: .sequence) { execution in
                        try await Self.collectStandardError(execution.standardError)
                    }
                    return .exited(result.terminationStatus, standardError: result.closureResult)
                } catch {
                    return Task.isCancelled ? nil : .failedToStart(String(describing: error))
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return nil
                }
            }
            // The first answer wins; cancelling the child's task tears its process group down,
            // and the group waits for that before returning.
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .cancelled
        }
    }

    /// The first `limit` bytes of standard error as text; the rest is read and dropped.
    private static func collectStandardError(_ stream: SubprocessOutputSequence, limit: Int = 16 << 10) async throws -> String {
        var bytes: [UInt8] = []
        for try await buffer in stream where bytes.count < limit {
            buffer.withUnsafeBytes { bytes.append(contentsOf: $0.prefix(limit - bytes.count)) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// What became of the probe's child.
enum SandboxProbeOutcome: Sendable, Equatable {
    case exited(TerminationStatus, standardError: String)
    case timedOut
    case failedToStart(String)
    case cancelled
}

/// The probe's files: a workspace (the sandbox's writable root) and a sibling directory the
/// command must not write to.
struct SandboxProbeLayout: Sendable {
    let directory: String
    var workspace: String { "\(directory)/workspace" }
    var insideFile: String { "\(workspace)/inside.txt" }
    var outside: String { "\(directory)/outside" }
    var outsideFile: String { "\(outside)/outside.txt" }
}
