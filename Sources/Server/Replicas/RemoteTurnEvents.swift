import Foundation
import GatewayAPI
import ModelProvider

/// A turn's exec lines (PROTOCOLS.md §3) read back into the events they were written from, so a
/// turn run on another replica reaches every front end here (WebSocket, MCP) exactly as a local
/// one: the inverse of `ExecEvent.init(_: TurnEvent)`.
extension TurnEvent {
    init(_ event: ExecEvent) {
        switch event {
        case .threadStarted(let started): self = .threadStarted(conversationID: started.threadID)
        case .turnStarted: self = .turnStarted
        case .itemStarted(let item): self = Self.item(.started, item.item)
        case .itemUpdated(let item): self = Self.item(.updated, item.item)
        case .itemCompleted(let item): self = Self.item(.completed, item.item)
        case .turnCompleted(let completed):
            self = .turnCompleted(
                TokenUsage(
                    inputTokens: completed.usage.inputTokens, cachedInputTokens: completed.usage.cachedInputTokens,
                    outputTokens: completed.usage.outputTokens))
        case .turnFailed(let failed): self = .turnFailed(message: failed.error.message)
        case .error(let error): self = .error(message: error.message)
        case .approvalRequested(let requested): self = .approvalRequested(PendingApproval(requested.approval, owner: nil))
        case .approvalResolved(let resolved):
            self = .approvalResolved(id: resolved.approval.id, decision: ApprovalDecision(rawValue: resolved.approval.decision.rawValue) ?? .decline)
        }
    }

    private static func item(_ phase: ItemPhase, _ item: ThreadItem) -> TurnEvent {
        let status = item.status.flatMap { AgentItem.Status(rawValue: $0.rawValue) } ?? .inProgress
        let kind: AgentItem.Kind
        switch item.type {
        case .agentMessage:
            let text = item.text ?? ""
            switch phase {
            case .started: return .itemStarted(id: item.id, text: text)
            case .updated: return .itemUpdated(id: item.id, text: text)
            case .completed: return .itemCompleted(id: item.id, text: text)
            }
        case .reasoning: kind = .reasoning(text: item.text ?? "")
        case .commandExecution:
            kind = .commandExecution(command: item.command ?? "", aggregatedOutput: item.aggregatedOutput ?? "", exitCode: item.exitCode, status: status)
        case .fileChange:
            kind = .fileChange(changes: (item.changes ?? []).map { AgentItem.FileChange(path: $0.path, kind: $0.kind.rawValue, diff: $0.diff) }, status: status)
        case .todoList: kind = .todoList(items: (item.items ?? []).map { AgentItem.TodoItem(text: $0.text, completed: $0.completed) })
        case .error: kind = .error(message: item.message ?? "")
        }
        return .item(phase, AgentItem(id: item.id, kind: kind))
    }
}

extension PendingApproval {
    /// An approval as another replica's exec stream showed it, for `owner` here.
    init(_ approval: Approval, owner: String?) {
        self.init(
            id: approval.id, conversationID: approval.conversationID, owner: owner,
            kind: approval.kind == .commandExecution ? .commandExecution : .fileChange,
            command: approval.command, cwd: approval.cwd,
            changes: approval.changes?.map { AgentItem.FileChange(path: $0.path, kind: $0.kind.rawValue, diff: $0.diff) },
            reason: approval.reason,
            expiresAt: (try? Date(approval.expiresAt, strategy: .iso8601))
                ?? (try? Date(approval.expiresAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? Date()
        )
    }
}
