import Foundation

/// Short-lived, single-use tickets for opening `/ws` from a browser (PROTOCOLS.md §0).
///
/// In memory for one process (``MemoryWebSocketTicketStore``); in PostgreSQL with several
/// replicas (``PostgresWebSocketTicketStore``), since the ticket may be issued by one replica and
/// redeemed at another behind the load balancer.
public protocol WebSocketTicketStore: Sendable {
    /// ``lifetime`` in whole seconds, as `expires_in` reports it.
    var lifetimeSeconds: Int { get }
    /// Issues a ticket for `principal`. The plain ticket is returned once and never stored.
    func issue(for principal: Principal) async throws -> String
    /// The principal `ticket` was issued to, consuming it; nil when it is unknown, used or expired.
    func redeem(_ ticket: String) async throws -> Principal?
}

/// A ``Principal`` as a ticket stores it (JSON), everything a connection needs to act as it; also
/// what one replica asserts to another (``AssertedPrincipal``).
struct StoredPrincipal: Codable {
    var kind: String
    var id: String
    var owner: String
    var scopes: [String]
    var perMinute: Int?, perHour: Int?, perDay: Int?, concurrentTurns: Int?
    /// `configured`, `stored:<key id>`, `token:<hash>` or `engine:<thread id>`.
    var credential: String
    var audience: String?

    init(_ principal: Principal) {
        kind = principal.kind.rawValue
        id = principal.id
        owner = principal.owner
        scopes = principal.scopes
        perMinute = principal.limitOverrides.perMinute
        perHour = principal.limitOverrides.perHour
        perDay = principal.limitOverrides.perDay
        concurrentTurns = principal.limitOverrides.concurrentTurns
        audience = principal.audience
        switch principal.credential {
        case .configuredKey: credential = "configured"
        case .storedKey(let id): credential = "stored:" + id
        case .accessToken(let hash): credential = "token:" + hash
        case .engine(let threadID): credential = "engine:" + threadID
        }
    }

    var principal: Principal? {
        guard let kind = Principal.Kind(rawValue: kind) else { return nil }
        let credential: Principal.Credential
        if self.credential == "configured" {
            credential = .configuredKey
        } else if self.credential.hasPrefix("stored:") {
            credential = .storedKey(id: String(self.credential.dropFirst(7)))
        } else if self.credential.hasPrefix("token:") {
            credential = .accessToken(hash: String(self.credential.dropFirst(6)))
        } else if self.credential.hasPrefix("engine:") {
            credential = .engine(threadID: String(self.credential.dropFirst(7)))
        } else {
            return nil
        }
        return Principal(
            kind: kind, id: id, owner: owner, scopes: scopes,
            limitOverrides: RateLimitOverrides(perMinute: perMinute, perHour: perHour, perDay: perDay, concurrentTurns: concurrentTurns),
            credential: credential, audience: audience)
    }
}
