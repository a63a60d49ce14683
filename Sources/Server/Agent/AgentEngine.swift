import ModelProvider

/// The agent that runs conversations' turns (PROTOCOLS §10): `codex` (``CodexAgentEngine``, Codex's
/// own core as `codex app-server`) or `chat` (``ChatAgentEngine``, the model without tools).
///
/// Every front end (JSON-RPC, exec, WebSocket, webhooks) drives turns through
/// ``ConversationManager``, which keeps what is the gateway's: owners, the conversation index,
/// one turn at a time per conversation, cancellation, the turn caps. It hands the turn itself to
/// its engine.
public protocol AgentEngine: Sendable {
    /// `codex` or `chat`, as `/ready` and the logs name it.
    var name: String { get }

    /// Refuses options it cannot honour (a bad workspace name, a sandbox above the cap) with a
    /// ``ConversationError`` before the turn starts.
    func check(_ options: TurnOptions, isNewConversation: Bool) throws

    /// Creates what the engine keeps of a new conversation (a Codex thread and its workspace), or
    /// nil when the engine keeps nothing and the gateway picks the id.
    func startConversation(_ plan: ConversationManager.TurnPlan) async throws -> EngineConversation?

    /// Runs one turn of conversation `turn.conversationID`, handing item events (never
    /// `threadStarted`, `turnStarted`, `turnCompleted` or `turnFailed`: the manager sends those)
    /// to `emit`. Returns the final message and the turn's usage. Throws ``TurnCancelled`` or
    /// `CancellationError` when cancelled through `turn.signal`, ``AgentTurnError`` otherwise.
    func runTurn(_ turn: AgentTurn, emit: @escaping @Sendable (TurnEvent) -> Void) async throws -> AgentTurnResult

    /// Whether the engine makes its model calls through the gateway's own relay (which meters and
    /// checks each one), so the manager must not count its turns' usage a second time.
    var modelCallsAreRelayed: Bool { get }
    /// Whether the engine keeps each conversation's history itself (Codex's thread), so a turn
    /// need not be given it (``AgentTurn/history`` is then empty).
    var keepsHistory: Bool { get }
}

extension AgentEngine {
    public var modelCallsAreRelayed: Bool { false }
    public var keepsHistory: Bool { false }
}

/// One turn, as the manager hands it to its engine.
public struct AgentTurn: Sendable {
    public var conversationID: String
    public var plan: ConversationManager.TurnPlan
    /// The conversation so far (the chat engine sends it; empty for an engine that
    /// ``AgentEngine/keepsHistory``).
    public var history: [ConversationMessage]
    /// The conversation's workspace, when the engine has one.
    public var workspace: String?
    /// Fires when the turn is cancelled from another request.
    public var signal: CancellationSignal
}

/// What a finished turn gives back.
public struct AgentTurnResult: Sendable {
    public var text: String
    public var usage: TokenUsage

    public init(text: String, usage: TokenUsage) {
        self.text = text
        self.usage = usage
    }
}

/// Why a turn failed, in words for the client.
public struct AgentTurnError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What a request may ask of an agent turn beyond its prompt (PROTOCOLS §10). The workspace name
/// is checked by the engine; the sandbox against `GATEWAY_MAX_SANDBOX`.
public struct TurnOptions: Sendable, Hashable {
    /// A workspace name relative to the principal's workspaces (new conversations only).
    public var workspace: String?
    public var sandbox: SandboxMode?
    public var approvalPolicy: ApprovalPolicy?

    public init(workspace: String? = nil, sandbox: SandboxMode? = nil, approvalPolicy: ApprovalPolicy? = nil) {
        self.workspace = workspace
        self.sandbox = sandbox
        self.approvalPolicy = approvalPolicy
    }

    /// From a request's generated enums, which carry the same wire strings.
    init(workspace: String?, sandbox: (some RawRepresentable<String>)?, approvalPolicy: (some RawRepresentable<String>)?) {
        self.init(
            workspace: workspace,
            sandbox: sandbox.flatMap { SandboxMode(rawValue: $0.rawValue) },
            approvalPolicy: approvalPolicy.flatMap { ApprovalPolicy(rawValue: $0.rawValue) }
        )
    }
}

/// A conversation as an engine started it.
public struct EngineConversation: Sendable {
    /// The conversation's id (Codex's thread id).
    public var id: String
    /// The absolute path of its workspace.
    public var workspace: String?

    public init(id: String, workspace: String?) {
        self.id = id
        self.workspace = workspace
    }
}
