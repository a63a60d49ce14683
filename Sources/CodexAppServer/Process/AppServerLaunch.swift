/// How to start `codex app-server`: the program, the environment it gets (exactly this one:
/// nothing of the gateway's own environment is inherited, so no provider key reaches Codex or
/// the commands it runs), and the time limits of the supervision.
public struct AppServerLaunch: Sendable {
    public var binary: CodexBinary
    /// `-c key=value` overrides, after `app-server`.
    public var configOverrides: [String]
    /// The child's whole environment (`CODEX_HOME`, `PATH`, `HOME`, …).
    public var environment: [String: String]
    /// Where the child runs; threads name their own `cwd`.
    public var workingDirectory: String
    /// The longest `initialize` may take before the child counts as failed.
    public var startTimeout: Duration
    /// The longest the child's process group has between SIGTERM and SIGKILL when it is stopped.
    public var stopGracePeriod: Duration
    /// The client name and version `initialize` announces.
    public var clientName: String
    public var clientVersion: String

    public init(
        binary: CodexBinary,
        configOverrides: [String] = [],
        environment: [String: String],
        workingDirectory: String,
        startTimeout: Duration = .seconds(30),
        stopGracePeriod: Duration = .seconds(2),
        clientName: String = "codex-gateway",
        clientVersion: String = "0"
    ) {
        self.binary = binary
        self.configOverrides = configOverrides
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.startTimeout = startTimeout
        self.stopGracePeriod = stopGracePeriod
        self.clientName = clientName
        self.clientVersion = clientVersion
    }

    /// `app-server` and the overrides, as arguments.
    var arguments: [String] {
        ["app-server"] + configOverrides.flatMap { ["-c", $0] }
    }
}
