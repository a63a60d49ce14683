import Logging
import ModelProvider
import Synchronization

/// The `chat` engine: the model answers the conversation so far, with no tools. A stream that
/// breaks off is retried as a whole turn (`Reconnecting... n/m`) while the retry budget lasts.
public struct ChatAgentEngine: AgentEngine {
    public var name: String { "chat" }
    let client: any ModelClient
    let streamMaxRetries: Int
    /// No retry (of a request or of the turn) starts later than this after the turn's first model call.
    let retryBudget: Duration
    let logger: Logger

    public init(client: any ModelClient, streamMaxRetries: Int, retryBudget: Duration, logger: Logger) {
        self.client = client
        self.streamMaxRetries = streamMaxRetries
        self.retryBudget = retryBudget
        self.logger = logger
    }

    /// The chat engine has no workspace or sandbox: the options are accepted and have no effect.
    public func check(_ options: TurnOptions, isNewConversation: Bool) throws {}

    public func startConversation(_ plan: ConversationManager.TurnPlan) async throws -> EngineConversation? { nil }

    public func runTurn(_ turn: AgentTurn, emit: @escaping @Sendable (TurnEvent) -> Void) async throws -> AgentTurnResult {
        let plan = turn.plan
        let retryDeadline = ContinuousClock.now.advanced(by: retryBudget)
        let request = ModelRequest(model: plan.model, messages: turn.history, outputSchema: plan.outputSchema, retryDeadline: retryDeadline)
        let itemID = "item_0"
        let state = Mutex(StreamState())
        var attempt = 0
        while true {
            do {
                try await turn.signal.race { [client] in
                    try await client.respond(to: request) { event in
                        switch event {
                        case .textDelta(let delta):
                            let (started, snapshot) = state.withLock { state -> (Bool, String?) in
                                let wasStarted = state.itemStarted
                                state.itemStarted = true
                                state.text += delta
                                return (wasStarted, state.updates.shouldSend(length: state.text.utf8.count) ? state.text : nil)
                            }
                            if !started { emit(.itemStarted(id: itemID, text: "")) }
                            if let snapshot { emit(.itemUpdated(id: itemID, text: snapshot)) }
                        case .usage(let usage):
                            state.withLock { $0.usage = usage }
                        case .toolCalls, .completed:
                            break
                        }
                    }
                }
                break
            } catch let error as ModelClientError where error.isRetryableAsTurn && attempt < streamMaxRetries {
                let delay = ProviderTransport.backoff(attempt: attempt + 1)
                guard ContinuousClock.now.advanced(by: delay) <= retryDeadline else { throw AgentTurnError(error.description) }
                attempt += 1
                logger.warning("model stream failed; retrying the turn", metadata: ["error.message": .string(error.description), "attempt": .stringConvertible(attempt)])
                emit(.error(message: "Reconnecting... \(attempt)/\(streamMaxRetries)"))
                state.withLock { state in
                    state.text = ""
                    state.updates.reset()
                }
                try await turn.signal.race { try await Task.sleep(for: delay) }
            } catch is TurnCancelled {
                throw TurnCancelled()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw AgentTurnError((error as? ModelClientError)?.description ?? String(describing: error))
            }
        }
        let (text, usage, started) = state.withLock { ($0.text, $0.usage ?? TokenUsage(), $0.itemStarted) }
        if !started { emit(.itemStarted(id: itemID, text: "")) }
        emit(.itemCompleted(id: itemID, text: text))
        return AgentTurnResult(text: text, usage: usage)
    }

    private struct StreamState {
        var itemStarted = false
        var text = ""
        var updates = ItemUpdateCoalescer()
        var usage: TokenUsage?
    }
}
