import GatewayServer
import ModelProvider
import Synchronization
import Testing

@Suite("IdleMemoryTrimmer")
struct IdleMemoryTrimmerTests {
    @Test func trimsOnceWhenRequestsStopAndNeverWhileTheyArrive() {
        var policy = IdleMemoryTrimmer.Policy(requestsSoFar: 0)
        // Requests started so far, one figure per interval: busy, quiet, one request, quiet.
        let counts = [3, 10, 11, 40, 40, 40, 40, 40, 40, 40, 41, 41, 41]
        let decisions = counts.map { policy.shouldTrim(requestsSoFar: $0) }
        // No trim while requests arrive; one once quiet, not one per interval; one more after the next request.
        #expect(decisions == [false, false, false, false, true, false, false, false, false, false, false, true, false])
    }

    @Test func theServiceTrimsOnceIdleAndStopsWhenCancelled() async throws {
        let activity = IdleMemoryTrimmer.Activity()
        let trims = Atomic<Int>(0)
        let trimmer = IdleMemoryTrimmer(activity: activity, interval: .milliseconds(10)) { trims.add(1, ordering: .relaxed) }
        let service = Task { try await trimmer.run() }
        activity.record()
        var waited = 0
        while trims.load(ordering: .relaxed) == 0, waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(trims.load(ordering: .relaxed) == 1)
        service.cancel()
        try await service.value
    }

    @Test func theRealTrimRunsWithoutHarm() {
        IdleMemoryTrimmer.mallocTrim()
    }
}
