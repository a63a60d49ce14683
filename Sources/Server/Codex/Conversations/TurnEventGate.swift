import Synchronization

/// Holds an engine turn's events while the turn's start is being recorded, then passes them on in
/// the order they came.
///
/// The engine starts working (Codex builds its prompt and calls the model) while the gateway
/// writes the conversation's record; a client still hears `thread.started` only once the
/// conversation can be read, and the turn's items only after it.
final class TurnEventGate: Sendable {
    private enum State {
        case holding([TurnEvent])
        case open
        case closed
    }

    private let state = Mutex(State.holding([]))
    private let emit: @Sendable (TurnEvent) -> Void

    init(_ emit: @escaping @Sendable (TurnEvent) -> Void) {
        self.emit = emit
    }

    /// The engine's `emit`: held until ``open()``, passed on after it, dropped after ``close()``.
    @Sendable func pass(_ event: TurnEvent) {
        // Passed on under the lock, so an event cannot overtake the held ones being let out.
        state.withLock { state in
            switch state {
            case .holding(var held):
                held.append(event)
                state = .holding(held)
            case .open: emit(event)
            case .closed: break
            }
        }
    }

    /// Lets the held events out, then every later one as it comes (a closed gate stays closed).
    func open() {
        state.withLock { state in
            guard case .holding(let held) = state else { return }
            held.forEach(emit)
            state = .open
        }
    }

    /// The turn failed before it could start: its events are never told.
    func close() {
        state.withLock { $0 = .closed }
    }
}
