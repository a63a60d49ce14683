import Synchronization

/// The webhook callbacks in flight, by delivery and by receiver, for ``WebhookService``'s limits.
final class CallbackSlots: Sendable {
    private struct State {
        var deliveries: Set<String> = []
        var perReceiver: [String: Int] = [:]
    }

    private let state = Mutex(State())

    /// Takes a slot for `id`; false if it is already in flight or a limit is reached.
    func take(_ id: String, receiver: String, limit: Int, perReceiver: Int) -> Bool {
        state.withLock { state in
            guard !state.deliveries.contains(id), state.deliveries.count < limit, state.perReceiver[receiver, default: 0] < perReceiver else {
                return false
            }
            state.deliveries.insert(id)
            state.perReceiver[receiver, default: 0] += 1
            return true
        }
    }

    func release(_ id: String, receiver: String) {
        state.withLock { state in
            guard state.deliveries.remove(id) != nil else { return }
            state.perReceiver[receiver, default: 1] -= 1
            if state.perReceiver[receiver] == 0 { state.perReceiver[receiver] = nil }
        }
    }
}
