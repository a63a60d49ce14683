import Foundation
import GatewayAPI
import GatewayRuntime
import Hummingbird
import ModelProvider
import NIOCore

extension GatewayHandlers {
    public func jsonRPC(_ input: Operations.JSONRPC.Input, context: Context) async throws -> Operations.JSONRPC.Output {
        switch await jsonRPCDispatcher.handle(input.body, rawBody: input.rawBody, logger: context.logger, owner: context.principal) {
        case .none: return .noContent
        case .single(let response): return .ok(.json(.jsonrpcResponse(response)))
        case .batch(let responses): return .ok(.json(.jsonrpcBatchReply(responses)))
        }
    }

    public func exec(_ input: Operations.Exec.Input, context: Context) async throws -> Operations.Exec.Output {
        let request = input.body
        let offered = ["application/jsonl", "application/x-ndjson", "application/json"]
        guard let mediaType = input.accept.preferred(among: offered) else {
            return .notAcceptable(.json(envelope(context, 406, "not_acceptable", "Accept one of: \(offered.joined(separator: ", ")).")))
        }
        let plan: ConversationManager.TurnPlan
        do {
            plan = try await conversations.prepareTurn(
                conversationID: request.conversationID ?? request.sessionID,
                prompt: request.prompt,
                model: request.model,
                images: request.images ?? [],
                outputSchema: request.outputSchema.map(JSONValue.object),
                options: TurnOptions(workspace: request.workspace, sandbox: request.sandbox, approvalPolicy: request.approvalPolicy),
                principal: context.principal
            )
        } catch let error as ConversationError {
            switch error {
            case .notFound: return .notFound(.json(envelope(context, 404, "conversation_not_found", error.description)))
            case .busy: return .conflict(.json(envelope(context, 409, "conversation_busy", error.description)))
            case .modelNotConfigured: return .serviceUnavailable(.json(envelope(context, 503, "model_not_configured", error.description)))
            case .invalidPrompt(let message): return .badRequest(.json(envelope(context, 400, "invalid_request", message)))
            case .tooManyTurns, .gatewayBusy:
                return .tooManyRequests(.json(envelope(context, 429, "too_many_turns", error.description)), headers: .init(retryAfter: 1))
            case .usage(let refusal):
                switch refusal {
                case .budgetExceeded(let message, let retryAfter):
                    return .tooManyRequests(.json(envelope(context, 429, refusal.code, message)), headers: .init(retryAfter: retryAfter))
                case .modelNotAllowed: return .forbidden(.json(envelope(context, 403, refusal.code, refusal.description)))
                }
            case .policy(let policy):
                switch policy.status {
                case .badRequest: return .badRequest(.json(envelope(context, 400, policy.code, policy.message)))
                case .forbidden: return .forbidden(.json(envelope(context, 403, policy.code, policy.message)))
                default: throw policy.gatewayError
                }
            }
        }
        let manager = conversations
        switch mediaType {
        case "application/json":
            var events: [ExecEvent] = []
            let outcome = try await manager.streamTurn(plan) { events.append(ExecEvent($0)) }
            let conversationID: String
            var failure: String?
            switch outcome {
            case .completed(let id, _, _, _): conversationID = id
            case .failed(let id, let reason):
                conversationID = id
                failure = reason.description
            }
            return .ok(.json(ExecResult(conversationID: conversationID, events: events, status: failure == nil ? .completed : .failed, error: failure)))
        default:
            let body = JSONLinesBody<ExecEvent> { emit in
                try await manager.streamTurn(plan) { try await emit(ExecEvent($0)) }
            }
            return .ok(mediaType == "application/x-ndjson" ? .ndjson(body) : .jsonl(body))
        }
    }

    public func listConversations(_ input: Operations.ListConversations.Input, context: Context) async throws
        -> Operations.ListConversations.Output
    {
        guard let principal = context.principal else {
            throw GatewayAuthenticator.unauthorized(code: "unauthorized", message: "Credentials are required.", challenge: nil)
        }
        var after: ConversationListPosition?
        if let cursor = input.query.cursor {
            guard let position = ConversationListPosition(cursor: cursor) else {
                return .badRequest(.json(envelope(context, 400, "invalid_request", "cursor is not a next_cursor this gateway gave out.")))
            }
            after = position
        }
        let limit = input.query.limit ?? ConversationManager.listLimits.default
        // Asked by another replica for its list: this replica's own conversations only.
        return .ok(.json(try await jsonRPCDispatcher.list(for: principal, limit: limit, after: after, acrossReplicas: context.replicaForward == nil)))
    }

    func envelope(_ context: Context, _ status: Int, _ code: String, _ message: String) -> ErrorEnvelope {
        ErrorEnvelope(error: message, code: code, status: status, requestID: context.requestID)
    }
}

extension ExecEvent {
    /// The `codex exec --json` line for a turn event.
    init(_ event: TurnEvent) {
        switch event {
        case .threadStarted(let id):
            self = .threadStarted(ThreadStartedEvent(type: .threadStarted, threadID: id))
        case .turnStarted:
            self = .turnStarted(TurnStartedEvent(type: .turnStarted))
        case .itemStarted(let id, let text):
            self = .itemStarted(ItemStartedEvent(type: .itemStarted, item: ThreadItem(id: id, type: .agentMessage, text: text)))
        case .itemUpdated(let id, let text):
            self = .itemUpdated(ItemUpdatedEvent(type: .itemUpdated, item: ThreadItem(id: id, type: .agentMessage, text: text)))
        case .itemCompleted(let id, let text):
            self = .itemCompleted(ItemCompletedEvent(type: .itemCompleted, item: ThreadItem(id: id, type: .agentMessage, text: text)))
        case .turnCompleted(let usage):
            self = .turnCompleted(
                TurnCompletedEvent(
                    type: .turnCompleted,
                    usage: Usage(inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, outputTokens: usage.outputTokens)
                )
            )
        case .turnFailed(let message):
            self = .turnFailed(TurnFailedEvent(type: .turnFailed, error: .init(message: message)))
        case .error(let message):
            self = .error(ErrorEvent(type: .error, message: message))
        case .approvalRequested(let approval):
            self = .approvalRequested(ApprovalRequestedEvent(type: .approvalRequested, approval: Approval(approval)))
        case .approvalResolved(let id, let decision):
            self = .approvalResolved(
                ApprovalResolvedEvent(type: .approvalResolved, approval: ApprovalAnswer(id: id, decision: GatewayAPI.ApprovalDecision(decision)))
            )
        case .item(let phase, let item):
            let shown = ThreadItem(item)
            switch phase {
            case .started: self = .itemStarted(ItemStartedEvent(type: .itemStarted, item: shown))
            case .updated: self = .itemUpdated(ItemUpdatedEvent(type: .itemUpdated, item: shown))
            case .completed: self = .itemCompleted(ItemCompletedEvent(type: .itemCompleted, item: shown))
            }
        }
    }
}

extension ThreadItem {
    /// An agent item as `codex exec --json` shows it.
    init(_ item: AgentItem) {
        switch item.kind {
        case .reasoning(let text):
            self.init(id: item.id, type: .reasoning, text: text)
        case .commandExecution(let command, let output, let exitCode, let status):
            self.init(id: item.id, type: .commandExecution, command: command, aggregatedOutput: output, exitCode: exitCode, status: Status(status))
        case .fileChange(let changes, let status):
            let shown = changes.map { FileChange(path: $0.path, kind: FileChange.Kind(rawValue: $0.kind) ?? .update, diff: $0.diff) }
            self.init(id: item.id, type: .fileChange, status: Status(status), changes: shown)
        case .todoList(let items):
            self.init(id: item.id, type: .todoList, items: items.map { TodoItem(text: $0.text, completed: $0.completed) })
        case .error(let message):
            self.init(id: item.id, type: .error, message: message)
        }
    }
}

extension ThreadItem.Status {
    init(_ status: AgentItem.Status) {
        switch status {
        case .inProgress: self = .inProgress
        case .completed: self = .completed
        case .failed: self = .failed
        case .declined: self = .declined
        }
    }
}

extension Approval {
    init(_ approval: PendingApproval) {
        self.init(
            id: approval.id,
            conversationID: approval.conversationID,
            kind: approval.kind == .commandExecution ? .commandExecution : .fileChange,
            command: approval.command,
            cwd: approval.cwd,
            changes: approval.changes?.map { FileChange(path: $0.path, kind: FileChange.Kind(rawValue: $0.kind) ?? .update, diff: $0.diff) },
            reason: approval.reason,
            expiresAt: approval.expiresAt.formatted(.iso8601)
        )
    }
}

extension GatewayAPI.ApprovalDecision {
    init(_ decision: GatewayServer.ApprovalDecision) {
        self = Self(rawValue: decision.rawValue) ?? .decline
    }
}
