import Foundation
import SQLiteNIO

/// Conversation homes in the SQLite database (one process: every home is this one; kept so the
/// two backends answer alike).
public struct SQLiteConversationHomeStore: ConversationHomeStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    public func recordHome(_ conversationID: String, replicaURL: String) async throws {
        try await database.query(
            """
            INSERT INTO conversation_homes (conversation_id, replica_url, updated_at) VALUES (?, ?, ?)
            ON CONFLICT(conversation_id) DO UPDATE SET replica_url = excluded.replica_url, updated_at = excluded.updated_at
            """,
            [.text(conversationID), .text(replicaURL), .float(Date().epoch)])
    }

    public func home(of conversationID: String) async throws -> String? {
        try await database.query("SELECT replica_url FROM conversation_homes WHERE conversation_id = ?", [.text(conversationID)])
            .first?.string("replica_url")
    }

    public func replicas() async throws -> [String] {
        try await database.query("SELECT DISTINCT replica_url FROM conversation_homes", []).compactMap { $0.string("replica_url") }
    }
}
