import ModelProvider
/// What a turn produces, in `codex exec --json` order (PROTOCOLS.md §3): `threadStarted` first,
/// then `turnStarted`, the agent message item's lifecycle, and `turnCompleted` or `turnFailed`.
public enum TurnEvent: Sendable, Hashable {
    case threadStarted(conversationID: String)
    case turnStarted
    case itemStarted(id: String, text: String)
    case itemUpdated(id: String, text: String)
    case itemCompleted(id: String, text: String)
    case turnCompleted(TokenUsage)
    case turnFailed(message: String)
    /// A transient problem, e.g. `Reconnecting... 1/5`.
    case error(message: String)
    /// An agent item other than the agent's message (a command, a file change, …).
    case item(ItemPhase, AgentItem)
    /// The agent waits for a person to approve a command or a file change.
    case approvalRequested(PendingApproval)
    /// The approval was answered (or declined when it expired, or cancelled with the turn).
    case approvalResolved(id: String, decision: ApprovalDecision)
}

public enum ItemPhase: String, Sendable, Hashable {
    case started, updated, completed
}

/// One of the things an agent turn does, in the shapes of `codex exec --json` (PROTOCOLS §10).
public struct AgentItem: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case inProgress = "in_progress", completed, failed, declined
    }

    public struct FileChange: Sendable, Hashable {
        public var path: String
        /// `add`, `delete` or `update`.
        public var kind: String
        public var diff: String?
    }

    public struct TodoItem: Sendable, Hashable {
        public var text: String
        public var completed: Bool
    }

    public enum Kind: Sendable, Hashable {
        case reasoning(text: String)
        case commandExecution(command: String, aggregatedOutput: String, exitCode: Int?, status: Status)
        case fileChange(changes: [FileChange], status: Status)
        case todoList(items: [TodoItem])
        case error(message: String)
    }

    public var id: String
    public var kind: Kind
}

/// How a turn ended, for callers that want the result rather than the stream.
public enum TurnOutcome: Sendable, Hashable {
    case completed(conversationID: String, text: String, model: String, usage: TokenUsage)
    case failed(conversationID: String, reason: TurnFailure)
}

public enum TurnFailure: Sendable, Hashable, CustomStringConvertible {
    case cancelled
    case busy
    case model(String)
    case storage(String)
    /// The engine refused to start the conversation for what the request asked (e.g. a workspace
    /// that leads out of the principal's directory).
    case refused(ConversationError)

    public var description: String {
        switch self {
        case .cancelled: "The turn was cancelled."
        case .busy: "The conversation already has a turn running; wait for it to finish or cancel it."
        case .model(let message): message
        case .storage(let message): "The conversation could not be saved: \(message)"
        case .refused(let error): error.description
        }
    }
}

/// Why a turn cannot start; checked before any response is sent.
public enum ConversationError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(String)
    case busy(String)
    case modelNotConfigured(variable: String, message: String)
    case invalidPrompt(String)
    /// The principal already runs as many turns as its `concurrent_turns` limit allows.
    case tooManyTurns(limit: Int)
    /// The gateway already runs `MAX_CONCURRENT_TURNS` agent turns (all principals together).
    case gatewayBusy(limit: Int)
    /// A workspace, sandbox or approval policy the request may not have.
    case policy(TurnPolicyError)
    /// The principal's token budget is used up, or the model is not on its allowlist.
    case usage(UsageLedger.Refusal)

    public var description: String {
        switch self {
        case .notFound(let id): "No conversation with id '\(id)'."
        case .busy(let id): "The conversation '\(id)' already has a turn running; wait for it to finish or cancel it."
        case .modelNotConfigured(_, let message): message
        case .invalidPrompt(let message): message
        case .tooManyTurns(let limit): "Too many turns running at once: this credential may run \(limit); wait for one to finish."
        case .gatewayBusy(let limit): "The gateway runs as many agent turns as it may at once (MAX_CONCURRENT_TURNS = \(limit)); retry shortly."
        case .policy(let error): error.message
        case .usage(let refusal): refusal.description
        }
    }
}

extension ConversationError {
    /// The `code` of the `error` message on `/ws` (the same codes as the HTTP envelope of `/exec`).
    var code: String {
        switch self {
        case .notFound: "conversation_not_found"
        case .busy: "conversation_busy"
        case .modelNotConfigured: "model_not_configured"
        case .invalidPrompt: "invalid_request"
        case .tooManyTurns, .gatewayBusy: "too_many_turns"
        case .policy(let error): error.code
        case .usage(let refusal): refusal.code
        }
    }
}
