import ModelProvider
import Synchronization

/// The last turn of each conversation, as far as it has come: its completed items, and how it
/// ended (answer and usage, or error). `GET /conversations/{id}` reads it; the rollout file keeps
/// the messages but not the items, so after a restart only the messages are known.
///
/// Every turn of every protocol is recorded by ``ConversationManager/streamTurn(_:consume:)``.
/// Bounded: the `capacity` conversations whose turns started last, each with at most
/// `maxItems` items (the latest).
public final class TurnActivity: Sendable {
    /// One item of a turn: the agent's message, or a command, file change, ….
    public enum Item: Sendable, Hashable {
        case agentMessage(id: String, text: String)
        case agent(AgentItem)
    }

    public enum Phase: Sendable, Hashable {
        case running
        case completed(answer: String, usage: TokenUsage)
        case failed(String)
    }

    public struct LastTurn: Sendable, Hashable {
        public var phase: Phase
        /// Completed items, in order.
        public var items: [Item]
    }

    private struct State {
        var turns: [String: LastTurn] = [:]
        /// Conversation ids, the least recently started turn first.
        var order: [String] = []
    }

    let capacity: Int
    let maxItems: Int
    private let state = Mutex(State())

    public init(capacity: Int = 1024, maxItems: Int = 200) {
        self.capacity = capacity
        self.maxItems = maxItems
    }

    /// The conversation's last turn since the gateway started, if any.
    public func lastTurn(of conversationID: String) -> LastTurn? {
        state.withLock { $0.turns[conversationID.lowercased()] }
    }

    /// The text of the last agent message of the conversation's last turn: its answer once it completed.
    func lastAgentMessage(of conversationID: String) -> String? {
        state.withLock { state in
            state.turns[conversationID.lowercased()]?.items.lazy.reversed().compactMap { item -> String? in
                if case .agentMessage(_, let text) = item { return text }
                return nil
            }.first
        }
    }

    /// A turn started (it holds the conversation: no other turn runs on it until it ends).
    func begin(_ conversationID: String) {
        let id = conversationID.lowercased()
        state.withLock { state in
            state.order.removeAll { $0 == id }
            state.order.append(id)
            state.turns[id] = LastTurn(phase: .running, items: [])
            while state.order.count > capacity {
                state.turns[state.order.removeFirst()] = nil
            }
        }
    }

    /// Records what `event` adds to the running turn.
    func note(_ event: TurnEvent, in conversationID: String) {
        let item: Item
        switch event {
        case .itemCompleted(let id, let text): item = .agentMessage(id: id, text: text)
        case .item(.completed, let agentItem): item = .agent(agentItem)
        default: return
        }
        state.withLock { state in
            guard var turn = state.turns[conversationID.lowercased()], turn.phase == .running else { return }
            turn.items.append(item)
            if turn.items.count > maxItems { turn.items.removeFirst(turn.items.count - maxItems) }
            state.turns[conversationID.lowercased()] = turn
        }
    }

    /// The turn ended.
    func finish(_ conversationID: String, _ phase: Phase) {
        state.withLock { state in
            state.turns[conversationID.lowercased()]?.phase = phase
        }
    }
}
