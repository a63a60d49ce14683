import Synchronization

/// A turn handed to ``BackgroundTurnService``: whoever started it waits on it for a while (the
/// conversation's id, then the outcome) and may stop waiting without stopping the turn.
public final class TurnTicket: Sendable {
    private struct State {
        var conversationID: String?
        var outcome: TurnOutcome?
        /// Bumped on every change; a waiter sleeps until it moves.
        var version = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var outcome: TurnOutcome? { state.withLock { $0.outcome } }

    /// The conversation's id once the turn named it (a new conversation's comes from its engine).
    public var conversationID: String? { state.withLock { $0.outcome.map(\.conversationID) ?? $0.conversationID } }

    func started(_ conversationID: String) {
        change { $0.conversationID = conversationID }
    }

    func finished(_ outcome: TurnOutcome) {
        change { $0.outcome = outcome }
    }

    private func change(_ body: (inout State) -> Void) {
        let waiters = state.withLock { state in
            body(&state)
            state.version += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the turn has named its conversation (or ended); nil when it ended without one.
    public func conversationStarted() async -> String? {
        while true {
            let (id, ended, version) = state.withLock { ($0.conversationID, $0.outcome != nil, $0.version) }
            if let id, !id.isEmpty { return id }
            if ended || Task.isCancelled { return nil }
            await nextChange(after: version)
        }
    }

    /// Waits until the turn ends or `deadline` passes; nil when it still runs.
    public func outcome(before deadline: ContinuousClock.Instant) async -> TurnOutcome? {
        while true {
            let (outcome, version) = state.withLock { ($0.outcome, $0.version) }
            if let outcome { return outcome }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return nil }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.nextChange(after: version) }
                group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Returns at the first change after `version`, or when the task is cancelled.
    private func nextChange(after version: Int) async {
        let key = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.version != version || Task.isCancelled { return true }
                    state.waiters[key] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: key) }?.resume()
        }
    }
}

extension TurnOutcome {
    var conversationID: String {
        switch self {
        case .completed(let id, _, _, _), .failed(let id, _): id
        }
    }
}
