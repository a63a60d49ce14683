import Foundation
import GatewayRuntime
import Logging
import Metrics
import ModelProvider
import Synchronization

/// The Codex core: runs turns of conversations against the configured model, one turn at a time
/// per conversation, persisting every message.
///
/// A conversation belongs to the principal that started it (``Principal/owner``): every method
/// that takes a `principal` answers ``ConversationError/notFound(_:)`` for anyone else's, exactly
/// as for one that does not exist. A nil `principal` is the gateway itself (no check).
///
/// Turns run in the caller's task (structured): ``streamTurn(_:consume:)`` runs the turn in a
/// child task and hands its events to `consume` in order; if `consume` throws (the client went
/// away) the turn is cancelled, and so is the upstream request. ``cancel(_:)`` stops a running
/// turn from another request.
public final class ConversationManager: Sendable {
    let store: RolloutConversationStore
    /// Runs the turns themselves.
    public let engine: any AgentEngine
    let credentialsCheck: @Sendable () throws -> Void
    let defaultModel: String
    let providerID: String
    let logPrompts: Bool
    let logger: Logger
    /// Caps the turns a principal runs at once; nil: no cap.
    let turnLimiter: RateLimiter?
    /// Caps the turns all principals run at once (`MAX_CONCURRENT_TURNS`); nil: no cap.
    let maxConcurrentTurns: Int?
    /// A turn still running after this is stopped and fails (`TURN_TIMEOUT_SECONDS`); nil: no limit.
    let turnTimeout: Duration?
    /// Records new conversations as living on this replica; nil with a single gateway.
    let placement: ReplicaPlacement?
    /// How often a turn waiting for its principal's turn cap asks again.
    let turnSlotPollInterval: Duration = .milliseconds(250)
    let running = Mutex<[String: CancellationSignal]>([:])
    /// Each conversation's last turn as it goes (its items and how it ended), whatever protocol ran it.
    public let activity = TurnActivity()
    private let runningTurnsMeter = Meter(label: GatewayMetrics.runningTurns)
    /// Budgets and allowlists checked before a turn, and the meter of engines whose model calls do
    /// not pass the relay; set once the database is open (``meter(with:)``).
    let usageLedger = Mutex<UsageLedger?>(nil)
    /// Conversations homed on other replicas, run there; set once the replica client exists.
    private let remoteConversations = Mutex<RemoteConversations?>(nil)

    public init(
        store: RolloutConversationStore,
        engine: any AgentEngine,
        credentialsCheck: @escaping @Sendable () throws -> Void,
        defaultModel: String,
        providerID: String,
        logPrompts: Bool,
        logger: Logger,
        turnLimiter: RateLimiter? = nil,
        maxConcurrentTurns: Int? = nil,
        turnTimeout: Duration? = nil,
        placement: ReplicaPlacement? = nil
    ) {
        self.placement = placement
        self.maxConcurrentTurns = maxConcurrentTurns
        self.turnTimeout = turnTimeout
        self.store = store
        self.engine = engine
        self.credentialsCheck = credentialsCheck
        self.defaultModel = defaultModel
        self.providerID = providerID
        self.logPrompts = logPrompts
        self.logger = logger
        self.turnLimiter = turnLimiter
    }

    /// Keeps turns to their principals' budgets and allowlists, and meters the model calls of an
    /// engine that does not make them through the relay (the chat engine).
    public func meter(with ledger: UsageLedger) {
        usageLedger.withLock { $0 = ledger }
    }

    /// The ledger set with ``meter(with:)`` (JSON-RPC's `usage.get` reads it).
    public var usage: UsageLedger? { usageLedger.withLock { $0 } }

    /// Runs what is asked of conversations homed on other replicas there (``RemoteConversations``).
    func forwardElsewhere(with remote: RemoteConversations) {
        remoteConversations.withLock { $0 = remote }
    }

    /// Set with ``forwardElsewhere(with:)``; nil with a single gateway.
    var remote: RemoteConversations? { remoteConversations.withLock { $0 } }

    /// A turn that passed its checks and may start.
    public struct TurnPlan: Sendable {
        /// Nil for a new conversation.
        public var conversationID: String?
        public var prompt: String
        public var model: String
        public var images: [String] = []
        public var outputSchema: JSONValue?
        /// Workspace, sandbox and approval policy, as the request asked (checked by the engine).
        public var options = TurnOptions()
        /// Who asks for the turn (the gateway itself when nil); the engine's model calls act for it.
        public internal(set) var principal: Principal?
        /// Who a new conversation will belong to.
        public var owner: String? { principal?.owner }
        /// Counts the turn against its principal's concurrent-turn cap until it ends.
        var permit: TurnPermit?
        /// The turn already accepted by the conversation's home replica, which runs it.
        var remote: RemoteConversations.Turn?
    }

    /// Checks everything that can be answered with a clean error before any output: the prompt,
    /// the conversation's existence, whether it is busy, the model's credentials and, for an
    /// `principal`, whether it owns the conversation and its cap on concurrent turns (the turn holds
    /// a permit from here until it ends).
    public func prepareTurn(
        conversationID: String?,
        prompt: String,
        model: String?,
        images: [String] = [],
        outputSchema: JSONValue? = nil,
        options: TurnOptions = TurnOptions(),
        principal: Principal? = nil
    ) async throws -> TurnPlan {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ConversationError.invalidPrompt("The prompt must not be empty.")
        }
        try engine.check(options, isNewConversation: conversationID == nil)
        if let conversationID, let remote, let home = try await remote.home(of: conversationID) {
            // Its home checks the rest (owner, busy, budget, caps) and runs it.
            return try await prepareRemoteTurn(
                remote, home: home, conversationID: conversationID, prompt: prompt, model: model, images: images,
                outputSchema: outputSchema, options: options, principal: principal)
        }
        var resolvedModel = model ?? defaultModel
        if let conversationID {
            let record = try await record(conversationID, for: principal)
            if model == nil, !record.model.isEmpty { resolvedModel = record.model }
            if isRunning(record.id) { throw ConversationError.busy(record.id) }
        }
        do {
            try credentialsCheck()
        } catch let ModelClientError.missingKey(error) {
            throw ConversationError.modelNotConfigured(variable: error.variable, message: error.description)
        }
        if let principal, let ledger = usageLedger.withLock({ $0 }), let refusal = await ledger.check(account: principal.owner, model: resolvedModel) {
            throw ConversationError.usage(refusal)
        }
        if let maxConcurrentTurns, running.withLock({ $0.count }) >= maxConcurrentTurns {
            throw ConversationError.gatewayBusy(limit: maxConcurrentTurns)
        }
        var permit: TurnPermit?
        if let principal, let turnLimiter {
            guard let granted = turnLimiter.acquireTurn(for: principal) else {
                throw ConversationError.tooManyTurns(limit: turnLimiter.limits(for: principal).concurrentTurns)
            }
            permit = granted
        }
        return TurnPlan(
            conversationID: conversationID?.lowercased(),
            prompt: prompt,
            model: resolvedModel,
            images: images,
            outputSchema: outputSchema,
            options: options,
            principal: principal,
            permit: permit
        )
    }

    /// ``prepareTurn(conversationID:prompt:model:images:outputSchema:principal:)`` for work that was
    /// already accepted (a webhook): while `principal` runs as many turns as it may, waits for one
    /// to end instead of refusing. Throws `CancellationError` when cancelled while waiting.
    public func prepareTurnWhenAllowed(
        conversationID: String?,
        prompt: String,
        model: String?,
        options: TurnOptions = TurnOptions(),
        principal: Principal
    ) async throws -> TurnPlan {
        while true {
            do {
                return try await prepareTurn(conversationID: conversationID, prompt: prompt, model: model, options: options, principal: principal)
            } catch ConversationError.tooManyTurns, ConversationError.gatewayBusy {
                try await Task.sleep(for: turnSlotPollInterval)
            }
        }
    }

    /// Checks a turn's options as ``prepareTurn(conversationID:prompt:model:images:outputSchema:options:principal:)``
    /// will, for work accepted now and run later: throws ``ConversationError/policy(_:)``.
    public func check(_ options: TurnOptions, isNewConversation: Bool) throws {
        try engine.check(options, isNewConversation: isNewConversation)
    }

    public func isRunning(_ id: String) -> Bool {
        running.withLock { $0[id.lowercased()] != nil }
    }

    /// Cancels the running turn of a conversation; false when none was running.
    public func cancel(_ id: String, by principal: Principal? = nil) async throws -> Bool {
        if let remote, let home = try await remote.home(of: id) { return try await remote.cancel(id, principal: principal, home: home) }
        _ = try await record(id, for: principal)
        guard let signal = running.withLock({ $0[id.lowercased()] }) else { return false }
        signal.cancel()
        logger.info("turn cancel requested", metadata: ["conversation.id": .string(id)])
        return true
    }

    /// The conversation, if `principal` may see it.
    public func record(_ id: String, for principal: Principal? = nil) async throws -> ConversationRecord {
        guard let record = try await store.record(id), principal == nil || (record.owner != nil && record.owner == principal?.owner) else {
            throw ConversationError.notFound(id)
        }
        return record
    }

    /// Whether `principal` may use the conversation (it exists and is theirs).
    public func isVisible(_ id: String, to principal: Principal?) async throws -> Bool {
        if let remote, let home = try await remote.home(of: id) { return try await remote.isVisible(id, principal: principal, home: home) }
        do {
            _ = try await record(id, for: principal)
            return true
        } catch ConversationError.notFound {
            return false
        }
    }

    /// `principal`'s conversations, newest first: a page of at most `limit` after `after` (the
    /// cursor of a previous page, read with ``ConversationListPosition/init(cursor:)``), and the
    /// cursor of the next page (nil at the end).
    public func list(for principal: Principal, limit: Int, after: ConversationListPosition?) async throws
        -> (records: [ConversationRecord], nextCursor: String?)
    {
        let (ids, more) = await store.list(owner: principal.owner, limit: limit, after: after)
        var records: [ConversationRecord] = []
        for id in ids {
            if let record = try await store.record(id) { records.append(record) }
        }
        guard more, let last = ids.last else { return (records, nil) }
        return (records, await store.position(of: last)?.cursor)
    }

    /// The largest page ``list(for:limit:after:)`` answers, and the one it answers by default.
    public static let listLimits = (default: 50, maximum: 200)

    /// Runs the turn and hands each event to `consume` as it happens; returns the outcome.
    @discardableResult
    public func streamTurn(_ plan: TurnPlan, consume: (TurnEvent) async throws -> Void) async throws -> TurnOutcome {
        if let turn = plan.remote { return try await streamRemoteTurn(turn, model: plan.model, consume: consume) }
        runningTurnsMeter.increment()
        defer {
            runningTurnsMeter.decrement()
            plan.permit?.release()
        }
        let (events, continuation) = AsyncStream.makeStream(of: TurnEvent.self)
        let activity = self.activity
        // The conversation whose turn started (`turnStarted` comes once it holds the conversation:
        // a turn refused as busy never touches the running one's activity).
        var conversationID: String?
        var begun: String?
        return try await withThrowingTaskGroup(of: TurnOutcome?.self) { group in
            group.addTask {
                defer { continuation.finish() }
                return await self.runTurn(plan) { continuation.yield($0) }
            }
            do {
                for await event in events {
                    // The turn's work is over at its last event: its permit is freed before the client
                    // can see that event, so a client that starts the next turn on it is not refused.
                    switch event {
                    case .threadStarted(let id): conversationID = id
                    case .turnStarted:
                        begun = conversationID
                        if let begun { activity.begin(begun) }
                    case .turnCompleted, .turnFailed: plan.permit?.release()
                    default: break
                    }
                    if let begun { activity.note(event, in: begun) }
                    // Ended before the client hears of it: a client that reads the conversation
                    // after the last event finds it ended.
                    switch (event, begun) {
                    case (.turnCompleted(let usage), let begun?):
                        activity.finish(begun, .completed(answer: activity.lastAgentMessage(of: begun) ?? "", usage: usage))
                    case (.turnFailed(let message), let begun?): activity.finish(begun, .failed(message))
                    default: break
                    }
                    try await consume(event)
                }
            } catch {
                group.cancelAll()
                if let begun { activity.finish(begun, .failed(TurnFailure.cancelled.description)) }
                throw error
            }
            var outcome: TurnOutcome?
            for try await result in group { outcome = outcome ?? result }
            if let begun {
                switch outcome! {
                case .completed(_, let text, _, let usage): activity.finish(begun, .completed(answer: text, usage: usage))
                case .failed(_, let reason): activity.finish(begun, .failed(reason.description))
                }
            }
            return outcome!
        }
    }
}
