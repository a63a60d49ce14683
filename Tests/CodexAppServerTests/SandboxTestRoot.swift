import CodexAppServer
import Foundation

/// A directory for one sandbox test, outside `/tmp`: Codex refuses a `CODEX_HOME` under a
/// temporary directory, and `workspace-write` leaves `/tmp` writable, so neither the home nor the
/// probe's scratch directory may live there. It is under `$HOME/.codex-gateway-tests`.
struct SandboxTestRoot {
    let path: String

    init() throws {
        path = "\(NSHomeDirectory())/.codex-gateway-tests/sandbox-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A new empty directory `name` inside the root.
    func directory(_ name: String) throws -> String {
        let directory = "\(path)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// An executable `/bin/sh` script `name` with `body`, as a Codex binary.
    func script(_ name: String, _ body: String) throws -> CodexBinary {
        let file = "\(path)/\(name)"
        try "#!/bin/sh\n\(body)\n".write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file)
        return CodexBinary(path: file)
    }

    /// A directory standing for `path`'s directories: a link to the first of every program they
    /// hold except `excluded`, so a launcher script (a pyenv shim) still finds what it runs.
    func searchPath(_ path: String, without excluded: String) throws -> String {
        let files = FileManager.default
        let directory = try directory("path-without-\(excluded)")
        for source in path.split(separator: ":").map(String.init) where !source.isEmpty {
            for name in (try? files.contentsOfDirectory(atPath: source)) ?? [] where name != excluded {
                try? files.createSymbolicLink(atPath: "\(directory)/\(name)", withDestinationPath: "\(source)/\(name)")
            }
        }
        return directory
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether this process may create a user namespace (needed to disable them inside one).
    static let canCreateUserNamespaces: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-Ur", "true"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Whether `pid` has ended (gone, or a zombie nobody reaped yet), polling briefly while a
    /// SIGKILL is still being delivered.
    static func hasEnded(_ pid: pid_t) async -> Bool {
        for _ in 0..<100 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            // The state follows the parenthesised command name.
            if let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
