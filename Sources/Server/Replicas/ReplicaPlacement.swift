import Foundation
import Logging
import Synchronization

/// Which replica a conversation, and each approval it raises, lives on (PROTOCOLS.md §12).
///
/// A conversation's Codex thread and workspace stay on the replica that started it
/// (`REPLICA_URL`); its pending approvals wait there too. Both are recorded in the shared
/// ``ConversationHomeStore`` (approval ids, `apr_…`, never collide with conversation ids), so
/// any replica can find where to send a request for them.
///
/// Homes found are remembered for a minute (``HomeCache``): every request that names a
/// conversation asks where it lives, on its home replica too, and a home does not move (it
/// changes only when a replica comes back under another `REPLICA_URL`, which the minute bounds).
public struct ReplicaPlacement: Sendable {
    let homes: any ConversationHomeStore
    /// This replica's own address, as the others reach it.
    let replicaURL: String
    let logger: Logger
    let cache: HomeCache

    public init(homes: any ConversationHomeStore, replicaURL: String, logger: Logger, cache: HomeCache = HomeCache()) {
        self.homes = homes
        self.replicaURL = replicaURL
        self.logger = logger
        self.cache = cache
    }

    /// Records that `id` (a conversation or an approval) lives here. A failure is logged, not
    /// thrown: the turn goes on here, and only requests for it that land elsewhere miss it.
    func recordHere(_ id: String) async {
        do {
            try await homes.recordHome(id.lowercased(), replicaURL: replicaURL)
            cache.remember(id.lowercased(), home: replicaURL)
        } catch {
            logger.warning("replica.home_not_recorded", metadata: ["conversation.id": .string(id), "error.message": .string(String(describing: error))])
        }
    }

    /// The other replica `id` lives on; nil when it lives here or nowhere recorded (then the
    /// request is answered here, a 404 for an unknown id).
    func remoteHome(of id: String) async throws -> String? {
        let id = id.lowercased()
        let home: String
        if let cached = cache.home(of: id) {
            home = cached
        } else {
            // An unknown id is not remembered: it may be started on another replica a moment later.
            guard let found = try await homes.home(of: id) else { return nil }
            cache.remember(id, home: found)
            home = found
        }
        return home == replicaURL ? nil : home
    }
}

/// The homes a replica looked up lately, each for ``lifetime``, at most ``capacity`` of them
/// (when full, the oldest half is dropped: one sweep now and then rather than an order kept per
/// lookup).
public final class HomeCache: Sendable {
    private struct Entry {
        var home: String
        var expires: ContinuousClock.Instant
    }

    let lifetime: Duration
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    public init(lifetime: Duration = .seconds(60), capacity: Int = 50_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func home(of id: String, now: ContinuousClock.Instant = .now) -> String? {
        entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            guard entry.expires > now else {
                entries[id] = nil
                return nil
            }
            return entry.home
        }
    }

    func remember(_ id: String, home: String, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            if entries.count >= capacity {
                let oldest = entries.sorted { $0.value.expires < $1.value.expires }.prefix(capacity / 2).map(\.key)
                for key in oldest { entries[key] = nil }
            }
            entries[id] = Entry(home: home, expires: now + lifetime)
        }
    }
}
