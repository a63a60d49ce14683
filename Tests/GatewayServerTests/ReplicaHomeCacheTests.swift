import Foundation
import Logging
import Synchronization
import Testing

@testable import GatewayServer

/// Every request that names a conversation asks where it lives; ``ReplicaPlacement`` remembers
/// the answer for a while so that the database is asked once, not per request.
@Suite("Replica placement: homes remembered")
struct ReplicaHomeCacheTests {
    /// A ``ConversationHomeStore`` in memory that counts the lookups reaching it.
    final class CountingHomes: ConversationHomeStore {
        private let state = Mutex<(homes: [String: String], lookups: Int)>(([:], 0))
        var lookups: Int { state.withLock { $0.lookups } }

        func recordHome(_ conversationID: String, replicaURL: String) async throws {
            state.withLock { $0.homes[conversationID] = replicaURL }
        }

        func home(of conversationID: String) async throws -> String? {
            state.withLock { state in
                state.lookups += 1
                return state.homes[conversationID]
            }
        }

        func replicas() async throws -> [String] {
            state.withLock { Array(Set($0.homes.values)) }
        }
    }

    @Test func aHomeFoundOnceIsNotAskedForAgainAndOwnConversationsAreNotForwarded() async throws {
        let homes = CountingHomes()
        try await homes.recordHome("c-remote", replicaURL: "http://b:8080")
        let placement = ReplicaPlacement(homes: homes, replicaURL: "http://a:8080", logger: Logger(label: "test"))

        #expect(try await placement.remoteHome(of: "C-REMOTE") == "http://b:8080")
        #expect(try await placement.remoteHome(of: "c-remote") == "http://b:8080")
        #expect(homes.lookups == 1)

        await placement.recordHere("c-local")
        #expect(try await placement.remoteHome(of: "c-local") == nil)
        #expect(homes.lookups == 1, "a conversation started here is known without asking")
    }

    @Test func anUnknownIdIsAskedEachTimeSinceAnotherReplicaMayStartIt() async throws {
        let homes = CountingHomes()
        let placement = ReplicaPlacement(homes: homes, replicaURL: "http://a:8080", logger: Logger(label: "test"))
        #expect(try await placement.remoteHome(of: "c-new") == nil)
        try await homes.recordHome("c-new", replicaURL: "http://b:8080")
        #expect(try await placement.remoteHome(of: "c-new") == "http://b:8080")
        #expect(homes.lookups == 2)
    }

    @Test func entriesExpireAndTheCacheStaysWithinItsCapacity() {
        let cache = HomeCache(lifetime: .seconds(60), capacity: 4)
        let start = ContinuousClock.now
        cache.remember("a", home: "http://b", now: start)
        #expect(cache.home(of: "a", now: start + .seconds(59)) == "http://b")
        #expect(cache.home(of: "a", now: start + .seconds(61)) == nil)

        for (offset, id) in ["1", "2", "3", "4", "5"].enumerated() {
            cache.remember(id, home: "http://b", now: start + .seconds(offset))
        }
        // Full at the fifth: the two oldest went, the newest three and the fifth stay.
        #expect(cache.home(of: "1", now: start) == nil)
        #expect(cache.home(of: "2", now: start) == nil)
        #expect(cache.home(of: "5", now: start) == "http://b")
        #expect(cache.home(of: "3", now: start) == "http://b")
    }
}
