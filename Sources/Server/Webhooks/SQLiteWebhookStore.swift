import Foundation
import ModelProvider
import SQLiteNIO

/// Webhook deliveries in the SQLite database (one process). Claims and leases are single
/// `UPDATE … RETURNING` statements, atomic in SQLite; at startup every running turn is run again
/// (``requeueInterrupted()``), since no other process can be running it.
public struct SQLiteWebhookStore: WebhookStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    public func insertIfAbsent(_ record: WebhookDeliveryRecord) async throws -> (record: WebhookDeliveryRecord, isNew: Bool) {
        let inserted = try await database.query(
            """
            INSERT INTO webhook_deliveries (id, delivery_id, owner, event, payload, status, principal, received_at, updated_at, conversation_id,
                callback_url, callback_status, callback_attempts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
            ON CONFLICT(owner, delivery_id) DO NOTHING
            RETURNING id
            """,
            [
                .text(record.id), .text(record.deliveryID), .text(record.owner), .text(record.event), .text(record.payload),
                .text(record.status.rawValue), .text(record.principal),
                .float(record.receivedAt.timeIntervalSince1970), .float(record.updatedAt.timeIntervalSince1970),
                .optionalText(record.conversationID), .optionalText(record.callbackURL), .optionalText(record.callbackStatus?.rawValue),
            ]
        )
        if !inserted.isEmpty { return (record, true) }
        guard let existing = try await delivery(record.deliveryID, owner: record.owner) else { return (record, true) }
        return (existing, false)
    }

    public func delivery(_ deliveryID: String, owner: String) async throws -> WebhookDeliveryRecord? {
        try await database.query("SELECT * FROM webhook_deliveries WHERE owner = ? AND delivery_id = ?", [.text(owner), .text(deliveryID)])
            .first.map(Self.record)
    }

    /// `home` is ignored: with SQLite there is one gateway, so every conversation lives here.
    public func claimNext(holder: String, lease: Duration, home: String?) async throws -> WebhookDeliveryRecord? {
        let now = Date().epoch
        return try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'running', updated_at = ?, lease_owner = ?, lease_until = ?
            WHERE id = (SELECT id FROM webhook_deliveries
                WHERE status = 'pending' OR (status = 'running' AND lease_until IS NOT NULL AND lease_until < ?)
                ORDER BY received_at LIMIT 1)
            RETURNING *
            """,
            [.float(now), .text(holder), .float(now + lease.seconds), .float(now)]
        ).first.map(Self.record)
    }

    public func renewLease(_ id: String, holder: String, lease: Duration) async throws -> Bool {
        !(try await database.query(
            "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ? AND status = 'running' AND lease_owner = ? RETURNING id",
            [.float(Date().epoch + lease.seconds), .text(id), .text(holder)]
        )).isEmpty
    }

    public func releaseLeases(holder: String) async throws -> Int {
        try await database.query(
            "UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE status = 'running' AND lease_owner = ? RETURNING id",
            [.float(Date().epoch), .text(holder)]
        ).count
    }

    public func requeueInterrupted() async throws -> Int {
        try await database.query(
            "UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE status = 'running' RETURNING id",
            [.float(Date().timeIntervalSince1970)]
        ).count
    }

    public func complete(_ id: String, holder: String, conversationID: String, result: String, usage: TokenUsage) async throws -> Bool {
        let now = Date().epoch
        return !(try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'completed', conversation_id = ?, result = ?, usage = ?, error = NULL, updated_at = ?,
                callback_next_attempt_at = CASE WHEN callback_url IS NULL THEN NULL ELSE ? END, lease_owner = NULL, lease_until = NULL
            WHERE id = ? AND status = 'running' AND lease_owner = ? RETURNING id
            """,
            [.text(conversationID), .text(result), .text(WebhookDeliveryRecord.usageJSON(usage)), .float(now), .float(now), .text(id), .text(holder)]
        )).isEmpty
    }

    public func fail(_ id: String, holder: String?, conversationID: String?, error: String) async throws -> Bool {
        let now = Date().epoch
        return !(try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'failed', conversation_id = COALESCE(?, conversation_id), error = ?, updated_at = ?,
                callback_next_attempt_at = CASE WHEN callback_url IS NULL THEN NULL ELSE ? END, lease_owner = NULL, lease_until = NULL
            WHERE id = ? AND (? IS NULL OR (status = 'running' AND lease_owner = ?)) RETURNING id
            """,
            [.optionalText(conversationID), .text(error), .float(now), .float(now), .text(id), .optionalText(holder), .optionalText(holder)]
        )).isEmpty
    }

    public func dueCallbacks(now: Date = Date()) async throws -> (due: [WebhookDeliveryRecord], next: Date?) {
        let rows = try await database.query(
            """
            SELECT * FROM webhook_deliveries
            WHERE callback_status = 'pending' AND status IN ('completed', 'failed') AND callback_next_attempt_at IS NOT NULL
            ORDER BY callback_next_attempt_at
            """
        )
        let records = rows.map(Self.record)
        let due = records.filter { ($0.callbackNextAttemptAt ?? .distantFuture) <= now }
        let next = records.compactMap(\.callbackNextAttemptAt).filter { $0 > now }.min()
        return (due, next)
    }

    public func claimCallback(_ id: String, attempts: Int, holder: String, lease: Duration) async throws -> Bool {
        let now = Date().epoch
        return !(try await database.query(
            """
            UPDATE webhook_deliveries SET callback_lease_owner = ?, callback_lease_until = ?
            WHERE id = ? AND callback_status = 'pending' AND callback_attempts = ?
                AND (callback_lease_until IS NULL OR callback_lease_until < ? OR callback_lease_owner = ?)
            RETURNING id
            """,
            [.text(holder), .float(now + lease.seconds), .text(id), .integer(attempts), .float(now), .text(holder)]
        )).isEmpty
    }

    public func recordCallbackAttempt(_ id: String, delivered: Bool, error: String?, nextAttemptAt: Date?) async throws {
        let status: WebhookDeliveryRecord.CallbackStatus = delivered ? .delivered : (nextAttemptAt == nil ? .failed : .pending)
        try await database.query(
            """
            UPDATE webhook_deliveries SET callback_status = ?, callback_attempts = callback_attempts + 1, callback_last_error = ?,
                callback_next_attempt_at = ?, updated_at = ?, callback_lease_owner = NULL, callback_lease_until = NULL
            WHERE id = ?
            """,
            [
                .text(status.rawValue), .optionalText(error), nextAttemptAt.map { .float($0.timeIntervalSince1970) } ?? .null,
                .float(Date().timeIntervalSince1970), .text(id),
            ]
        )
    }

    static func record(_ row: SQLiteRow) -> WebhookDeliveryRecord {
        WebhookDeliveryRecord(columns: WebhookDeliveryRecord.Columns(string: row.string, int: row.int, double: row.double))
    }
}
