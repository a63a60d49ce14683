import Foundation
import GatewayAPI
import GatewayRuntime
import Hummingbird
import ModelProvider

/// What the named conversation operations need beyond the manager: where turns that outlive
/// their request run, and how long a request waits for its turn (`GPT_TURN_WAIT_SECONDS`).
public struct ConversationTurns: Sendable {
    let service: BackgroundTurnService
    let wait: Duration

    public init(service: BackgroundTurnService, wait: Duration = .seconds(40)) {
        self.service = service
        self.wait = wait
    }
}

/// `POST /conversations`, `POST /conversations/{id}/turns` and `GET /conversations/{id}`: the
/// operations GPT Actions call. A turn runs in ``BackgroundTurnService``; the request waits for it
/// up to ``ConversationTurns/wait`` and answers `200` when it ended, else `202` with the
/// conversation to poll (the turn goes on).
extension GatewayHandlers {
    public func startConversation(_ input: Operations.StartConversation.Input, context: Context) async throws
        -> Operations.StartConversation.Output
    {
        let deadline = ContinuousClock.now + conversationTurns.wait
        let request = input.body
        let plan: ConversationManager.TurnPlan
        do {
            plan = try await conversations.prepareTurn(
                conversationID: nil,
                prompt: request.prompt,
                model: request.model,
                options: TurnOptions(workspace: request.workspace, sandbox: request.sandbox, approvalPolicy: request.approvalPolicy),
                principal: context.principal
            )
        } catch let error as ConversationError {
            switch refusal(error, context) {
            case .badRequest(let envelope): return .badRequest(.json(envelope))
            case .forbidden(let envelope): return .forbidden(.json(envelope))
            case .tooManyRequests(let envelope, let retryAfter): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
            case .serviceUnavailable(let envelope): return .serviceUnavailable(.json(envelope))
            case .notFound(let envelope), .conflict(let envelope): return .badRequest(.json(envelope))
            }
        }
        let ticket = conversationTurns.service.start(plan)
        guard let id = await ticket.conversationStarted() else {
            var reason = "it ended before it began"
            if case .failed(_, let failure)? = ticket.outcome {
                // What the request asked for, refused only when the engine resolved it (a workspace
                // whose path leads out): the same answers as when checked up front.
                if case .refused(let error) = failure {
                    switch refusal(error, context) {
                    case .forbidden(let envelope): return .forbidden(.json(envelope))
                    case .tooManyRequests(let envelope, let retryAfter): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
                    case .serviceUnavailable(let envelope): return .serviceUnavailable(.json(envelope))
                    case .badRequest(let envelope), .notFound(let envelope), .conflict(let envelope): return .badRequest(.json(envelope))
                    }
                }
                reason = failure.description
            }
            return .serviceUnavailable(.json(envelope(context, 503, "agent_unavailable", "The agent could not start the conversation: \(reason)")))
        }
        let ended = await ticket.outcome(before: deadline) != nil
        let view = try await conversation(id, principal: context.principal)
        return ended ? .ok(.json(view)) : .accepted(.json(view), headers: .init(location: Self.location(of: id)))
    }

    public func continueConversation(_ input: Operations.ContinueConversation.Input, context: Context) async throws
        -> Operations.ContinueConversation.Output
    {
        let deadline = ContinuousClock.now + conversationTurns.wait
        let request = input.body
        let plan: ConversationManager.TurnPlan
        do {
            plan = try await conversations.prepareTurn(
                conversationID: input.path.conversationID,
                prompt: request.prompt,
                model: request.model,
                options: TurnOptions(workspace: nil, sandbox: request.sandbox, approvalPolicy: request.approvalPolicy),
                principal: context.principal
            )
        } catch let error as ConversationError {
            switch refusal(error, context) {
            case .badRequest(let envelope): return .badRequest(.json(envelope))
            case .forbidden(let envelope): return .forbidden(.json(envelope))
            case .notFound(let envelope): return .notFound(.json(envelope))
            case .conflict(let envelope): return .conflict(.json(envelope))
            case .tooManyRequests(let envelope, let retryAfter): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
            case .serviceUnavailable(let envelope): return .serviceUnavailable(.json(envelope))
            }
        }
        let ticket = conversationTurns.service.start(plan)
        let outcome = await ticket.outcome(before: deadline)
        let id = plan.conversationID ?? input.path.conversationID.lowercased()
        // Another request's turn took the conversation between the check and the start.
        if case .failed(_, .busy)? = outcome {
            return .conflict(.json(envelope(context, 409, "conversation_busy", ConversationError.busy(id).description)))
        }
        let view = try await conversation(id, principal: context.principal)
        return outcome != nil ? .ok(.json(view)) : .accepted(.json(view), headers: .init(location: Self.location(of: id)))
    }

    public func getConversation(_ input: Operations.GetConversation.Input, context: Context) async throws -> Operations.GetConversation.Output {
        do {
            return .ok(.json(try await conversation(input.path.conversationID, principal: context.principal)))
        } catch let error as ConversationError {
            return .notFound(.json(envelope(context, 404, "conversation_not_found", error.description)))
        }
    }

    /// Where a conversation is read (`Location` of a `202`).
    static func location(of conversationID: String) -> String {
        "/conversations/\(conversationID)"
    }

    /// The conversation as `principal` may see it: its last turn from the manager's activity (or,
    /// for one from before the gateway started, from its messages) and its pending approvals.
    /// Throws ``ConversationError/notFound(_:)`` for anyone else's.
    func conversation(_ id: String, principal: Principal?) async throws -> Conversation {
        let record = try await conversations.record(id, for: principal)
        let pending = approvals.pending(owner: principal?.owner, conversationID: record.id)
        var answer: String?
        var error: String?
        var usage: Usage?
        var items: [ThreadItem] = []
        var running = conversations.isRunning(record.id)
        if let last = conversations.activity.lastTurn(of: record.id) {
            items = last.items.map(ThreadItem.init)
            switch last.phase {
            case .running: running = true
            case .completed(let text, let tokens):
                answer = text
                usage = Usage(inputTokens: tokens.inputTokens, cachedInputTokens: tokens.cachedInputTokens, outputTokens: tokens.outputTokens)
            case .failed(let message): error = message
            }
        } else if !running, let lastMessage = record.messages.last {
            // Known only from the rollout file: a last user message without an answer is a turn
            // that ended without one.
            if lastMessage.role == .assistant {
                answer = lastMessage.content
            } else {
                error = "The last turn ended without an answer."
            }
        }
        let status: Conversation.Status =
            running ? (pending.isEmpty ? .running : .waitingForApproval) : (error == nil ? .idle : .failed)
        return Conversation(
            conversationID: record.id,
            status: status,
            answer: running ? nil : answer,
            error: running ? nil : error,
            items: items,
            usage: running ? nil : usage,
            pendingApprovals: pending.map(Approval.init),
            model: record.model,
            createdAt: Timestamps.string(record.createdAt),
            updatedAt: Timestamps.string(record.updatedAt),
            turns: record.turns
        )
    }

    /// How a turn that cannot start is answered, by status.
    enum TurnRefusal {
        case badRequest(ErrorEnvelope), forbidden(ErrorEnvelope), notFound(ErrorEnvelope), conflict(ErrorEnvelope)
        case tooManyRequests(ErrorEnvelope, retryAfter: Int), serviceUnavailable(ErrorEnvelope)
    }

    func refusal(_ error: ConversationError, _ context: Context) -> TurnRefusal {
        switch error {
        case .notFound: .notFound(envelope(context, 404, "conversation_not_found", error.description))
        case .busy: .conflict(envelope(context, 409, "conversation_busy", error.description))
        case .modelNotConfigured: .serviceUnavailable(envelope(context, 503, "model_not_configured", error.description))
        case .invalidPrompt(let message): .badRequest(envelope(context, 400, "invalid_request", message))
        case .tooManyTurns, .gatewayBusy: .tooManyRequests(envelope(context, 429, "too_many_turns", error.description), retryAfter: 1)
        case .usage(let refusal):
            switch refusal {
            case .budgetExceeded(let message, let retryAfter): .tooManyRequests(envelope(context, 429, refusal.code, message), retryAfter: retryAfter)
            case .modelNotAllowed: .forbidden(envelope(context, 403, refusal.code, refusal.description))
            }
        case .policy(let policy):
            switch policy.status {
            case .forbidden: .forbidden(envelope(context, 403, policy.code, policy.message))
            case .badRequest: .badRequest(envelope(context, 400, policy.code, policy.message))
            // The gateway's own fault (WORKSPACES_ROOT unusable), not the request's.
            default: .serviceUnavailable(envelope(context, 503, policy.code, policy.message))
            }
        }
    }
}

extension ThreadItem {
    init(_ item: TurnActivity.Item) {
        switch item {
        case .agentMessage(let id, let text): self.init(id: id, type: .agentMessage, text: text)
        case .agent(let agentItem): self.init(agentItem)
        }
    }
}
