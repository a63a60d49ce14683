import Foundation
import PostgresNIO

/// Conversation homes in PostgreSQL, shared by every replica.
public struct PostgresConversationHomeStore: ConversationHomeStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func recordHome(_ conversationID: String, replicaURL: String) async throws {
        try await database.query(
            """
            INSERT INTO conversation_homes (conversation_id, replica_url, updated_at) VALUES (\(conversationID), \(replicaURL), \(Date().epoch))
            ON CONFLICT (conversation_id) DO UPDATE SET replica_url = excluded.replica_url, updated_at = excluded.updated_at
            """)
    }

    public func home(of conversationID: String) async throws -> String? {
        try await database.query("SELECT replica_url FROM conversation_homes WHERE conversation_id = \(conversationID)")
            .first?.makeRandomAccess().string("replica_url")
    }

    public func replicas() async throws -> [String] {
        try await database.query("SELECT DISTINCT replica_url FROM conversation_homes").compactMap { $0.makeRandomAccess().string("replica_url") }
    }
}
