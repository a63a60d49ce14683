import Foundation
import GatewayAPI
import GatewayRuntime
import ModelProvider
import NIOCore
import Synchronization

/// A running `tools/call`: stopped by `notifications/cancelled`, by `DELETE /mcp`, or when the
/// client's connection closes, so a turn never outlives the request that runs it.
final class MCPToolCallHandle: Sendable {
    let signal = CancellationSignal()
    private let conversation = Mutex<String?>(nil)
    private let manager: ConversationManager
    private let principal: Principal?

    init(manager: ConversationManager, principal: Principal?) {
        self.manager = manager
        self.principal = principal
    }

    func started(conversationID: String) { conversation.withLock { $0 = conversationID } }

    /// Interrupts the turn as `conversation.cancel` does once its conversation is known, and ends the call.
    func cancel() async {
        if let id = conversation.withLock({ $0 }), !id.isEmpty {
            _ = try? await manager.cancel(id, by: principal)
        }
        signal.cancel()
    }
}

/// Runs the tools' agent turns through ``ConversationManager`` exactly as `/exec` and JSON-RPC do
/// (owners, workspaces, limits, metering), and turns their events into MCP messages.
struct MCPToolRunner: Sendable {
    let manager: ConversationManager
    let approvals: ApprovalCenter

    /// Where an approval is asked through `elicitation/create`: the session that will carry the answer.
    struct Elicitation: Sendable {
        var session: MCPSession
        /// 2025-11-25 names the form mode.
        var namesMode: Bool
    }

    enum Prepared: Sendable {
        case plan(ConversationManager.TurnPlan)
        /// The turn cannot run now (busy, limits, no model): a tool result with `isError`.
        case refused(String)
    }

    /// Every check that can fail before the turn starts; a bad argument throws `-32602`.
    func prepare(_ call: MCPTools.Call, principal: Principal?) async throws(MCPError) -> Prepared {
        do {
            return .plan(
                try await manager.prepareTurn(
                    conversationID: call.conversationID, prompt: call.prompt, model: call.model, options: call.options, principal: principal
                )
            )
        } catch let error as ConversationError {
            switch error {
            case .notFound, .invalidPrompt: throw .invalidParams(error.description)
            case .policy(let policy): throw MCPError(code: policy.jsonRPCCode, message: policy.jsonRPCCode == -32602 ? "Invalid params: \(policy.message)" : policy.message)
            case .busy, .tooManyTurns, .gatewayBusy, .modelNotConfigured, .usage: return .refused(error.description)
            }
        } catch let error as GatewayError {
            // Refused by the conversation's home replica, or it does not answer.
            return .refused(error.message)
        } catch {
            throw MCPError(code: MCPProtocol.ErrorCode.internalError, message: "Internal error.")
        }
    }

    /// Runs the turn; `send` carries progress notifications (when `progressToken` is set) and
    /// elicitation requests. Nil when the call was cancelled (no response is owed then).
    func run(
        _ plan: ConversationManager.TurnPlan,
        handle: MCPToolCallHandle,
        progressToken: JSONValue?,
        elicitation: Elicitation?,
        stateless: Bool,
        send: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws -> MCPResults.CallTool? {
        let collected = Collected()
        let manager = manager
        let outcome: TurnOutcome
        do {
            outcome = try await handle.signal.race {
                try await manager.streamTurn(plan) { event in
                    switch event {
                    case .threadStarted(let id): handle.started(conversationID: id)
                    case .itemCompleted(let id, let text): collected.state.withLock { $0.items.append(ThreadItem(id: id, type: .agentMessage, text: text)) }
                    case .item(.completed, let item): collected.state.withLock { $0.items.append(ThreadItem(item)) }
                    default: break
                    }
                    if case .approvalRequested(let approval) = event, let elicitation {
                        try await send(Self.message(Self.elicit(approval, in: elicitation)))
                    }
                    if let progressToken, let message = Self.progressMessage(event) {
                        let step = collected.state.withLock { state -> Int in
                            state.progress += 1
                            return state.progress
                        }
                        let params = MCPResults.Progress(progressToken: progressToken, progress: Double(step), message: message)
                        try await send(Self.message(MCPOutgoing.Notification(method: "notifications/progress", params: params)))
                    }
                }
            }
        } catch is TurnCancelled {
            return nil
        }
        let items = collected.state.withLock { $0.items }
        let resultType = stateless ? "complete" : nil
        switch outcome {
        case .completed(let id, let text, _, let usage):
            let shown = Usage(inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, outputTokens: usage.outputTokens)
            return MCPResults.CallTool(
                content: [.init(text: text)],
                structuredContent: .init(threadId: id, content: text, items: items, usage: shown),
                isError: false,
                resultType: resultType
            )
        case .failed(_, .cancelled):
            return nil
        case .failed(let id, let reason):
            let text = "The Codex turn failed: \(reason.description)"
            return MCPResults.CallTool(
                content: [.init(text: text)],
                structuredContent: id.isEmpty ? nil : .init(threadId: id, content: text, items: items, usage: nil),
                isError: true,
                resultType: resultType
            )
        }
    }

    /// What a call gathers while its turn runs: the completed items and the progress count.
    final class Collected: Sendable {
        let state = Mutex<(items: [ThreadItem], progress: Int)>(([], 0))
    }

    /// The `elicitation/create` request for `approval`; the answer comes back on the session.
    static func elicit(_ approval: PendingApproval, in elicitation: Elicitation) -> MCPOutgoing.Request<MCPResults.Elicit> {
        let id = "elicit_" + approval.id
        elicitation.session.expectElicitation(id: id, approvalID: approval.id)
        var message: String
        switch approval.kind {
        case .commandExecution:
            message = "Codex asks to run `\(approval.command ?? "a command")`" + (approval.cwd.map { " in \($0)" } ?? "") + "."
        case .fileChange:
            let paths = (approval.changes ?? []).map { "\($0.kind) \($0.path)" }
            message = "Codex asks to change files" + (paths.isEmpty ? "." : ": " + paths.joined(separator: ", ") + ".")
        }
        if let reason = approval.reason, !reason.isEmpty { message += " Reason: \(reason)" }
        let schema = JSONValue.object([
            "type": .string("object"),
            "required": .array([.string("decision")]),
            "properties": .object([
                "decision": .object([
                    "type": .string("string"),
                    "title": .string("Decision"),
                    "description": .string("accept once, accept for the rest of the session, decline (the agent goes on), or cancel the turn."),
                    "enum": .array(ApprovalDecision.allCases.map { .string($0.rawValue) }),
                ])
            ]),
        ])
        return MCPOutgoing.Request(
            id: .string(id),
            method: "elicitation/create",
            params: MCPResults.Elicit(mode: elicitation.namesMode ? "form" : nil, message: message, requestedSchema: schema)
        )
    }

    /// The decision an `elicitation/create` answer stands for: the form's choice when accepted,
    /// else decline (a person who dismisses the question has not approved anything).
    static func decision(fromElicitationResult result: JSONValue?) -> ApprovalDecision {
        guard result?["action"] == .string("accept") else { return .decline }
        guard let chosen = result?["content"]?["decision"]?.stringValue else { return .accept }
        return ApprovalDecision(rawValue: chosen) ?? .decline
    }

    /// A line for a person watching the turn; nil for events too small to report.
    static func progressMessage(_ event: TurnEvent) -> String? {
        switch event {
        case .threadStarted(let id): return id.isEmpty ? nil : "Conversation \(id)"
        case .turnStarted: return "Turn started"
        case .itemCompleted(_, let text): return "Agent: " + String(text.prefix(500))
        case .item(let phase, let item):
            switch (phase, item.kind) {
            case (.started, .commandExecution(let command, _, _, _)): return "Running: \(command)"
            case (.completed, .commandExecution(let command, _, let exitCode, let status)):
                return "Command \(status.rawValue)" + (exitCode.map { " (exit \($0))" } ?? "") + ": \(command)"
            case (.completed, .fileChange(let changes, let status)):
                return "Files \(status.rawValue): " + changes.map { "\($0.kind) \($0.path)" }.joined(separator: ", ")
            case (.completed, .reasoning(let text)): return "Reasoning: " + String(text.prefix(300))
            case (.completed, .todoList(let items)): return "Plan: " + items.map { ($0.completed ? "[x] " : "[ ] ") + $0.text }.joined(separator: "; ")
            case (.completed, .error(let message)): return "Error: \(message)"
            default: return nil
            }
        case .approvalRequested(let approval): return "Waiting for approval \(approval.id)"
        case .approvalResolved(let id, let decision): return "Approval \(id): \(decision.rawValue)"
        case .error(let message): return message
        case .itemStarted, .itemUpdated, .turnCompleted, .turnFailed: return nil
        }
    }

    /// One message as a server-sent event.
    static func message(_ value: some Encodable) throws -> ByteBuffer {
        let json = String(buffer: try ResponseEncoding.encodeJSON(value))
        return ByteBuffer(string: ServerSentEvent(event: "message", data: json).wireFormat)
    }
}
