import CodexAppServer
import Foundation
import Logging
import Synchronization

/// Builds the `codex` engine from configuration: its own CODEX_HOME (`$CODEX_HOME/engine`, whose
/// config.toml the gateway writes: Codex refuses the gateway's chat-only provider file), the
/// child's environment (nothing of the gateway's own: no provider key), and the gateway's loopback
/// URL, known once the server listens.
struct CodexEngineSetup {
    let binary: CodexBinary
    let gatewayHome: String
    let agent: AgentConfiguration
    let gatewayEnvironment: [String: String]

    var workspacesRoot: String { agent.workspacesRoot }

    /// The port the server listens on, for Codex's provider URL.
    final class ListeningPort: Sendable {
        private let port = Mutex<Int?>(nil)
        func set(_ value: Int) { port.withLock { $0 = value } }
        var baseURL: String { "http://127.0.0.1:\(port.withLock { $0 } ?? 8080)/v1" }
    }

    var engineHome: String { (gatewayHome as NSString).appendingPathComponent("engine") }

    /// The sandbox self-test, run where workspaces live and with the engine's own home.
    func sandboxSelfTest(logger: Logger) -> SandboxSelfTest {
        SandboxSelfTest(
            probe: SandboxProbe(codex: binary, codexHome: engineHome, scratchDirectory: workspacesRoot, environment: childEnvironment),
            logger: logger
        )
    }

    /// The child's whole environment: its home, and nothing of the gateway's but the locale and PATH.
    var childEnvironment: [String: String] {
        var environment = ["CODEX_HOME": engineHome, "HOME": engineHome]
        for name in ["PATH", "LANG", "LC_ALL", "TZ"] { environment[name] = gatewayEnvironment[name] }
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return environment
    }

    func makeEngine(port: ListeningPort, credentials: EngineCredentials, approvals: ApprovalCenter, logger: Logger) throws -> CodexAgentEngine {
        try FileManager.default.createDirectory(atPath: engineHome, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: workspacesRoot, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let config = (engineHome as NSString).appendingPathComponent("config.toml")
        try Self.engineConfig.write(toFile: config, atomically: true, encoding: .utf8)
        let launch = AppServerLaunch(binary: binary, environment: childEnvironment, workingDirectory: engineHome, clientVersion: GatewayVersion.current)
        var settings = CodexAgentEngine.Settings(
            providerBaseURL: { port.baseURL },
            defaultSandbox: agent.defaultSandbox,
            defaultApprovalPolicy: agent.defaultApprovalPolicy,
            maxSandbox: agent.maxSandbox
        )
        settings.maxLoadedThreads = agent.maxLoadedThreads
        settings.idleRecycle = agent.idleRecycle
        return CodexAgentEngine(
            launch: launch, settings: settings, workspaces: agent.workspaces, credentials: credentials, approvals: approvals, logger: logger
        )
    }

    /// The engine's config.toml: the provider is set per thread (the gateway's loopback URL and a
    /// token of the thread's owner), so this file only turns off what needs the internet.
    static let engineConfig = """
        # Written by codex-gateway at startup: the Codex engine's own configuration.
        # Each thread gets its model provider (this gateway's /v1/responses) when it starts.
        check_for_update_on_startup = false

        [analytics]
        enabled = false

        """
}
