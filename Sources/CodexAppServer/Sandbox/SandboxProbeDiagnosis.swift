import Foundation
import GatewayRuntime
import Subprocess

/// Turns what the probe's child did into a `SandboxStatus` whose reason tells an operator what
/// to fix. The known failures are recognised by the lines Codex 0.147.0 and bubblewrap print.
struct SandboxProbeDiagnosis: Sendable {
    let codexHome: String
    let scratchDirectory: String
    let environment: [String: String]
    let timeout: Duration

    func status(of outcome: SandboxProbeOutcome, layout: SandboxProbeLayout) -> SandboxStatus {
        switch outcome {
        case .timedOut:
            return .unavailable(reason: "the sandbox probe (codex sandbox) did not finish in \(Self.describe(timeout))")
        case .cancelled:
            return .unavailable(reason: "the sandbox probe was cancelled before it finished")
        case .failedToStart(let error):
            return .unavailable(reason: "the sandbox probe could not run codex sandbox: \(error)")
        case .exited(let termination, let standardError):
            return status(of: termination, standardError: standardError, layout: layout)
        }
    }

    private func status(of termination: TerminationStatus, standardError: String, layout: SandboxProbeLayout) -> SandboxStatus {
        let lines = standardError.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let files = FileManager.default
        if lines.contains(where: { $0.contains("bubblewrap is unavailable") }) {
            return .unavailable(reason: "bubblewrap (bwrap) is not installed or not on the PATH: apt-get install bubblewrap")
        }
        if lines.contains(where: { $0.contains("Refusing to create helper binaries under temporary dir") || $0.contains("execvp codex-linux-sandbox") }) {
            return .unavailable(reason: "CODEX_HOME (\(codexHome)) is under a temporary directory, where Codex does not install its sandbox helper: set CODEX_HOME outside /tmp")
        }
        if let bwrap = lines.first(where: { $0.hasPrefix("bwrap:") }) {
            // bwrap's lines when it may not create or set up a user namespace: disabled, limited to
            // 0, refused by a container's seccomp profile, or restricted by Ubuntu's AppArmor.
            if bwrap.contains("namespace") || bwrap.contains("uid map") || bwrap.contains("loopback: Failed RTM_") {
                return .unavailable(reason: "user namespaces are disabled for the gateway's user (\(Self.firstClause(of: bwrap))): allow them on the host and in the container (README, Deployment, The command sandbox)")
            }
            return .unavailable(reason: "bubblewrap failed: \(Self.clip(bwrap))")
        }
        if termination == .exited(11) || files.fileExists(atPath: layout.outsideFile) {
            var reason = "a write outside the workspace was not refused"
            if let temporary = temporaryDirectoryHolding(scratchDirectory) {
                reason += " (\(scratchDirectory) is under \(temporary), which the workspace-write sandbox leaves writable: probe and keep workspaces elsewhere)"
            }
            return .unavailable(reason: reason)
        }
        if termination == .exited(10) {
            return .unavailable(reason: "a write inside the workspace failed: \(Self.firstLine(of: lines) ?? "no message")")
        }
        if termination == .exited(0) {
            guard files.contents(atPath: layout.insideFile) == Data("probe\n".utf8) else {
                return .unavailable(reason: "a write inside the workspace did not reach the workspace")
            }
            return .ok
        }
        let ending = switch termination {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "was killed by signal \(signal)"
        }
        return .unavailable(reason: "codex sandbox \(ending): \(Self.firstLine(of: lines) ?? "no message")")
    }

    /// `/tmp` or `$TMPDIR` when `path` is inside it: writable roots of every `workspace-write` command.
    private func temporaryDirectoryHolding(_ path: String) -> String? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        for candidate in ["/tmp", environment["TMPDIR"]].compactMap({ $0 }) where !candidate.isEmpty {
            let root = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path
            if resolved == root || resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") { return candidate }
        }
        return nil
    }

    /// The first line that is not one of Codex's warnings, else the first line.
    private static func firstLine(of lines: [String]) -> String? {
        (lines.first { !$0.hasPrefix("WARNING:") } ?? lines.first).map(clip)
    }

    /// bwrap's message up to its explanation (", likely because …", a link to its docs).
    private static func firstClause(of line: String) -> String {
        clip(String(line.split(separator: ", likely", maxSplits: 1).first ?? Substring(line)))
    }

    private static func clip(_ line: String) -> String {
        line.count > 300 ? String(line.prefix(300)) + "…" : line
    }

    /// "15 s", or "250 ms" below a whole second.
    static func describe(_ duration: Duration) -> String {
        let milliseconds = Int(duration.milliseconds.rounded())
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
