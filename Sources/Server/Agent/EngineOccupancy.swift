import Synchronization

/// What each `codex app-server` child holds: the threads it has loaded and the turns running in
/// it, so the engine can bound the child's memory. Codex never unloads a thread; a child that is
/// idle (no turn running, none about to start) with more than `maxLoadedThreads` loaded, or idle
/// for `idleRecycle` with any loaded, is recycled: the supervisor starts a fresh one and the next
/// turn of each conversation resumes its thread there.
///
/// A new thread's first turn holds the child from `thread/start` on (``hold(_:)`` and
/// ``awaitFirstTurn(_:generation:)``, handed to its turn by ``enter(_:generation:)``): Codex cannot resume a thread before its first
/// turn, so its child must not be recycled in between.
final class EngineOccupancy: Sendable {
    struct Limits: Sendable {
        /// `ENGINE_MAX_LOADED_THREADS`.
        var maxLoadedThreads: Int
        /// `ENGINE_IDLE_RECYCLE_SECONDS`; nil never recycles an idle child for time alone.
        var idleRecycle: Duration?
    }

    /// What ``leave(_:)`` asks of the engine.
    enum Verdict: Equatable {
        case keep
        case recycle
        /// Recycle once still idle after the delay, if ``stillIdle(generation:epoch:)``.
        case recycleIfIdle(after: Duration, epoch: Int)
    }

    private struct State {
        /// Thread id → the generation of the child that has it loaded.
        var loaded: [String: Int] = [:]
        /// Generation → turns (and new threads awaiting their first turn) holding it.
        var holders: [Int: Int] = [:]
        /// New threads whose first turn has not begun: thread id → generation and since when.
        var awaitingFirstTurn: [String: (generation: Int, since: ContinuousClock.Instant)] = [:]
        /// Generations being recycled: no new turn enters them.
        var recycling: Set<Int> = []
        /// Bumped whenever a turn enters, so a pending idle recycle sees it was not idle after all.
        var epoch = 0
    }

    let limits: Limits
    private let state = Mutex(State())

    init(limits: Limits) {
        self.limits = limits
    }

    func contains(_ id: String, generation: Int) -> Bool {
        state.withLock { $0.loaded[id] == generation }
    }

    func add(_ id: String, generation: Int) {
        state.withLock { $0.loaded[id] = generation }
    }

    /// Holds `generation` for a thread about to start in it; false when that child is being
    /// recycled (use the next one).
    func hold(_ generation: Int) -> Bool {
        state.withLock { state in
            guard !state.recycling.contains(generation) else { return false }
            state.holders[generation, default: 0] += 1
            state.epoch += 1
            return true
        }
    }

    /// Thread `id` started in `generation` under a ``hold(_:)``, which now waits for its first turn.
    func awaitFirstTurn(_ id: String, generation: Int) {
        state.withLock { state in
            state.loaded[id] = generation
            state.awaitingFirstTurn[id] = (generation, .now)
        }
    }

    /// A turn of thread `id` begins in `generation`; false when that child is being recycled
    /// (wait for the next one). A new thread's first turn takes over the hold its start took.
    func enter(_ id: String, generation: Int) -> Bool {
        state.withLock { state in
            if state.awaitingFirstTurn[id]?.generation == generation {
                state.awaitingFirstTurn[id] = nil
                return true
            }
            guard !state.recycling.contains(generation) else { return false }
            state.holders[generation, default: 0] += 1
            state.epoch += 1
            return true
        }
    }

    /// A turn (or a thread start that failed) released `generation`.
    func leave(_ generation: Int) -> Verdict {
        state.withLock { state in
            Self.releaseAbandoned(&state)
            let holders = max(0, (state.holders[generation] ?? 1) - 1)
            state.holders[generation] = holders == 0 ? nil : holders
            guard holders == 0 else { return .keep }
            let loaded = state.loaded.values.count { $0 == generation }
            if loaded > limits.maxLoadedThreads {
                state.recycling.insert(generation)
                return .recycle
            }
            if loaded > 0, let idle = limits.idleRecycle { return .recycleIfIdle(after: idle, epoch: state.epoch) }
            return .keep
        }
    }

    /// After a ``Verdict/recycleIfIdle(after:epoch:)`` delay: true (and the child marked as being
    /// recycled) when no turn entered since.
    func stillIdle(generation: Int, epoch: Int) -> Bool {
        state.withLock { state in
            Self.releaseAbandoned(&state)
            guard state.epoch == epoch, state.holders[generation] == nil, state.loaded.values.contains(generation) else { return false }
            state.recycling.insert(generation)
            return true
        }
    }

    /// A new thread whose first turn never began (the turn failed before it) stops holding its
    /// child after this long.
    static let firstTurnGrace = Duration.seconds(60)

    private static func releaseAbandoned(_ state: inout State) {
        let now = ContinuousClock.now
        for (id, entry) in state.awaitingFirstTurn where now - entry.since > firstTurnGrace {
            state.awaitingFirstTurn[id] = nil
            let holders = (state.holders[entry.generation] ?? 1) - 1
            state.holders[entry.generation] = holders > 0 ? holders : nil
        }
    }

    /// The child of `generation` ended: nothing is loaded in it any more.
    func forget(generation: Int) {
        state.withLock { state in
            state.loaded = state.loaded.filter { $0.value != generation }
            state.awaitingFirstTurn = state.awaitingFirstTurn.filter { $0.value.generation != generation }
            state.holders[generation] = nil
            state.recycling.remove(generation)
        }
    }
}
