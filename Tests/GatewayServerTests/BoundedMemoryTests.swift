import Foundation
import HTTPTypes
import HummingbirdTesting
import ModelProvider
import NIOCore
import Synchronization
import Testing

@testable import GatewayServer

/// Memory and bytes that grow with use stay bounded: parsed conversations are evicted past a
/// byte budget, and a streamed answer costs bytes linear in its length.
@Suite struct BoundedMemoryTests {
    static func record(_ id: String, bytes: Int) -> ConversationRecord {
        ConversationRecord(
            id: id, model: "m", provider: "p", createdAt: Date(), updatedAt: Date(), turns: 1,
            messages: [ConversationMessage(role: .user, content: String(repeating: "x", count: bytes))], path: "/p"
        )
    }

    @Test func theLeastRecentlyUsedConversationsAreEvictedPastTheBudget() {
        let cost = ConversationCache.cost(of: Self.record("a", bytes: 1000))
        var cache = ConversationCache(byteBudget: cost * 3)
        for id in ["a", "b", "c"] { cache[id] = Self.record(id, bytes: 1000) }
        #expect(cache.count == 3)
        _ = cache.record("a")  // a is now the most recently used
        cache["d"] = Self.record("d", bytes: 1000)
        #expect(cache["b"] == nil, "b was the least recently used")
        #expect(cache["a"] != nil && cache["c"] != nil && cache["d"] != nil)
        #expect(cache.totalCost <= cost * 3)
        cache["huge"] = Self.record("huge", bytes: cost * 4)
        #expect(cache["huge"] == nil, "a record larger than the whole budget is not kept")
        #expect(cache.count == 3)
    }

    @Test func manyUsesKeepTheUseLogSmall() {
        var cache = ConversationCache(byteBudget: 1 << 20)
        cache["a"] = Self.record("a", bytes: 10)
        for _ in 0..<10_000 {
            _ = cache.record("a")
            cache["a"]?.turns += 1
        }
        cache["b"] = Self.record("b", bytes: 10)
        #expect(cache.count == 2)
        #expect(cache["a"]?.turns == 10_001)
    }

    @Test func anEvictedConversationIsReadAgainWhole() async throws {
        let home = TemporaryDirectory.make()
        let store = try RolloutConversationStore(codexHome: home, logger: TestGateway.quietLogger, cacheBytes: 4096)
        var ids: [String] = []
        for index in 0..<10 {
            let record = try await store.create(model: "m", provider: "p", owner: "key_test")
            try await store.appendUserMessage(record.id, text: String(repeating: "q\(index)", count: 300), model: "m")
            try await store.appendAssistantMessage(record.id, text: "answer \(index)", usage: nil)
            ids.append(record.id)
        }
        let cached = await store.cached
        #expect(cached.bytes <= 4096 && cached.count < 10)
        for (index, id) in ids.enumerated() {
            let record = try #require(try await store.record(id))
            #expect(record.messages.map(\.content) == [String(repeating: "q\(index)", count: 300), "answer \(index)"])
            #expect(record.turns == 1)
        }
    }

    @Test func snapshotsAreSentWhenTheTextGrewByAQuarterOrAfterTheInterval() {
        let now = Mutex(ContinuousClock.now)
        var updates = ItemUpdateCoalescer(interval: .seconds(1)) { now.withLock { $0 } }
        func send(_ length: Int) -> Bool { updates.shouldSend(length: length) }
        #expect(send(4))
        #expect(send(5), "a quarter of 4 is 1 byte")
        #expect(send(100))
        #expect(!send(110), "10 bytes is less than a quarter of 100, and no time passed")
        #expect(send(125))
        now.withLock { $0 = $0.advanced(by: .seconds(1)) }
        #expect(send(126), "a second passed")
        #expect(!send(126), "nothing new")
        updates.reset()
        #expect(send(1))
    }

    @Test func aLongAnswerStreamsInBytesLinearInItsLength() async throws {
        let prompt = (0..<3000).map { "w\($0)" }.joined(separator: " ")
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let start = ContinuousClock.now
                let (response, lines) = try await client.exec(#"{"prompt": "\#(prompt)"}"#)
                let seconds = Int((ContinuousClock.now - start).components.seconds) + 1
                #expect(response.status == .ok)
                let answer = try #require(lines.first { $0["type"] as? String == "item.completed" }?[path: "item.text"] as? String)
                #expect(answer == "Echo: " + prompt)
                let updates = lines.filter { $0["type"] as? String == "item.updated" }
                let updatedBytes = updates.reduce(0) { $0 + (($1[path: "item.text"] as? String)?.utf8.count ?? 0) }
                #expect(!updates.isEmpty)
                // The contract: five times the answer, plus one snapshot a second (a loaded machine
                // can stretch this stream over a few). A snapshot per delta would be over a thousand times it.
                let bound = (5 + seconds) * answer.utf8.count
                #expect(updatedBytes <= bound, "\(updatedBytes) bytes of snapshots for a \(answer.utf8.count)-byte answer in \(seconds) s")
                #expect(response.body.readableBytes <= bound + 3 * answer.utf8.count)
            }
        }
    }
}
