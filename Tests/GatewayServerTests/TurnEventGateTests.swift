import ModelProvider
import Synchronization
import Testing

@testable import GatewayServer

@Suite("A turn's events wait for its record, in order, and a turn that fails to start tells none")
struct TurnEventGateTests {
    final class Heard: Sendable {
        let events = Mutex<[TurnEvent]>([])
        func append(_ event: TurnEvent) { events.withLock { $0.append(event) } }
        var all: [TurnEvent] { events.withLock { $0 } }
    }

    @Test func eventsComeOutInOrderOnceOpenAndAtOnceAfter() {
        let heard = Heard()
        let gate = TurnEventGate(heard.append)
        gate.pass(.itemStarted(id: "m", text: ""))
        gate.pass(.itemUpdated(id: "m", text: "he"))
        #expect(heard.all.isEmpty, "held while the record is written")
        heard.append(.turnStarted)  // what the manager tells first, then opens the gate
        gate.open()
        #expect(heard.all == [.turnStarted, .itemStarted(id: "m", text: ""), .itemUpdated(id: "m", text: "he")])
        gate.pass(.itemCompleted(id: "m", text: "hello"))
        #expect(heard.all.last == .itemCompleted(id: "m", text: "hello"))
    }

    @Test func aClosedGateDropsWhatItHeldAndWhatComesLater() {
        let heard = Heard()
        let gate = TurnEventGate(heard.append)
        gate.pass(.itemStarted(id: "m", text: ""))
        gate.close()
        gate.pass(.turnFailed(message: "interrupted"))
        gate.open()
        gate.pass(.turnCompleted(TokenUsage()))
        #expect(heard.all.isEmpty)
    }

    @Test func eventsPassedWhileTheGateOpensKeepTheirOrder() async {
        let heard = Heard()
        let gate = TurnEventGate(heard.append)
        for index in 0..<100 { gate.pass(.itemUpdated(id: "m", text: String(index))) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for index in 100..<2000 { gate.pass(.itemUpdated(id: "m", text: String(index))) } }
            group.addTask { gate.open() }
        }
        #expect(heard.all == (0..<2000).map { .itemUpdated(id: "m", text: String($0)) })
    }
}
