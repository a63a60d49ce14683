import Testing

@testable import GatewayServer

@Suite("The engine recycles an idle child that holds too many threads, never a busy one")
struct EngineOccupancyTests {
    @Test func anIdleChildOverItsThreadCapIsRecycledButNotWhileATurnRuns() {
        let occupancy = EngineOccupancy(limits: .init(maxLoadedThreads: 1, idleRecycle: nil))
        #expect(occupancy.enter("a", generation: 1))
        occupancy.add("a", generation: 1)
        #expect(occupancy.enter("b", generation: 1))
        occupancy.add("b", generation: 1)
        #expect(occupancy.leave(1) == .keep, "b still runs")
        #expect(occupancy.leave(1) == .recycle, "idle with two threads loaded, one allowed")
        #expect(!occupancy.enter("a", generation: 1), "no turn enters a child being recycled")
        occupancy.forget(generation: 1)
        #expect(!occupancy.contains("a", generation: 1))
        #expect(occupancy.enter("a", generation: 2))
    }

    @Test func aNewThreadHoldsItsChildUntilItsFirstTurnEnds() {
        let occupancy = EngineOccupancy(limits: .init(maxLoadedThreads: 0, idleRecycle: nil))
        #expect(occupancy.hold(1))
        occupancy.awaitFirstTurn("new", generation: 1)
        #expect(occupancy.enter("old", generation: 1))
        occupancy.add("old", generation: 1)
        #expect(occupancy.leave(1) == .keep, "the new thread has not had its first turn")
        #expect(occupancy.enter("new", generation: 1), "its first turn takes over the hold")
        #expect(occupancy.leave(1) == .recycle)
    }

    @Test func anIdleChildIsRecycledAfterTheIdleTimeUnlessATurnCameInBetween() {
        let occupancy = EngineOccupancy(limits: .init(maxLoadedThreads: 10, idleRecycle: .seconds(5)))
        #expect(occupancy.enter("a", generation: 1))
        occupancy.add("a", generation: 1)
        guard case .recycleIfIdle(_, let epoch) = occupancy.leave(1) else {
            Issue.record("an idle child with a thread loaded is due for an idle recycle")
            return
        }
        #expect(occupancy.enter("a", generation: 1))
        #expect(!occupancy.stillIdle(generation: 1, epoch: epoch), "a turn came in between")
        guard case .recycleIfIdle(_, let later) = occupancy.leave(1) else { return }
        #expect(occupancy.stillIdle(generation: 1, epoch: later))
    }
}
