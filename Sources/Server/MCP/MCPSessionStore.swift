import Foundation
import GatewayRuntime
import Synchronization

/// One MCP session of the versions with a handshake: who opened it, what was negotiated, and the
/// tool calls and elicitations in flight on it (so `notifications/cancelled`, elicitation answers
/// and `DELETE /mcp` reach them).
final class MCPSession: Sendable {
    let id: String
    /// The principal that initialized it: the only one that may use it.
    let owner: String?
    let protocolVersion: String
    /// The client declared the elicitation capability: approvals are asked through it.
    let elicitation: Bool

    private struct State {
        var lastUsed: ContinuousClock.Instant
        var calls: [String: MCPToolCallHandle] = [:]
        /// Elicitation request id → the approval it asks.
        var elicitations: [String: String] = [:]
        var ended = false
    }

    private let state: Mutex<State>

    init(id: String, owner: String?, protocolVersion: String, elicitation: Bool, now: ContinuousClock.Instant) {
        self.id = id
        self.owner = owner
        self.protocolVersion = protocolVersion
        self.elicitation = elicitation
        self.state = Mutex(State(lastUsed: now))
    }

    func touch(_ now: ContinuousClock.Instant) { state.withLock { $0.lastUsed = now } }

    /// Idle: no call running and unused for longer than `timeout`.
    func isExpired(at now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        state.withLock { $0.ended || ($0.calls.isEmpty && now - $0.lastUsed > timeout) }
    }

    /// Tracks a running tool call under its request id; false when the id is already running.
    func register(_ call: MCPToolCallHandle, requestID: JSONValue) -> Bool {
        state.withLock { state in
            let key = Self.key(requestID)
            guard state.calls[key] == nil, !state.ended else { return false }
            state.calls[key] = call
            return true
        }
    }

    func finish(requestID: JSONValue, now: ContinuousClock.Instant) {
        state.withLock {
            $0.calls.removeValue(forKey: Self.key(requestID))
            $0.lastUsed = now
        }
    }

    func call(requestID: JSONValue) -> MCPToolCallHandle? {
        state.withLock { $0.calls[Self.key(requestID)] }
    }

    func expectElicitation(id: String, approvalID: String) {
        state.withLock { $0.elicitations[id] = approvalID }
    }

    /// The approval an elicitation answer is for, once.
    func takeElicitation(id: JSONValue) -> String? {
        guard case .string(let key) = id else { return nil }
        return state.withLock { $0.elicitations.removeValue(forKey: key) }
    }

    /// Ends the session: its running calls are cancelled.
    func end() -> [MCPToolCallHandle] {
        state.withLock { state in
            state.ended = true
            defer { state.calls = [:] }
            return Array(state.calls.values)
        }
    }

    private static func key(_ id: JSONValue) -> String {
        switch id {
        case .string(let value): "s:" + value
        case .integer(let value): "i:\(value)"
        default: "?"
        }
    }
}

/// The open MCP sessions, bounded: at most `maxSessions` (`MCP_MAX_SESSIONS`); one unused for
/// `idleTimeout` (`MCP_SESSION_IDLE_SECONDS`) with no call running is forgotten, and its id then
/// answers 404 as the spec asks of an expired session.
final class MCPSessionStore: Sendable {
    struct Limits: Sendable {
        var maxSessions = 1000
        var idleTimeout: Duration = .seconds(3600)
    }

    let limits: Limits
    private let sessions = Mutex<[String: MCPSession]>([:])
    private let clock: @Sendable () -> ContinuousClock.Instant

    init(limits: Limits = Limits(), clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limits = limits
        self.clock = clock
    }

    var count: Int { sessions.withLock { $0.count } }

    /// A new session, or nil when `maxSessions` live sessions are open.
    func create(owner: String?, protocolVersion: String, elicitation: Bool) -> MCPSession? {
        let now = clock()
        return sessions.withLock { sessions in
            if sessions.count >= limits.maxSessions {
                sessions = sessions.filter { !$0.value.isExpired(at: now, timeout: limits.idleTimeout) }
            }
            guard sessions.count < limits.maxSessions else { return nil }
            let id = "mcp_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let session = MCPSession(id: id, owner: owner, protocolVersion: protocolVersion, elicitation: elicitation, now: now)
            sessions[id] = session
            return session
        }
    }

    /// `owner`'s live session `id` (marked used), else nil: unknown, expired, ended or another's.
    func session(_ id: String, owner: String?) -> MCPSession? {
        let now = clock()
        return sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            if session.isExpired(at: now, timeout: limits.idleTimeout) {
                sessions.removeValue(forKey: id)
                return nil
            }
            guard session.owner == owner else { return nil }
            session.touch(now)
            return session
        }
    }

    /// Ends `owner`'s session `id`; nil when there is none.
    func end(_ id: String, owner: String?) -> [MCPToolCallHandle]? {
        guard let session = session(id, owner: owner) else { return nil }
        _ = sessions.withLock { $0.removeValue(forKey: id) }
        return session.end()
    }

    func now() -> ContinuousClock.Instant { clock() }
}
