import Foundation

/// Where each conversation lives: the replica (`REPLICA_URL`) that runs its Codex process and
/// holds its workspace (PROTOCOLS.md §12). Recorded when a conversation starts; a replica that
/// receives a request for a conversation homed elsewhere looks it up to forward it there.
public protocol ConversationHomeStore: Sendable {
    /// Records (or moves) `conversationID`'s home.
    func recordHome(_ conversationID: String, replicaURL: String) async throws
    /// The replica URL of `conversationID`'s home; nil when none was recorded.
    func home(of conversationID: String) async throws -> String?
    /// Every replica URL a home was recorded for: the replicas a list of conversations asks.
    func replicas() async throws -> [String]
}
