import CodexAppServer
import Foundation

/// The agent engine's settings (PROTOCOLS.md §10): which engine runs turns and why, where
/// workspaces live, the sandbox and approval defaults and cap, and the turn limits.
public struct AgentConfiguration: Sendable, Equatable {
    /// `GATEWAY_ENGINE`: `codex` by default when ``codexBinary`` was found, else `chat`.
    public var engine: EngineKind
    /// Why ``engine`` was chosen, for the startup log and `/ready`: `GATEWAY_ENGINE=chat`,
    /// `GATEWAY_ENGINE=codex`, `Codex binary found (CODEX_BIN)`, `Codex binary found on PATH`, or
    /// `no Codex binary (CODEX_BIN unset, no codex on PATH)`.
    public var engineReason: String
    /// `CODEX_BIN`, else `codex` on `PATH`; found or not whichever engine was chosen.
    public var codexBinary: CodexBinary?
    /// `WORKSPACES_ROOT` (default `$CODEX_HOME/workspaces`), absolute.
    public var workspacesRoot: String
    /// `GATEWAY_MAX_SANDBOX`: the most a turn may ask for.
    public var maxSandbox: SandboxMode
    /// `sandbox_mode` of `config.toml`: a turn's sandbox when it names none (lowered to ``maxSandbox``).
    public var defaultSandbox: SandboxMode
    /// `approval_policy` of `config.toml`: a turn's approval policy when it names none.
    public var defaultApprovalPolicy: ApprovalPolicy
    /// `APPROVAL_TIMEOUT_SECONDS`: an approval not answered this long is declined.
    public var approvalTimeout: Duration
    /// `MAX_CONCURRENT_TURNS`: agent turns running at once, all principals together.
    public var maxConcurrentTurns: Int
    /// `TURN_TIMEOUT_SECONDS`: an agent turn running this long is interrupted.
    public var turnTimeout: Duration
    /// `GPT_TURN_WAIT_SECONDS`: how long `POST /conversations` (and its `/turns`) waits for the
    /// turn before answering `202` (ChatGPT gives an action 45 s).
    public var gptTurnWait: Duration
    /// `ENGINE_MAX_LOADED_THREADS`: a Codex child with more threads loaded is recycled once idle.
    public var maxLoadedThreads: Int
    /// `ENGINE_IDLE_RECYCLE_SECONDS` (0: never): a Codex child idle this long is recycled.
    public var idleRecycle: Duration?

    public init(
        engine: EngineKind,
        engineReason: String,
        codexBinary: CodexBinary? = nil,
        workspacesRoot: String,
        maxSandbox: SandboxMode = .workspaceWrite,
        defaultSandbox: SandboxMode = .workspaceWrite,
        defaultApprovalPolicy: ApprovalPolicy = .onRequest,
        approvalTimeout: Duration = .seconds(600),
        maxConcurrentTurns: Int = 32,
        turnTimeout: Duration = .seconds(1800),
        gptTurnWait: Duration = .seconds(40),
        maxLoadedThreads: Int = 64,
        idleRecycle: Duration? = .seconds(900)
    ) {
        self.engine = engine
        self.engineReason = engineReason
        self.codexBinary = codexBinary
        self.workspacesRoot = workspacesRoot
        self.maxSandbox = maxSandbox
        self.defaultSandbox = defaultSandbox
        self.defaultApprovalPolicy = defaultApprovalPolicy
        self.approvalTimeout = approvalTimeout
        self.maxConcurrentTurns = maxConcurrentTurns
        self.turnTimeout = turnTimeout
        self.gptTurnWait = gptTurnWait
        self.maxLoadedThreads = maxLoadedThreads
        self.idleRecycle = idleRecycle
    }

    /// The sandbox of a turn that asked for `requested` (nil: the default); above ``maxSandbox``
    /// it throws ``TurnPolicyError/sandboxNotAllowed(requested:cap:)``.
    public func sandbox(for requested: SandboxMode?) throws(TurnPolicyError) -> SandboxMode {
        try AgentPolicy.checkSandbox(requested, default: defaultSandbox, cap: maxSandbox)
    }

    /// The approval policy of a turn that asked for `requested` (nil: the default).
    public func approvalPolicy(for requested: ApprovalPolicy?) -> ApprovalPolicy {
        requested ?? defaultApprovalPolicy
    }

    /// Workspaces under ``workspacesRoot``.
    public var workspaces: WorkspaceResolver { WorkspaceResolver(root: workspacesRoot) }
}
