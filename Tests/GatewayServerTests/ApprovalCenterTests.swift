import Foundation
import GatewayServer
import Testing

@Suite("Approvals: first answer wins, owners only, declined when they expire")
struct ApprovalCenterTests {
    static func approval(_ center: ApprovalCenter, owner: String) -> PendingApproval {
        PendingApproval(
            id: center.makeID(), conversationID: "c1", owner: owner, kind: .commandExecution,
            command: "touch x", cwd: "/w", changes: nil, reason: nil, expiresAt: center.deadline()
        )
    }

    /// Waits (bounded) until `center` lists `id` for `owner`.
    static func listed(_ center: ApprovalCenter, _ id: String, owner: String) async throws {
        for _ in 0..<500 where !center.pending(owner: owner).contains(where: { $0.id == id }) {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func anotherOwnerNeitherSeesNorAnswersItAndASecondAnswerIsTooLate() async throws {
        let center = ApprovalCenter()
        let asked = Self.approval(center, owner: "alice")
        async let decision = center.ask(asked)
        try await Self.listed(center, asked.id, owner: "alice")
        #expect(center.pending(owner: "bob").isEmpty)
        #expect(throws: ApprovalCenter.AnswerError.unknown) { try center.answer(asked.id, decision: .accept, owner: "bob") }
        try center.answer(asked.id, decision: .decline, owner: "alice")
        #expect(await decision == .decline)
        #expect(throws: ApprovalCenter.AnswerError.alreadyAnswered(.decline)) { try center.answer(asked.id, decision: .accept, owner: "alice") }
        #expect(throws: ApprovalCenter.AnswerError.unknown) { try center.answer(asked.id, decision: .accept, owner: "bob") }
        #expect(center.pending(owner: "alice").isEmpty)
    }

    @Test func anUnansweredApprovalIsDeclinedWhenItExpires() async throws {
        let center = ApprovalCenter(timeout: .milliseconds(50))
        #expect(await center.ask(Self.approval(center, owner: "alice")) == .decline)
    }

    @Test func aCancelledWaitIsACancel() async throws {
        let center = ApprovalCenter()
        let asked = Self.approval(center, owner: "alice")
        let waiting = Task { await center.ask(asked) }
        try await Self.listed(center, asked.id, owner: "alice")
        waiting.cancel()
        #expect(await waiting.value == .cancel)
    }

    @Test func itsOwnersSubscribersHearItAskedAndAnsweredAndNobodyElseDoes() async throws {
        let center = ApprovalCenter()
        var alice = center.notices(owner: "alice").makeAsyncIterator()
        var bob = center.notices(owner: "bob").makeAsyncIterator()
        let asked = Self.approval(center, owner: "alice")
        async let decision = center.ask(asked)
        #expect(await alice.next() == .requested(asked))
        try center.answer(asked.id, decision: .accept, owner: "alice")
        #expect(await decision == .accept)
        #expect(await alice.next() == .resolved(asked, .accept))
        // Bob's stream got nothing: the next thing it hears is his own approval.
        let his = Self.approval(center, owner: "bob")
        let waiting = Task { await center.ask(his) }
        #expect(await bob.next() == .requested(his))
        waiting.cancel()
        #expect(await bob.next() == .resolved(his, .cancel))
    }
}
