import Foundation

/// The Codex CLI program the engine runs (`codex app-server`): `CODEX_BIN` when set, else the
/// first executable `codex` on `PATH`.
public struct CodexBinary: Sendable, Hashable {
    /// The version the gateway's protocol models come from (`codex --version`).
    public static let pinnedVersion = "0.147.0"

    /// Absolute path of the program.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The program named by `CODEX_BIN`, else `codex` on `PATH`; nil when there is none. A
    /// `CODEX_BIN` that is not an executable file is nil too (the caller says why).
    public static func locate(environment: [String: String]) -> CodexBinary? {
        let files = FileManager.default
        if let explicit = environment["CODEX_BIN"], !explicit.isEmpty {
            return files.isExecutableFile(atPath: explicit) ? CodexBinary(path: explicit) : nil
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/codex"
            if files.isExecutableFile(atPath: candidate) { return CodexBinary(path: candidate) }
        }
        return nil
    }
}
