import Foundation
import Logging

/// Which replica a conversation, and each approval it raises, lives on (PROTOCOLS.md §12).
///
/// A conversation's Codex thread and workspace stay on the replica that started it
/// (`REPLICA_URL`); its pending approvals wait there too. Both are recorded in the shared
/// ``ConversationHomeStore`` (approval ids, `apr_…`, never collide with conversation ids), so
/// any replica can find where to send a request for them.
public struct ReplicaPlacement: Sendable {
    let homes: any ConversationHomeStore
    /// This replica's own address, as the others reach it.
    let replicaURL: String
    let logger: Logger

    public init(homes: any ConversationHomeStore, replicaURL: String, logger: Logger) {
        self.homes = homes
        self.replicaURL = replicaURL
        self.logger = logger
    }

    /// Records that `id` (a conversation or an approval) lives here. A failure is logged, not
    /// thrown: the turn goes on here, and only requests for it that land elsewhere miss it.
    func recordHere(_ id: String) async {
        do {
            try await homes.recordHome(id.lowercased(), replicaURL: replicaURL)
        } catch {
            logger.warning("replica.home_not_recorded", metadata: ["conversation.id": .string(id), "error.message": .string(String(describing: error))])
        }
    }

    /// The other replica `id` lives on; nil when it lives here or nowhere recorded (then the
    /// request is answered here, a 404 for an unknown id).
    func remoteHome(of id: String) async throws -> String? {
        guard let home = try await homes.home(of: id.lowercased()), home != replicaURL else { return nil }
        return home
    }
}
