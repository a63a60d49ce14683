import Foundation
import PostgresNIO
import SQLiteNIO

/// Where each conversation lives: the replica (`REPLICA_URL`) that runs its Codex process and
/// holds its workspace (PROTOCOLS.md §12). Recorded when a conversation starts; a replica that
/// receives a request for a conversation homed elsewhere looks it up to forward it there.
public protocol ConversationHomeStore: Sendable {
    /// Records (or moves) `conversationID`'s home.
    func recordHome(_ conversationID: String, replicaURL: String) async throws
    /// The replica URL of `conversationID`'s home; nil when none was recorded.
    func home(of conversationID: String) async throws -> String?
}

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
}

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
}
