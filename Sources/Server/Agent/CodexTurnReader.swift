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
        switch message {
        case .request(let id, let request):
            try await answer(request, id: id.jsonValue, session: session)
            return false
        case .notification(let notification):
            return try read(notification)
        }
    }

    private mutating func read(_ notification: AppServer.ServerNotification) throws -> Bool {
        switch notification {
        case .itemStarted(let started) where started.turnId == turnID:
            show(started.item, phase: .started)
        case .itemCompleted(let completed) where completed.turnId == turnID:
            show(completed.item, phase: .completed)
        case .agentMessageDelta(let delta) where delta.turnId == turnID:
            var text = messageText[delta.itemId, default: ""]
            text += delta.delta
            messageText[delta.itemId] = text
            var updates = messageUpdates[delta.itemId] ?? ItemUpdateCoalescer()
            if updates.shouldSend(length: text.utf8.count) { emit(.itemUpdated(id: delta.itemId, text: text)) }
            messageUpdates[delta.itemId] = updates
        case .turnPlanUpdated(let plan) where plan.turnId == turnID:
            let items = plan.plan.map { AgentItem.TodoItem(text: $0.step, completed: $0.status.rawValue == "completed") }
            emit(.item(planItemStarted ? .updated : .started, AgentItem(id: "plan_\(turnID)", kind: .todoList(items: items))))
            planItemStarted = true
        case .threadTokenUsageUpdated(let update) where update.turnId == turnID:
            usage.inputTokens += update.tokenUsage.last.inputTokens
            usage.cachedInputTokens += update.tokenUsage.last.cachedInputTokens
            usage.outputTokens += update.tokenUsage.last.outputTokens
        case .error(let error) where error.turnId == turnID:
            if error.willRetry {
                emit(.error(message: error.error.message))
            } else {
                emit(.item(.completed, AgentItem(id: "error_\(turnID)", kind: .error(message: error.error.message))))
            }
        case .turnCompleted(let completed) where completed.turn.id == turnID:
            switch completed.turn.status {
            case .completed: outcome = .success(())
            case .interrupted: outcome = .failure(TurnCancelled())
            default: outcome = .failure(AgentTurnError(completed.turn.error?.message ?? "The agent's turn failed."))
            }
            return true
        default:
            break
        }
        return false
    }

    /// Asks the turn's owner (the agent waits meanwhile) and answers the child; a request the
    /// gateway does not serve (user input, MCP elicitation) is refused, so the agent goes on.
    private mutating func answer(_ request: AppServer.ServerRequest, id: JSONValue, session: AppServerSession) async throws {
        let approval: PendingApproval
        switch request {
        case .commandExecutionApproval(let params):
            approval = PendingApproval(
                id: approvals.makeID(), conversationID: threadID, owner: owner, kind: .commandExecution,
                command: params.command, cwd: params.cwd, changes: nil, reason: params.reason, expiresAt: approvals.deadline()
            )
        case .fileChangeApproval(let params):
            approval = PendingApproval(
                id: approvals.makeID(), conversationID: threadID, owner: owner, kind: .fileChange,
                command: nil, cwd: nil, changes: fileChanges[params.itemId], reason: params.reason, expiresAt: approvals.deadline()
            )
        case .unknown(let method, _):
            try session.refuse(id, message: "codex-gateway does not answer \(method).")
            return
        }
        await approvals.announce(approval)
        emit(.approvalRequested(approval))
        let decision = await approvals.ask(approval)
        emit(.approvalResolved(id: approval.id, decision: decision))
        try session.respond(to: id, result: ["decision": decision.wire])
    }

    /// The final message and usage, or why the turn did not complete.
    func result() throws -> AgentTurnResult {
        switch outcome {
        case .success?: return AgentTurnResult(text: lastMessage, usage: usage)
        case .failure(let error)?: throw error
        case nil: throw AgentTurnError("The turn ended without a result.")
        }
    }

    private mutating func show(_ item: AppServer.ThreadItem, phase: ItemPhase) {
        switch item {
        case .agentMessage(let message):
            let text = message.text.isEmpty ? messageText[message.id] ?? "" : message.text
            if phase == .started {
                emit(.itemStarted(id: message.id, text: text))
            } else {
                emit(.itemCompleted(id: message.id, text: text))
                lastMessage = text
            }
        case .reasoning(let reasoning):
            emit(.item(phase, AgentItem(id: reasoning.id, kind: .reasoning(text: reasoning.summary.joined(separator: "\n")))))
        case .commandExecution(let command):
            emit(.item(phase, AgentItem(id: command.id, kind: .commandExecution(
                command: command.command,
                aggregatedOutput: command.aggregatedOutput ?? "",
                exitCode: command.exitCode,
                status: Self.status(command.status)
            ))))
        case .fileChange(let change):
            let changes = change.changes.map { AgentItem.FileChange(path: $0.path, kind: Self.kind($0.kind), diff: $0.diff) }
            fileChanges[change.id] = changes
            emit(.item(phase, AgentItem(id: change.id, kind: .fileChange(changes: changes, status: Self.status(change.status)))))
        default:
            break
        }
    }

    static func kind(_ kind: AppServer.ThreadItem.PatchChangeKind) -> String {
        switch kind {
        case .add: "add"
        case .delete: "delete"
        case .update, .other: "update"
        }
    }

    static func status(_ codex: AppServer.ItemStatus) -> AgentItem.Status {
        switch codex {
        case .completed: .completed
        case .failed: .failed
        case .declined: .declined
        default: .inProgress
        }
    }
}
