import Foundation
import SQLiteNIO

/// Body-only webhook signatures in the SQLite database (``WebhookSignatureStore``).
public struct SQLiteWebhookSignatureStore: WebhookSignatureStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    public func claim(_ signature: String, principal: String, deliveryID: String) async throws -> Bool {
        let inserted = try await database.query(
            """
            INSERT INTO webhook_signatures (signature, principal, delivery_id, seen_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(signature) DO NOTHING
            RETURNING signature
            """,
            [.text(signature), .text(principal), .text(deliveryID), .float(Date().timeIntervalSince1970)]
        )
        if !inserted.isEmpty { return true }
        let first = try await database.query("SELECT principal, delivery_id FROM webhook_signatures WHERE signature = ?", [.text(signature)]).first
        return first?.string("principal") == principal && first?.string("delivery_id") == deliveryID
    }
}
