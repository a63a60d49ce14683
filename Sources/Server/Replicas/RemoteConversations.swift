import AsyncHTTPClient
import Foundation
import GatewayAPI
import HTTPTypes
import GatewayRuntime
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// What a front end here asks of a conversation homed on another replica, done there
/// (PROTOCOLS.md §12): a turn as a forwarded `POST /exec` stream, an interrupt as a forwarded
/// `conversation.cancel`, an approval answer as a forwarded `POST /approvals/{id}`.
///
/// HTTP requests naming such a conversation are forwarded whole by ``ReplicaRoutingMiddleware``.
/// A WebSocket cannot be: one connection may touch several conversations, homed on different
/// replicas. So ``ConversationManager`` asks here whenever a front end (WebSocket, MCP's
/// `codex-reply`) wants something of a conversation it does not hold, and every front end that runs
/// turns through the manager gets it. The exec lines are exactly the turn's events (§3), read back
/// into ``TurnEvent``s, so approvals raised there arrive as `approvalRequested` like local ones.
///
/// The forward acts for the principal the front end authenticated, asserted in the signed
/// ``ReplicaSignature/principalHeader`` (a WebSocket opened with a ticket has no credential left
/// to send); that principal was admitted here, so the home does not count it again.
final class RemoteConversations: Sendable {
    let placement: ReplicaPlacement
    let client: ReplicaClient
    let logger: Logger

    init(placement: ReplicaPlacement, client: ReplicaClient, logger: Logger) {
        self.placement = placement
        self.client = client
        self.logger = logger
    }

    /// The other replica conversation (or approval) `id` lives on; nil when here or unknown.
    func home(of id: String) async throws -> String? {
        try await placement.remoteHome(of: id)
    }

    /// A turn the home accepted: its exec lines as they come.
    struct Turn: Sendable {
        var home: String
        var lines: HTTPClientResponse.Body
    }

    /// Starts the turn on `home`. Throws the ``ConversationError`` the home refused it with (as a
    /// local ``ConversationManager/prepareTurn`` would), or a ``GatewayError`` for anything else
    /// (503 `replica_unavailable` when the home does not answer).
    func startTurn(_ request: TurnRequest, principal: Principal?, home: String) async throws -> Turn {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Accept", value: "application/jsonl")
        let body = ByteBuffer(data: try JSONEncoder().encode(request))
        let response = try await client.send(.POST, "/exec", headers: headers, body: body, assertions: assertions(principal), to: home, requestID: nil, logger: logger)
        guard response.status == .ok else { throw try await Self.refusal(response, conversationID: request.conversation_id) }
        return Turn(home: home, lines: response.body)
    }

    /// The `POST /exec` body of a turn on an existing conversation.
    struct TurnRequest: Encodable, Sendable {
        var prompt: String
        var conversation_id: String
        var model: String?
        var images: [String]?
        var output_schema: JSONValue?
        var sandbox: String?
        var approval_policy: String?
    }

    /// Interrupts the running turn of `id` on `home`; false when none was running.
    func cancel(_ id: String, principal: Principal?, home: String) async throws -> Bool {
        let call = #"{"jsonrpc":"2.0","id":1,"method":"conversation.cancel","params":{"conversation_id":"\#(id)"}}"#
        let answer = try await rpc(call, principal: principal, home: home)
        if let error = answer["error"] {
            if case .integer(JSONRPCDispatcher.ErrorCode.unknownConversation)? = error["code"] { throw ConversationError.notFound(id) }
            throw GatewayError(status: .badGateway, code: "replica_error", message: error["message"]?.stringValue ?? "The home replica refused the cancel.")
        }
        guard case .bool(let cancelled)? = answer["result"]?["cancelled"] else { return false }
        return cancelled
    }

    /// Answers approval `id` on `home`, where the turn that asked waits for it.
    func answer(_ id: String, decision: ApprovalDecision, principal: Principal?, home: String) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let body = ByteBuffer(string: #"{"decision":"\#(decision.rawValue)"}"#)
        let response = try await client.send(
            .POST, "/approvals/\(id)", headers: headers, body: body, assertions: assertions(principal), to: home, requestID: nil, logger: logger)
        let envelope = try await Self.json(response)
        switch response.status.code {
        case 200: return
        case 404: throw ApprovalCenter.AnswerError.unknown
        case 409: throw ApprovalCenter.AnswerError.alreadyAnswered(.decline)
        default: throw Self.gatewayError(response, envelope)
        }
    }

    /// Whether `principal` may see conversation `id` on `home`.
    func isVisible(_ id: String, principal: Principal?, home: String) async throws -> Bool {
        let response = try await client.send(.GET, "/conversations/\(id)", assertions: assertions(principal), to: home, requestID: nil, logger: logger)
        let envelope = try await Self.json(response)
        switch response.status.code {
        case 200: return true
        case 404: return false
        default: throw Self.gatewayError(response, envelope)
        }
    }

    private func rpc(_ call: String, principal: Principal?, home: String) async throws -> JSONValue {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let response = try await client.send(
            .POST, "/jsonrpc", headers: headers, body: ByteBuffer(string: call), assertions: assertions(principal), to: home, requestID: nil, logger: logger)
        let answer = try await Self.json(response)
        guard response.status == .ok else { throw Self.gatewayError(response, answer) }
        return answer
    }

    private func assertions(_ principal: Principal?) -> ReplicaSignature.Assertions {
        ReplicaSignature.Assertions(principal: principal.map { AssertedPrincipal($0).headerValue })
    }

    /// The home's answer as JSON (`{}` when it is not).
    private static func json(_ response: HTTPClientResponse) async throws -> JSONValue {
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (try? JSONDecoder().decode(JSONValue.self, from: bytes)) ?? .object([:])
    }

    /// The home's refusal of a turn, as the error a local refusal would have been.
    static func refusal(_ response: HTTPClientResponse, conversationID: String) async throws -> any Error {
        let envelope = try await json(response)
        let message = envelope["error"]?.stringValue ?? "The home replica refused the turn (HTTP \(response.status.code))."
        switch envelope["code"]?.stringValue {
        case "conversation_not_found": return ConversationError.notFound(conversationID)
        case "conversation_busy": return ConversationError.busy(conversationID)
        case "model_not_configured": return ConversationError.modelNotConfigured(variable: "", message: message)
        case "invalid_request": return ConversationError.invalidPrompt(message)
        case "too_many_turns":
            let limit = message.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.last ?? 1
            return message.contains("MAX_CONCURRENT_TURNS") ? ConversationError.gatewayBusy(limit: limit) : ConversationError.tooManyTurns(limit: limit)
        case "budget_exceeded":
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init) ?? 60
            return ConversationError.usage(.budgetExceeded(message: message, retryAfter: retryAfter))
        default: return gatewayError(response, envelope)
        }
    }

    /// Any other answer of the home, passed on with its status, code and message.
    static func gatewayError(_ response: HTTPClientResponse, _ envelope: JSONValue) -> GatewayError {
        var headers = HTTPFields()
        if let retryAfter = response.headers.first(name: "Retry-After") { headers[.retryAfter] = retryAfter }
        return GatewayError(
            status: .init(code: Int(response.status.code)), code: envelope["code"]?.stringValue ?? "replica_error",
            message: envelope["error"]?.stringValue ?? "The home replica answered HTTP \(response.status.code).", headers: headers)
    }
}

extension ApprovalCenter {
    /// Answers approval `id` where it waits: here, or on the replica whose turn asked it (a
    /// conversation homed there, continued over a WebSocket or an MCP session here). Throws as
    /// ``answer(_:decision:owner:)`` does.
    func answer(_ id: String, decision: ApprovalDecision, for principal: Principal?, elsewhere remote: RemoteConversations?) async throws {
        do {
            try answer(id, decision: decision, owner: principal?.owner)
        } catch AnswerError.unknown {
            guard let remote, let home = try await remote.home(of: id) else { throw AnswerError.unknown }
            try await remote.answer(id, decision: decision, principal: principal, home: home)
        }
    }
}
