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
///
/// Its JSON is the WebSocket ticket's (``StoredPrincipal``): one snapshot of a principal for both.
struct AssertedPrincipal: Sendable {
    let principal: Principal

    init(_ principal: Principal) {
        self.principal = principal
    }

    /// The header's value: base64url (no padding) of the JSON, so it fits a header line.
    var headerValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return SecretToken.base64URL((try? encoder.encode(StoredPrincipal(principal))) ?? Data())
    }

    /// The principal a header value names; nil when it is not one ``headerValue`` made.
    static func principal(headerValue: String) -> Principal? {
        var base64 = headerValue.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let stored = try? JSONDecoder().decode(StoredPrincipal.self, from: data) else { return nil }
        return stored.principal
    }
}
