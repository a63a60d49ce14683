/// Body-only webhook signatures (`X-Hub-Signature-256`) already accepted, and the delivery each
/// came with.
///
/// Such a signature covers the body alone, so it would verify under any delivery ID; remembering
/// it lets the same signed body through again only as the delivery it first came with. Kept in
/// the database (``SQLiteWebhookSignatureStore``, ``PostgresWebhookSignatureStore``) so that a
/// replay is refused at every replica.
public protocol WebhookSignatureStore: Sendable {
    /// Records `signature` for the delivery `deliveryID` of `principal`; true if it is new, or
    /// already that delivery's.
    func claim(_ signature: String, principal: String, deliveryID: String) async throws -> Bool
}
