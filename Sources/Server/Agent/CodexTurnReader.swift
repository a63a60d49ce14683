import CodexAppServer
import Foundation
import GatewayRuntime
import ModelProvider

/// Reads one Codex turn's messages and tells the client what happens, in `codex exec --json`
/// terms: the agent's messages (with coalesced updates while they stream), reasoning, commands
/// with their output and exit code, file changes, the plan as a todo list, and the turn's usage.
struct CodexTurnReader {
    let threadID: String
    let turnID: String
    let emit: @Sendable (TurnEvent) -> Void
    /// Who answers the turn's approvals.
    let approvals: ApprovalCenter
    let owner: String?
    /// File changes by item id, shown with the approval that asks for them.
    private var fileChanges: [String: [AgentItem.FileChange]] = [:]
    private var messageText: [String: String] = [:]
    private var messageUpdates: [String: ItemUpdateCoalescer] = [:]
    private var lastMessage = ""
    private var usage = TokenUsage()
    private var planItemStarted = false
    private var outcome: Result<Void, any Error>?

    init(threadID: String, turnID: String, approvals: ApprovalCenter, owner: String?, emit: @escaping @Sendable (TurnEvent) -> Void) {
        self.threadID = threadID
        self.turnID = turnID
        self.approvals = approvals
        self.owner = owner
        self.emit = emit
    }

    /// Takes one message; true once the turn has ended. An approval the agent asks for is waited
    /// for here (the agent waits too).
    mutating func read(_ message: AppServerInbound, session: AppServerSession) async throws -> Bool {
        switch message.method {
        case "item/commandExecution/requestApproval", "item/fileChange/requestApproval":
            guard let id = message.id else { return false }
            let request = try message.params(as: ApprovalRequestParams.self)
            let isCommand = message.method == "item/commandExecution/requestApproval"
            let approval = PendingApproval(
                id: approvals.makeID(),
                conversationID: threadID,
                owner: owner,
                kind: isCommand ? .commandExecution : .fileChange,
                command: request.command,
                cwd: request.cwd,
                changes: isCommand ? nil : request.itemId.flatMap { fileChanges[$0] },
                reason: request.reason,
                expiresAt: approvals.deadline()
            )
            emit(.approvalRequested(approval))
            let decision = await approvals.ask(approval)
            emit(.approvalResolved(id: approval.id, decision: decision))
            try session.respond(to: id, result: ["decision": decision.wire])
        case "item/started", "item/completed":
            let notification = try message.params(as: ItemNotification.self)
            guard notification.turnId == nil || notification.turnId == turnID else { return false }
            show(notification.item, phase: message.method == "item/started" ? .started : .completed)
        case "item/agentMessage/delta":
            let delta = try message.params(as: DeltaNotification.self)
            var text = messageText[delta.itemId, default: ""]
            text += delta.delta
            messageText[delta.itemId] = text
            var updates = messageUpdates[delta.itemId] ?? ItemUpdateCoalescer()
            if updates.shouldSend(length: text.utf8.count) { emit(.itemUpdated(id: delta.itemId, text: text)) }
            messageUpdates[delta.itemId] = updates
        case "turn/plan/updated":
            let plan = try message.params(as: PlanNotification.self)
            let items = plan.plan.map { AgentItem.TodoItem(text: $0.step, completed: $0.status == "completed") }
            emit(.item(planItemStarted ? .updated : .started, AgentItem(id: "plan_\(turnID)", kind: .todoList(items: items))))
            planItemStarted = true
        case "thread/tokenUsage/updated":
            let update = try message.params(as: TokenUsageNotification.self)
            guard update.turnId == nil || update.turnId == turnID else { return false }
            usage.inputTokens += update.tokenUsage.last.inputTokens
            usage.cachedInputTokens += update.tokenUsage.last.cachedInputTokens
            usage.outputTokens += update.tokenUsage.last.outputTokens
        case "error":
            let error = try message.params(as: ErrorNotification.self)
            if error.willRetry {
                emit(.error(message: error.error.message))
            } else {
                emit(.item(.completed, AgentItem(id: "error_\(turnID)", kind: .error(message: error.error.message))))
            }
        case "turn/completed":
            let completed = try message.params(as: TurnCompletedNotification.self)
            guard completed.turn.id == turnID else { return false }
            switch completed.turn.status {
            case "completed": outcome = .success(())
            case "interrupted": outcome = .failure(TurnCancelled())
            default: outcome = .failure(AgentTurnError(completed.turn.error?.message ?? "The agent's turn failed."))
            }
            return true
        default:
            if let id = message.id {
                // A request the gateway does not serve (user input, MCP elicitation): refused, so the agent goes on.
                try session.refuse(id, message: "codex-gateway does not answer \(message.method).")
            }
        }
        return false
    }

    /// The final message and usage, or why the turn did not complete.
    func result() throws -> AgentTurnResult {
        switch outcome {
        case .success?: return AgentTurnResult(text: lastMessage, usage: usage)
        case .failure(let error)?: throw error
        case nil: throw AgentTurnError("The turn ended without a result.")
        }
    }

    private mutating func show(_ item: CodexItem, phase: ItemPhase) {
        switch item.type {
        case "agentMessage":
            let text = item.text ?? messageText[item.id] ?? ""
            if phase == .started {
                emit(.itemStarted(id: item.id, text: text))
            } else {
                emit(.itemCompleted(id: item.id, text: text))
                lastMessage = text
            }
        case "reasoning":
            let text = (item.summary ?? []).joined(separator: "\n")
            emit(.item(phase, AgentItem(id: item.id, kind: .reasoning(text: text))))
        case "commandExecution":
            emit(.item(phase, AgentItem(id: item.id, kind: .commandExecution(
                command: item.command ?? "",
                aggregatedOutput: item.aggregatedOutput ?? "",
                exitCode: item.exitCode,
                status: Self.status(item.status)
            ))))
        case "fileChange":
            let changes = (item.changes ?? []).map { AgentItem.FileChange(path: $0.path, kind: $0.kind.type, diff: $0.diff) }
            fileChanges[item.id] = changes
            emit(.item(phase, AgentItem(id: item.id, kind: .fileChange(changes: changes, status: Self.status(item.status)))))
        default:
            break
        }
    }

    static func status(_ codex: String?) -> AgentItem.Status {
        switch codex {
        case "completed": .completed
        case "failed": .failed
        case "declined": .declined
        default: .inProgress
        }
    }
}
