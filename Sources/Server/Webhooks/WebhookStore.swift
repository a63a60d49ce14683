import Foundation
import ModelProvider

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


extension WebhookDeliveryRecord {
    /// A stored row's columns, whichever backend read it.
    struct Columns {
        var string: (String) -> String?
        var int: (String) -> Int?
        var double: (String) -> Double?
    }

    init(columns row: Columns) {
        var usage: TokenUsage?
        if let text = row.string("usage"), let object = try? JSONDecoder().decode([String: Int].self, from: Data(text.utf8)) {
            usage = TokenUsage(
                inputTokens: object["input_tokens"] ?? 0,
                cachedInputTokens: object["cached_input_tokens"] ?? 0,
                outputTokens: object["output_tokens"] ?? 0
            )
        }
        let id = row.string("id") ?? ""
        self = WebhookDeliveryRecord(
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

/// Webhook deliveries. A delivery belongs to the owner that sent it (delivery IDs are unique per
/// owner). A turn is run by whoever claims the delivery, under a lease it renews while the turn
/// runs: across replicas on one database a delivery runs once, and one whose holder died is taken
/// over when its lease runs out. SQLite (``SQLiteWebhookStore``) or PostgreSQL (``PostgresWebhookStore``).
public protocol WebhookStore: Sendable {
    /// Stores a new delivery, or returns the one its owner already stored under that delivery ID
    /// (idempotency). The row is durable when this returns.
    func insertIfAbsent(_ record: WebhookDeliveryRecord) async throws -> (record: WebhookDeliveryRecord, isNew: Bool)
    /// `owner`'s delivery with this delivery ID; nil when there is none (or it is another owner's).
    func delivery(_ deliveryID: String, owner: String) async throws -> WebhookDeliveryRecord?
    /// Claims the oldest delivery that needs its turn run (pending, or running under a lease that
    /// ran out) for `holder` until `lease` from now; nil when there is none. With `home` (this
    /// replica's `REPLICA_URL`), a delivery that continues a conversation living on another replica
    /// is left for that replica, where its thread and workspace are.
    func claimNext(holder: String, lease: Duration, home: String?) async throws -> WebhookDeliveryRecord?
    /// Extends `holder`'s lease on a running delivery; false when it is no longer `holder`'s.
    func renewLease(_ id: String, holder: String, lease: Duration) async throws -> Bool
    /// Gives back the deliveries `holder` runs (shutting down): pending again, for anyone.
    func releaseLeases(holder: String) async throws -> Int
    /// After a crash of the only process (SQLite), every running turn is run again.
    func requeueInterrupted() async throws -> Int
    /// Records the outcome, if `holder` still holds the delivery; false when another took it over.
    func complete(_ id: String, holder: String, conversationID: String, result: String, usage: TokenUsage) async throws -> Bool
    func fail(_ id: String, holder: String?, conversationID: String?, error: String) async throws -> Bool
    /// Finished deliveries whose callback is still owed, due now or earlier; and the next due time.
    func dueCallbacks(now: Date) async throws -> (due: [WebhookDeliveryRecord], next: Date?)
    /// Takes the callback attempt after `attempts` for `holder` (once across replicas); false when
    /// another has it or made it.
    func claimCallback(_ id: String, attempts: Int, holder: String, lease: Duration) async throws -> Bool
    func recordCallbackAttempt(_ id: String, delivered: Bool, error: String?, nextAttemptAt: Date?) async throws
}

extension WebhookDeliveryRecord {
    /// `usage` as stored: a small JSON object.
    static func usageJSON(_ usage: TokenUsage) -> String {
        "{\"input_tokens\":\(usage.inputTokens),\"cached_input_tokens\":\(usage.cachedInputTokens),\"output_tokens\":\(usage.outputTokens)}"
    }
}

extension WebhookStore {
    /// ``claimNext(holder:lease:home:)`` for a single gateway (every conversation lives here).
    public func claimNext(holder: String, lease: Duration) async throws -> WebhookDeliveryRecord? {
        try await claimNext(holder: holder, lease: lease, home: nil)
    }
}
