import Foundation
import Synchronization
import GatewayAPI
import GatewayRuntime
import Logging
import ModelProvider
import NIOCore

/// JSON-RPC 2.0 (jsonrpc.org/specification) over the conversation methods of PROTOCOLS.md §2:
/// single requests, batches, notifications and every standard error code.
///
/// A batch is bounded (``Limits``): at most `maxBatch` requests, each charged to the caller's
/// rate limit (the HTTP request pays for the first), run concurrently, so their turns count
/// against the caller's concurrent-turn cap together; and at most `maxResponseBytes` of answers,
/// entries past that getting a `-32007` error instead of their result.
public struct JSONRPCDispatcher: Sendable {
    /// Error codes: the standard ones, then the gateway's server errors (-32000…-32099).
    public enum ErrorCode {
        public static let parseError = -32700
        public static let invalidRequest = -32600
        public static let methodNotFound = -32601
        public static let invalidParams = -32602
        public static let internalError = -32603
        public static let modelFailure = -32000
        public static let turnCancelled = -32001
        public static let conversationBusy = -32002
        public static let modelNotConfigured = -32003
        public static let unknownConversation = -32004
        /// The caller already runs as many turns as its `concurrent_turns` limit allows, or (for
        /// an entry of a batch) its rate limit is exhausted.
        public static let tooManyTurns = -32005
        /// The caller's token budget is used up (`data.retry_after` seconds to the reset).
        public static let budgetExceeded = -32006
        /// The answer would exceed `JSONRPC_MAX_RESPONSE_BYTES`.
        public static let responseLimitReached = -32007
    }

    /// What one request to the endpoint may cost (`JSONRPC_MAX_BATCH`, `JSONRPC_MAX_RESPONSE_BYTES`).
    public struct Limits: Sendable {
        public var maxBatch = 50
        public var maxResponseBytes = 4 << 20

        public init(maxBatch: Int = 50, maxResponseBytes: Int = 4 << 20) {
            self.maxBatch = maxBatch
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// The methods `openapi.yaml` names for `JSONRPCRequest.method`.
    public static let methods = JSONRPCRequest.Method.allCases.map(\.rawValue)

    let manager: ConversationManager
    /// The agent's pending approvals (`approval.list`, `approval.respond`).
    let approvals: ApprovalCenter
    let limits: Limits
    /// Charges each entry of a batch after the first; nil: no rate limiting.
    let rateLimiter: RateLimiter?

    public init(manager: ConversationManager, approvals: ApprovalCenter = ApprovalCenter(), limits: Limits = .init(), rateLimiter: RateLimiter? = nil) {
        self.manager = manager
        self.approvals = approvals
        self.limits = limits
        self.rateLimiter = rateLimiter
    }

    /// What to send back: nothing (all notifications), one response, or a batch.
    public enum Reply: Sendable {
        case none
        case single(JSONRPCResponse)
        case batch([JSONRPCResponse])
    }

    /// An error to answer with, carrying the JSON-RPC code.
    struct Failure: Error {
        var code: Int
        var message: String
        var data: JSONValue?
    }

    /// `payload` is the body as the generated route decoded and checked it against `JSONRPCPayload`.
    /// A body that is not one is read again from `rawBody` entry by entry: JSON-RPC answers each
    /// invalid entry of a batch on its own and still runs the valid ones. `owner` is the
    /// authenticated caller; its turns count against its concurrent-turn cap.
    public func handle(_ payload: Result<JSONRPCPayload, GatewayError>, rawBody: ByteBuffer, logger: Logger, owner: Principal? = nil) async -> Reply {
        let entries: [JSONRPCEntry]
        switch payload {
        case .success(.jsonrpcRequest(let request)):
            return await handle(entry: JSONRPCEntry(request), logger: logger, owner: owner, budget: ResponseBudget(bytes: limits.maxResponseBytes))
                .map(Reply.single) ?? .none
        case .success(.jsonrpcBatch(let requests)):
            entries = requests.map(JSONRPCEntry.init)
        case .failure:
            let value: JSONValue
            do {
                value = try JSONDecoder().decode(JSONValue.self, from: Data(rawBody.readableBytesView))
            } catch {
                return .single(Self.errorResponse(id: .null, Failure(code: ErrorCode.parseError, message: "Parse error: the body is not valid JSON.")))
            }
            guard case .array(let items) = value else {
                return await handle(entry: JSONRPCEntry(checking: value), logger: logger, owner: owner, budget: ResponseBudget(bytes: limits.maxResponseBytes))
                    .map(Reply.single) ?? .none
            }
            entries = items.map(JSONRPCEntry.init(checking:))
        }
        guard !entries.isEmpty else {
            return .single(Self.errorResponse(id: .null, Failure(code: ErrorCode.invalidRequest, message: "Invalid Request: the batch is empty.")))
        }
        guard entries.count <= limits.maxBatch else {
            let message = "Invalid Request: a batch may hold at most \(limits.maxBatch) requests (JSONRPC_MAX_BATCH); this one has \(entries.count)."
            return .single(Self.errorResponse(id: .null, Failure(code: ErrorCode.invalidRequest, message: message)))
        }
        let budget = ResponseBudget(bytes: limits.maxResponseBytes)
        // Charged in order before anything runs: the entries past the budget are the ones refused.
        var charged: [Failure?] = []
        for index in entries.indices { charged.append(index == 0 ? nil : await admit(owner)) }
        let refusals = charged
        let responses = await withTaskGroup(of: (Int, JSONRPCResponse?).self) { group in
            for (index, entry) in entries.enumerated() {
                group.addTask {
                    (index, await handle(entry: entry, logger: logger, owner: owner, refusal: refusals[index], budget: budget))
                }
            }
            var responses = [JSONRPCResponse?](repeating: nil, count: entries.count)
            for await (index, response) in group { responses[index] = response }
            return responses.compactMap { $0 }
        }
        return responses.isEmpty ? .none : .batch(responses)
    }

    /// Takes one request from `owner`'s rate limit for an entry of a batch; the error to answer it
    /// with when the limit is exhausted.
    func admit(_ owner: Principal?) async -> Failure? {
        guard let owner, let rateLimiter else { return nil }
        let decision: RateLimiter.Decision
        do {
            decision = try await rateLimiter.decide(owner)
        } catch {
            // The shared budgets' database does not answer (PROTOCOLS.md §12).
            return Failure(
                code: ErrorCode.internalError, message: PostgresGatewayDatabase.unavailable.message,
                data: .object(["code": .string("database_unavailable"), "retry_after": .integer(5)]))
        }
        guard case .refused(let status, let retryAfter) = decision else { return nil }
        return Failure(
            code: ErrorCode.tooManyTurns,
            message: GatewayAuthenticator.rateLimitMessage(status, retryAfter: retryAfter),
            data: .object(["code": .string("rate_limited"), "retry_after": .integer(retryAfter)])
        )
    }

    /// One entry; nil for a notification. `refusal`, when set, is answered instead of running the
    /// method; an answer that does not fit what is left of `budget` is replaced by a `-32007` error.
    func handle(entry: JSONRPCEntry, logger: Logger, owner: Principal? = nil, refusal: Failure? = nil, budget: ResponseBudget) async -> JSONRPCResponse? {
        let rawID: JSONValue?, method: String, params: JSONValue?
        switch entry {
        case .invalid(let id, let message):
            // An invalid Request is always answered, never taken for a notification.
            return Self.errorResponse(id: id, Failure(code: ErrorCode.invalidRequest, message: "Invalid Request: \(message)"))
        case .request(let id, let name, let values):
            (rawID, method, params) = (id, name, values)
        }
        let id = rawID ?? .null
        guard JSONRPCEntry.isValidID(id) else {
            return Self.errorResponse(id: .null, Failure(code: ErrorCode.invalidRequest, message: "Invalid Request: id must be a string, a number or null."))
        }
        let isNotification = rawID == nil
        func respond(_ result: Result<JSONValue, Failure>) -> JSONRPCResponse? {
            guard !isNotification else { return nil }
            switch result {
            case .success(let value):
                let response = JSONRPCResponse(jsonrpc: .v2_0, id: id, result: value)
                let size = (try? JSONEncoder().encode(response).count) ?? Int.max
                guard budget.take(size) else { return Self.errorResponse(id: id, budget.exhausted) }
                return response
            case .failure(let failure): return Self.errorResponse(id: id, failure)
            }
        }
        if let refusal { return respond(.failure(refusal)) }
        var methodLogger = logger
        methodLogger[metadataKey: "jsonrpc.method"] = .string(method)
        do {
            return respond(.success(try await call(method, params: params, logger: methodLogger, owner: owner, budget: budget)))
        } catch let failure as Failure {
            return respond(.failure(failure))
        } catch {
            methodLogger.error("JSON-RPC method failed", metadata: ["error": .string(String(describing: error))])
            return respond(.failure(Failure(code: ErrorCode.internalError, message: "Internal error.")))
        }
    }

    func call(_ method: String, params: JSONValue?, logger: Logger, owner: Principal? = nil, budget: ResponseBudget) async throws -> JSONValue {
        switch method {
        case "conversation.prompt":
            let prompt: PromptParams = try decodeParams(params, positional: ["prompt", "conversation_id", "model"])
            return try await self.prompt(prompt, owner: owner)
        case "conversation.status":
            let id = try conversationID(params)
            let record = try await lookup(id, for: owner)
            return try Self.json(status(of: record))
        case "conversation.list":
            let list: ConversationListParams = try decodeParams(params, positional: ["limit", "cursor"])
            var after: ConversationListPosition?
            if let cursor = list.cursor {
                guard let position = ConversationListPosition(cursor: cursor) else {
                    throw Failure(code: ErrorCode.invalidParams, message: "Invalid params: cursor is not a next_cursor this gateway gave out.")
                }
                after = position
            }
            guard let owner else { throw Failure(code: ErrorCode.internalError, message: "Internal error.") }
            return try Self.json(try await self.list(for: owner, limit: list.limit ?? ConversationManager.listLimits.default, after: after))
        case "conversation.cancel":
            let id = try conversationID(params)
            do {
                let cancelled = try await manager.cancel(id, by: owner)
                return try Self.json(CancelResult(cancelled: cancelled, conversationID: id.lowercased()))
            } catch let error as ConversationError {
                throw Self.failure(error)
            }
        case "approval.list":
            let list: ApprovalListParams = try decodeParams(params, positional: ["conversation_id"])
            return try Self.json(ApprovalList(approvals: approvals.pending(owner: owner?.owner, conversationID: list.conversationID).map(Approval.init)))
        case "approval.respond":
            let answer: ApprovalRespondParams = try decodeParams(params, positional: ["approval_id", "decision"])
            do {
                try approvals.answer(answer.approvalID, decision: ApprovalDecision(rawValue: answer.decision.rawValue) ?? .decline, owner: owner?.owner)
            } catch ApprovalCenter.AnswerError.unknown {
                throw Failure(code: ErrorCode.invalidParams, message: "No pending approval with id '\(answer.approvalID)'.")
            } catch ApprovalCenter.AnswerError.alreadyAnswered(let earlier) {
                throw Failure(code: ErrorCode.conversationBusy, message: "The approval '\(answer.approvalID)' was already answered: \(earlier.rawValue).")
            }
            return try Self.json(ApprovalAnswer(id: answer.approvalID, decision: answer.decision))
        case "conversation.history":
            let id = try conversationID(params)
            let record = try await lookup(id, for: owner)
            // Checked before the answer is built: one long conversation cannot fill the memory.
            guard budget.mayFit(record.messages.reduce(0) { $0 + $1.content.utf8.count }) else { throw budget.exhausted }
            let messages = record.messages.compactMap { message -> HistoryMessage? in
                guard let role = HistoryMessage.Role(rawValue: message.role.rawValue) else { return nil }
                return HistoryMessage(role: role, content: message.content, timestamp: Timestamps.string(message.timestamp))
            }
            return try Self.json(HistoryResult(conversationID: record.id, messages: messages))
        case "usage.get":
            // The caller's usage and budgets, as GET /usage answers them.
            let query: UsageParams = try decodeParams(params, positional: ["from", "to"])
            guard let owner, let ledger = manager.usage else { throw Failure(code: ErrorCode.internalError, message: "Internal error.") }
            switch UsageRange.parse(from: query.from, to: query.to) {
            case .success(let range): return try Self.json(try await ledger.report(account: owner.owner, range: range))
            case .failure(let error): throw Failure(code: ErrorCode.invalidParams, message: "Invalid params: \(error.message)")
            }
        default:
            throw Failure(
                code: ErrorCode.methodNotFound,
                message: "Method not found: '\(method)'.",
                data: .object(["available_methods": .array(Self.methods.map(JSONValue.string))])
            )
        }
    }

    func prompt(_ params: PromptParams, owner: Principal? = nil) async throws -> JSONValue {
        let plan: ConversationManager.TurnPlan
        do {
            plan = try await manager.prepareTurn(
                conversationID: params.conversationID ?? params.sessionID,
                prompt: params.prompt,
                model: params.model,
                options: TurnOptions(workspace: params.workspace, sandbox: params.sandbox, approvalPolicy: params.approvalPolicy),
                principal: owner
            )
        } catch let error as ConversationError {
            throw Self.failure(error)
        }
        let items = Mutex<[ThreadItem]>([])
        let outcome = try await manager.streamTurn(plan) { event in
            switch event {
            case .itemCompleted(let id, let text): items.withLock { $0.append(ThreadItem(id: id, type: .agentMessage, text: text)) }
            case .item(.completed, let item): items.withLock { $0.append(ThreadItem(item)) }
            default: break
            }
        }
        switch outcome {
        case .completed(let id, let text, let model, let usage):
            return try Self.json(
                PromptResult(
                    type: .aiResponse,
                    conversationID: id,
                    content: text,
                    model: model,
                    timestamp: Timestamps.string(Date()),
                    usage: Usage(inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, outputTokens: usage.outputTokens),
                    items: items.withLock { $0 }
                )
            )
        case .failed(let id, let reason):
            let data = JSONValue.object(["conversation_id": .string(id)])
            switch reason {
            case .cancelled: throw Failure(code: ErrorCode.turnCancelled, message: reason.description, data: data)
            case .busy: throw Failure(code: ErrorCode.conversationBusy, message: reason.description, data: data)
            case .model(let message): throw Failure(code: ErrorCode.modelFailure, message: message, data: data)
            case .storage(let message): throw Failure(code: ErrorCode.internalError, message: message, data: data)
            case .refused(let error): throw Self.failure(error)
            }
        }
    }

    func conversationID(_ params: JSONValue?) throws -> String {
        let decoded: ConversationParams = try decodeParams(params, positional: ["conversation_id"])
        guard let id = decoded.conversationID ?? decoded.sessionID, !id.isEmpty else {
            throw Failure(code: ErrorCode.invalidParams, message: "Invalid params: conversation_id is required.")
        }
        return id
    }

    /// A page of `principal`'s conversations, as `conversation.list` and `GET /conversations` answer.
    /// `principal`'s conversations; with several replicas, those of all of them unless
    /// `acrossReplicas` is false (a peer asking for this replica's own: ReplicaConversationList).
    func list(for principal: Principal, limit: Int, after: ConversationListPosition?, acrossReplicas: Bool = true) async throws -> ConversationList {
        let (records, next) = try await manager.list(for: principal, limit: limit, after: after)
        let local = ConversationList(conversations: records.map(status(of:)), nextCursor: next)
        guard acrossReplicas, let remote = manager.remote else { return local }
        var positions: [String: ConversationListPosition] = [:]
        for record in records { positions[record.id] = await manager.store.position(of: record.id) }
        return try await remote.list(merging: local, positions: positions, for: principal, limit: limit, after: after)
    }

    func status(of record: ConversationRecord) -> ConversationStatus {
        ConversationStatus(
            conversationID: record.id,
            status: manager.isRunning(record.id) ? .running : .idle,
            model: record.model,
            createdAt: Timestamps.string(record.createdAt),
            updatedAt: Timestamps.string(record.updatedAt),
            turns: record.turns
        )
    }

    func lookup(_ id: String, for principal: Principal?) async throws -> ConversationRecord {
        do {
            return try await manager.record(id, for: principal)
        } catch let error as ConversationError {
            throw Self.failure(error)
        }
    }

    /// Decodes by-name (object) or by-position (array) params into a generated type, so the
    /// schema's rules apply; failures are -32602 naming the field.
    func decodeParams<T: Decodable>(_ params: JSONValue?, positional names: [String]) throws -> T {
        var object: [String: JSONValue] = [:]
        switch params {
        case .object(let value)?: object = value
        case .array(let values)?:
            guard values.count <= names.count else {
                throw Failure(code: ErrorCode.invalidParams, message: "Invalid params: at most \(names.count) positional parameters (\(names.joined(separator: ", "))).")
            }
            for (name, value) in zip(names, values) { object[name] = value }
        default: break
        }
        do {
            let data = try JSONEncoder().encode(JSONValue.object(object))
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Failure(code: ErrorCode.invalidParams, message: "Invalid params: " + RequestBodyDecoding.describe(error, root: "params"))
        }
    }

    static func failure(_ error: ConversationError) -> Failure {
        switch error {
        case .notFound(let id):
            Failure(code: ErrorCode.unknownConversation, message: error.description, data: .object(["conversation_id": .string(id)]))
        case .busy(let id):
            Failure(code: ErrorCode.conversationBusy, message: error.description, data: .object(["conversation_id": .string(id)]))
        case .modelNotConfigured(let variable, let message):
            Failure(code: ErrorCode.modelNotConfigured, message: message, data: .object(["variable": .string(variable)]))
        case .invalidPrompt(let message):
            Failure(code: ErrorCode.invalidParams, message: "Invalid params: \(message)")
        case .tooManyTurns(let limit), .gatewayBusy(let limit):
            Failure(code: ErrorCode.tooManyTurns, message: error.description, data: .object(["limit": .integer(limit)]))
        case .policy(let policy):
            Failure(code: policy.jsonRPCCode, message: "Invalid params: \(policy.message)", data: .object(["code": .string(policy.code)]))
        case .usage(let refusal):
            switch refusal {
            case .budgetExceeded(let message, let retryAfter):
                Failure(code: ErrorCode.budgetExceeded, message: message, data: .object(["code": .string(refusal.code), "retry_after": .integer(retryAfter)]))
            case .modelNotAllowed(let model, _):
                Failure(code: ErrorCode.invalidParams, message: "Invalid params: \(refusal.description)", data: .object(["code": .string(refusal.code), "model": .string(model)]))
            }
        }
    }

    static func errorResponse(id: JSONValue, _ failure: Failure) -> JSONRPCResponse {
        JSONRPCResponse(jsonrpc: .v2_0, id: id, error: JSONRPCError(code: failure.code, message: failure.message, data: failure.data))
    }

    static func json<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}

/// ISO 8601 with milliseconds, in UTC, as every timestamp the gateway sends.
public enum Timestamps {
    public static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)) + "Z"
    }
}

/// Parameters of `usage.get`: the days of the report (`YYYY-MM-DD`, UTC), as `GET /usage` takes them.
private struct UsageParams: Decodable {
    var from: String?
    var to: String?
}
