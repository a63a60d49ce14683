import Foundation
import PostgresNIO

/// `/ws` tickets in PostgreSQL (``WebSocketTicketStore``): issued at one replica, redeemed at any.
/// Held as SHA-256 digests; redeemed with one `DELETE … RETURNING`, so a ticket opens one
/// connection however many replicas see it.
public struct PostgresWebSocketTicketStore: WebSocketTicketStore {
    let database: PostgresGatewayDatabase
    let lifetime: Duration

    public init(database: PostgresGatewayDatabase, lifetime: Duration = MemoryWebSocketTicketStore.defaultLifetime) {
        self.database = database
        self.lifetime = lifetime
    }

    public var lifetimeSeconds: Int { Int(lifetime.components.seconds) }

    public func issue(for principal: Principal) async throws -> String {
        let ticket = SecretToken.generate(prefix: "cgwt_")
        let now = Date().epoch
        let stored = String(decoding: try JSONEncoder().encode(StoredPrincipal(principal)), as: UTF8.self)
        try await database.query("DELETE FROM websocket_tickets WHERE expires_at < \(now)")
        try await database.query(
            "INSERT INTO websocket_tickets (ticket_hash, principal, expires_at) VALUES (\(SecretToken.hash(ticket)), \(stored), \(now + lifetime.seconds))")
        return ticket
    }

    public func redeem(_ ticket: String) async throws -> Principal? {
        let rows = try await database.query(
            "DELETE FROM websocket_tickets WHERE ticket_hash = \(SecretToken.hash(ticket)) RETURNING principal, expires_at")
        guard let row = rows.first?.makeRandomAccess(), let expires = row.double("expires_at"), expires > Date().epoch,
            let text = row.string("principal"), let stored = try? JSONDecoder().decode(StoredPrincipal.self, from: Data(text.utf8))
        else { return nil }
        return stored.principal
    }
}
