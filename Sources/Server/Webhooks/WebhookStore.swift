import Foundation
import ModelProvider
import SQLiteNIO

/// A webhook delivery as stored.
public struct WebhookDeliveryRecord: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// An event with nothing to run; acknowledged and kept.
        case stored
        case pending
        case running
        case completed
        case failed
    }

    public enum CallbackStatus: String, Sendable {
        case pending, delivered, failed
    }

    /// The row's own key (for deliveries stored before owners were kept, the delivery ID).
    public var id: String
    /// The ID the sender gave (`X-Webhook-Id`, `X-GitHub-Delivery`) or one made up for it;
    /// unique per owner only.
    public var deliveryID: String
    public var event: String
    /// The body exactly as received.
    public var payload: String
    public var status: Status
    /// The sender's ``Principal/id``: its turn counts against that principal's turn cap.
    public var principal: String
    /// The sender's ``Principal/owner``: only it can read the delivery, and the turn's
    /// conversation is its.
    public var owner: String
    public var receivedAt: Date
    public var updatedAt: Date
    public var conversationID: String?
    public var result: String?
    public var usage: TokenUsage?
    public var error: String?
    public var callbackURL: String?
    public var callbackStatus: CallbackStatus?
    public var callbackAttempts: Int
    public var callbackLastError: String?
    public var callbackNextAttemptAt: Date?
}

extension WebhookDeliveryRecord {
    /// The principal the delivery's turn runs as: its sender's rate-limit identity (so the turn
    /// counts against the sender's turn cap; the cap is the one its latest request was given) and
    /// owner (so the conversation is the sender's).
    public var sender: Principal {
        Principal(kind: principal.hasPrefix("oauth:") ? .oauth : .apiKey, id: principal, owner: owner)
    }
}

/// Webhook deliveries in the gateway database. A delivery belongs to the owner that sent it:
/// delivery IDs are unique per owner, so two keys may use the same ID independently.
public struct WebhookStore: Sendable {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    /// Stores a new delivery, or returns the one its owner already stored under that delivery ID
    /// (idempotency). The row is on disk when this returns.
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

    /// `owner`'s delivery with this delivery ID; nil when there is none (or it is another owner's).
    public func delivery(_ deliveryID: String, owner: String) async throws -> WebhookDeliveryRecord? {
        try await database.query("SELECT * FROM webhook_deliveries WHERE owner = ? AND delivery_id = ?", [.text(owner), .text(deliveryID)])
            .first.map(Self.record)
    }

    /// Claims a pending delivery for processing; nil if someone else has it.
    public func claim(_ id: String) async throws -> WebhookDeliveryRecord? {
        try await database.query(
            "UPDATE webhook_deliveries SET status = 'running', updated_at = ? WHERE id = ? AND status = 'pending' RETURNING *",
            [.float(Date().timeIntervalSince1970), .text(id)]
        ).first.map(Self.record)
    }

    /// Deliveries that still need a turn run.
    public func pendingIDs() async throws -> [String] {
        try await database.query("SELECT id FROM webhook_deliveries WHERE status = 'pending' ORDER BY received_at").compactMap { $0.string("id") }
    }

    /// After a crash or shutdown, turns that were running are run again.
    public func requeueInterrupted() async throws -> Int {
        try await database.query(
            "UPDATE webhook_deliveries SET status = 'pending', updated_at = ? WHERE status = 'running' RETURNING id",
            [.float(Date().timeIntervalSince1970)]
        ).count
    }

    public func complete(_ id: String, conversationID: String, result: String, usage: TokenUsage) async throws {
        let usageJSON = "{\"input_tokens\":\(usage.inputTokens),\"cached_input_tokens\":\(usage.cachedInputTokens),\"output_tokens\":\(usage.outputTokens)}"
        try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'completed', conversation_id = ?, result = ?, usage = ?, error = NULL, updated_at = ?,
                callback_next_attempt_at = CASE WHEN callback_url IS NULL THEN NULL ELSE ? END
            WHERE id = ?
            """,
            [.text(conversationID), .text(result), .text(usageJSON), .float(Date().timeIntervalSince1970), .float(Date().timeIntervalSince1970), .text(id)]
        )
    }

    public func fail(_ id: String, conversationID: String?, error: String) async throws {
        try await database.query(
            """
            UPDATE webhook_deliveries SET status = 'failed', conversation_id = COALESCE(?, conversation_id), error = ?, updated_at = ?,
                callback_next_attempt_at = CASE WHEN callback_url IS NULL THEN NULL ELSE ? END
            WHERE id = ?
            """,
            [.optionalText(conversationID), .text(error), .float(Date().timeIntervalSince1970), .float(Date().timeIntervalSince1970), .text(id)]
        )
    }

    /// Finished deliveries whose callback is still owed, due now or earlier; and the next due time.
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

    public func recordCallbackAttempt(_ id: String, delivered: Bool, error: String?, nextAttemptAt: Date?) async throws {
        let status: WebhookDeliveryRecord.CallbackStatus = delivered ? .delivered : (nextAttemptAt == nil ? .failed : .pending)
        try await database.query(
            """
            UPDATE webhook_deliveries SET callback_status = ?, callback_attempts = callback_attempts + 1, callback_last_error = ?,
                callback_next_attempt_at = ?, updated_at = ?
            WHERE id = ?
            """,
            [
                .text(status.rawValue), .optionalText(error), nextAttemptAt.map { .float($0.timeIntervalSince1970) } ?? .null,
                .float(Date().timeIntervalSince1970), .text(id),
            ]
        )
    }

    static func record(_ row: SQLiteRow) -> WebhookDeliveryRecord {
        var usage: TokenUsage?
        if let text = row.string("usage"), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Int] {
            usage = TokenUsage(
                inputTokens: object["input_tokens"] ?? 0,
                cachedInputTokens: object["cached_input_tokens"] ?? 0,
                outputTokens: object["output_tokens"] ?? 0
            )
        }
        let id = row.string("id") ?? ""
        return WebhookDeliveryRecord(
            id: id,
            deliveryID: row.string("delivery_id") ?? id,
            event: row.string("event") ?? "",
            payload: row.string("payload") ?? "",
            status: row.string("status").flatMap(WebhookDeliveryRecord.Status.init) ?? .failed,
            principal: row.string("principal") ?? "",
            owner: row.string("owner") ?? "",
            receivedAt: Date(timeIntervalSince1970: row.double("received_at") ?? 0),
            updatedAt: Date(timeIntervalSince1970: row.double("updated_at") ?? 0),
            conversationID: row.string("conversation_id"),
            result: row.string("result"),
            usage: usage,
            error: row.string("error"),
            callbackURL: row.string("callback_url"),
            callbackStatus: row.string("callback_status").flatMap(WebhookDeliveryRecord.CallbackStatus.init),
            callbackAttempts: row.int("callback_attempts") ?? 0,
            callbackLastError: row.string("callback_last_error"),
            callbackNextAttemptAt: row.double("callback_next_attempt_at").map { Date(timeIntervalSince1970: $0) }
        )
    }
}
