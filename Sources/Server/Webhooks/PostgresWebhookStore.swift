import Foundation
import ModelProvider
import PostgresNIO

/// Webhook deliveries in PostgreSQL, shared by every replica.
///
/// A replica claims the oldest delivery that needs a turn with `FOR UPDATE SKIP LOCKED` (two
/// replicas claiming at once get different rows, neither waits on the other) and holds it under
/// a lease (`WEBHOOK_LEASE_SECONDS`) that it renews while the turn runs. A replica that dies stops
/// renewing; once its lease runs out the delivery is claimed again by another. The outcome is
/// recorded only by the lease's holder, so a delivery is finished once.
public struct PostgresWebhookStore: WebhookStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func insertIfAbsent(_ record: WebhookDeliveryRecord) async throws -> (record: WebhookDeliveryRecord, isNew: Bool) {
        let inserted = try await database.query(
            """
            INSERT INTO webhook_deliveries (id, delivery_id, owner, event, payload, status, principal, received_at, updated_at, conversation_id,
                callback_url, callback_status, callback_attempts)
            VALUES (\(record.id), \(record.deliveryID), \(record.owner), \(record.event), \(record.payload), \(record.status.rawValue),
                \(record.principal), \(record.receivedAt.epoch), \(record.updatedAt.epoch), \(record.conversationID),
                \(record.callbackURL), \(record.callbackStatus?.rawValue), 0)
            ON CONFLICT (owner, delivery_id) DO NOTHING
            RETURNING id
            """)
        if !inserted.isEmpty { return (record, true) }
        guard let existing = try await delivery(record.deliveryID, owner: record.owner) else { return (record, true) }
        return (existing, false)
    }

    public func delivery(_ deliveryID: String, owner: String) async throws -> WebhookDeliveryRecord? {
        try await database.query("SELECT * FROM webhook_deliveries WHERE owner = \(owner) AND delivery_id = \(deliveryID)").first.map(Self.record)
    }

    public func claimNext(holder: String, lease: Duration, home: String?) async throws -> WebhookDeliveryRecord? {
        let now = Date().epoch
        let until = now + lease.seconds
        // Without a home every delivery may be claimed here ('' is no replica's URL).
        let here = home ?? ""
        return try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'running', updated_at = \(now), lease_owner = \(holder), lease_until = \(until)
            WHERE id = (SELECT d.id FROM webhook_deliveries d
                WHERE (d.status = 'pending' OR (d.status = 'running' AND (d.lease_until IS NULL OR d.lease_until < \(now))))
                    AND (\(here) = '' OR d.conversation_id IS NULL OR NOT EXISTS (
                        SELECT 1 FROM conversation_homes h WHERE h.conversation_id = lower(d.conversation_id) AND h.replica_url <> \(here)))
                ORDER BY d.received_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED)
            RETURNING *
            """
        ).first.map(Self.record)
    }

    public func renewLease(_ id: String, holder: String, lease: Duration) async throws -> Bool {
        let until = Date().epoch + lease.seconds
        return !(try await database.query(
            "UPDATE webhook_deliveries SET lease_until = \(until) WHERE id = \(id) AND status = 'running' AND lease_owner = \(holder) RETURNING id"
        )).isEmpty
    }

    public func releaseLeases(holder: String) async throws -> Int {
        try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL, updated_at = \(Date().epoch)
            WHERE status = 'running' AND lease_owner = \(holder) RETURNING id
            """
        ).count
    }

    /// Nothing to do: with several replicas a running delivery may be another's; one whose
    /// holder died is claimed again when its lease runs out.
    public func requeueInterrupted() async throws -> Int { 0 }

    public func complete(_ id: String, holder: String, conversationID: String, result: String, usage: TokenUsage) async throws -> Bool {
        let now = Date().epoch
        return !(try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'completed', conversation_id = \(conversationID), result = \(result),
                usage = \(WebhookDeliveryRecord.usageJSON(usage)), error = NULL, updated_at = \(now),
                callback_next_attempt_at = CASE WHEN callback_url IS NULL THEN NULL ELSE \(now) END, lease_owner = NULL, lease_until = NULL
            WHERE id = \(id) AND status = 'running' AND lease_owner = \(holder) RETURNING id
            """
        )).isEmpty
    }

    public func fail(_ id: String, holder: String?, conversationID: String?, error: String) async throws -> Bool {
        let now = Date().epoch
        return !(try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'failed', conversation_id = COALESCE(\(conversationID), conversation_id), error = \(error),
                updated_at = \(now), callback_next_attempt_at = CASE WHEN callback_url IS NULL THEN NULL ELSE \(now) END,
                lease_owner = NULL, lease_until = NULL
            WHERE id = \(id) AND (\(holder)::TEXT IS NULL OR (status = 'running' AND lease_owner = \(holder))) RETURNING id
            """
        )).isEmpty
    }

    public func dueCallbacks(now: Date = Date()) async throws -> (due: [WebhookDeliveryRecord], next: Date?) {
        let records = try await database.query(
            """
            SELECT * FROM webhook_deliveries
            WHERE callback_status = 'pending' AND status IN ('completed', 'failed') AND callback_next_attempt_at IS NOT NULL
            ORDER BY callback_next_attempt_at LIMIT 500
            """
        ).map(Self.record)
        let due = records.filter { ($0.callbackNextAttemptAt ?? .distantFuture) <= now }
        let next = records.compactMap(\.callbackNextAttemptAt).filter { $0 > now }.min()
        return (due, next)
    }

    public func claimCallback(_ id: String, attempts: Int, holder: String, lease: Duration) async throws -> Bool {
        let now = Date().epoch
        let until = now + lease.seconds
        return !(try await database.query(
            """
            UPDATE webhook_deliveries SET callback_lease_owner = \(holder), callback_lease_until = \(until)
            WHERE id = \(id) AND callback_status = 'pending' AND callback_attempts = \(attempts)
                AND (callback_lease_until IS NULL OR callback_lease_until < \(now) OR callback_lease_owner = \(holder))
            RETURNING id
            """
        )).isEmpty
    }

    public func recordCallbackAttempt(_ id: String, delivered: Bool, error: String?, nextAttemptAt: Date?) async throws {
        let status: WebhookDeliveryRecord.CallbackStatus = delivered ? .delivered : (nextAttemptAt == nil ? .failed : .pending)
        try await database.query(
            """
            UPDATE webhook_deliveries SET callback_status = \(status.rawValue), callback_attempts = callback_attempts + 1,
                callback_last_error = \(error), callback_next_attempt_at = \(nextAttemptAt?.epoch), updated_at = \(Date().epoch),
                callback_lease_owner = NULL, callback_lease_until = NULL
            WHERE id = \(id)
            """)
    }

    static func record(_ row: PostgresRow) -> WebhookDeliveryRecord {
        let row = row.makeRandomAccess()
        return WebhookDeliveryRecord(columns: WebhookDeliveryRecord.Columns(string: row.string, int: row.int, double: row.double))
    }
}
