import Foundation

/// A ``Principal`` as one replica asserts it to another in ``ReplicaSignature/principalHeader``
/// (base64url of this JSON), for a forwarded request that carries no credential of its own.
///
/// A WebSocket opened with a one-time ticket, or a turn run for an MCP session, has nothing the
/// home could authenticate again: the ticket is spent, and the forwarding replica already checked
/// the credential. So the forward says *who*, and the HMAC of the signature covers it; the home
/// believes it only when that signature verifies (``ReplicaOriginMiddleware``). Everything that
/// decides what the principal may do travels with it (owner, scopes, limits, audience), so the home
/// applies the same rules as the replica that authenticated it.
struct AssertedPrincipal: Codable, Sendable, Equatable {
    var kind: String
    var id: String
    var owner: String
    var scopes: [String]
    var perMinute: Int?
    var perHour: Int?
    var perDay: Int?
    var concurrentTurns: Int?
    /// `configured`, `key:<id>`, `token:<hash>` or `engine:<thread>`.
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
        switch principal.credential {
        case .configuredKey: credential = "configured"
        case .storedKey(let id): credential = "key:" + id
        case .accessToken(let hash): credential = "token:" + hash
        case .engine(let thread): credential = "engine:" + thread
        }
        audience = principal.audience
    }

    /// The principal it stands for; nil when a field is not one this version knows.
    var principal: Principal? {
        guard let kind = Principal.Kind(rawValue: kind) else { return nil }
        let parts = credential.split(separator: ":", maxSplits: 1).map(String.init)
        let credential: Principal.Credential
        switch (parts.first, parts.count) {
        case ("configured", 1): credential = .configuredKey
        case ("key", 2): credential = .storedKey(id: parts[1])
        case ("token", 2): credential = .accessToken(hash: parts[1])
        case ("engine", 2): credential = .engine(threadID: parts[1])
        default: return nil
        }
        return Principal(
            kind: kind, id: id, owner: owner, scopes: scopes,
            limitOverrides: RateLimitOverrides(perMinute: perMinute, perHour: perHour, perDay: perDay, concurrentTurns: concurrentTurns),
            credential: credential, audience: audience
        )
    }

    /// The header's value: base64url (no padding) of the JSON, so it fits a header line.
    var headerValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return SecretToken.base64URL((try? encoder.encode(self)) ?? Data())
    }

    /// The principal a header value names; nil when it is not one ``headerValue`` made.
    static func principal(headerValue: String) -> Principal? {
        var base64 = headerValue.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let asserted = try? JSONDecoder().decode(Self.self, from: data) else { return nil }
        return asserted.principal
    }
}
