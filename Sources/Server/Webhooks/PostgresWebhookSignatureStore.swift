import Foundation
import PostgresNIO

/// Body-only webhook signatures in PostgreSQL (``WebhookSignatureStore``): a replay is refused at
/// every replica.
public struct PostgresWebhookSignatureStore: WebhookSignatureStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func claim(_ signature: String, principal: String, deliveryID: String) async throws -> Bool {
        let inserted = try await database.query(
            """
            INSERT INTO webhook_signatures (signature, principal, delivery_id, seen_at) VALUES (\(signature), \(principal), \(deliveryID), \(Date().epoch))
            ON CONFLICT (signature) DO NOTHING RETURNING signature
            """)
        if !inserted.isEmpty { return true }
        guard let first = try await database.query("SELECT principal, delivery_id FROM webhook_signatures WHERE signature = \(signature)").first else {
            return false
        }
        let row = first.makeRandomAccess()
        return row.string("principal") == principal && row.string("delivery_id") == deliveryID
    }
}
