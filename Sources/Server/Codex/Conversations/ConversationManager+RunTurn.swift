import Foundation
import GatewayRuntime
import Logging
import ModelProvider
import Synchronization

extension ConversationManager {
    /// The turn itself. Never throws: every failure becomes `turnFailed`.
    ///
    /// For an engine that keeps its own history (Codex), the turn's start is recorded (a new
    /// conversation's record, or the user's message) while the engine already works on the turn:
    /// its events are held (``TurnEventGate``) until the record is written, so a client still hears
    /// `thread.started` only once it can read the conversation.
    func runTurn(_ plan: TurnPlan, emit: @escaping @Sendable (TurnEvent) -> Void) async -> TurnOutcome {
        let id: String
        let workspace: String?
        // What records the turn's start, done below: appending the user's message to an existing
        // conversation, or a new one's record (with its first message) and then `thread.started`.
        var recordStart: (@Sendable () async throws -> Void)?
        do {
            if let existingID = plan.conversationID {
                guard let existing = try await store.record(existingID) else {
                    emit(.threadStarted(conversationID: existingID))
                    emit(.turnFailed(message: ConversationError.notFound(existingID).description))
                    return .failed(conversationID: existingID, reason: .model(ConversationError.notFound(existingID).description))
                }
                (id, workspace) = (existing.id, existing.workspace)
                emit(.threadStarted(conversationID: id))
                recordStart = { [store] in try await store.appendUserMessage(id, text: plan.prompt, images: plan.images, model: plan.model) }
            } else {
                let started: EngineConversation?
                do {
                    started = try await engine.startConversation(plan)
                } catch {
                    // The engine could not start it (no Codex child, a workspace that leads out):
                    // said as it is, not as a storage failure.
                    let message = (error as? ConversationError)?.description ?? String(describing: error)
                    emit(.threadStarted(conversationID: ""))
                    emit(.turnFailed(message: message))
                    return .failed(conversationID: "", reason: (error as? ConversationError).map(TurnFailure.refused) ?? .model(message))
                }
                if let started {
                    (id, workspace) = (started.id, started.workspace)
                    recordStart = {
                        _ = try await self.createRecord(plan, id: started.id, workspace: started.workspace)
                        emit(.threadStarted(conversationID: started.id))
                    }
                } else {
                    // The store names the conversation: recorded before anything else.
                    let record = try await createRecord(plan, id: nil, workspace: nil)
                    (id, workspace) = (record.id, record.workspace)
                    emit(.threadStarted(conversationID: id))
                }
            }
        } catch {
            let id = plan.conversationID ?? ""
            emit(.threadStarted(conversationID: id))
            emit(.turnFailed(message: TurnFailure.storage(error.localizedDescription).description))
            return .failed(conversationID: id, reason: .storage(error.localizedDescription))
        }

        let signal = CancellationSignal()
        let acquired = running.withLock { running -> Bool in
            guard running[id] == nil else { return false }
            running[id] = signal
            return true
        }
        guard acquired else {
            emit(.turnFailed(message: TurnFailure.busy.description))
            return .failed(conversationID: id, reason: .busy)
        }
        defer { _ = running.withLock { $0.removeValue(forKey: id) } }

        var promptMetadata: Logger.Metadata = ["conversation.id": .string(id), "prompt_length": .stringConvertible(plan.prompt.count)]
        if logPrompts { promptMetadata["prompt"] = .string(plan.prompt) }
        logger.info("codex.user_prompt", metadata: promptMetadata)

        // An engine that is sent the conversation so far needs this turn's message recorded first.
        if !engine.keepsHistory, let pending = recordStart {
            recordStart = nil
            do {
                try await pending()
            } catch {
                emit(.turnFailed(message: TurnFailure.storage(error.localizedDescription).description))
                return .failed(conversationID: id, reason: .storage(error.localizedDescription))
            }
        }
        let history =
            engine.keepsHistory
            ? [] : (try? await store.record(id))?.messages ?? [ConversationMessage(role: .user, content: plan.prompt, images: plan.images)]
        let text: String
        let usage: TokenUsage
        // TURN_TIMEOUT_SECONDS: the turn is cancelled as from another request, and said to have run too long.
        let timedOut = CancellationSignal()
        let timer = turnTimeout.map { limit in
            Task {
                try await Task.sleep(for: limit)
                timedOut.cancel()
                signal.cancel()
            }
        }
        defer { timer?.cancel() }
        let ledger = usageLedger.withLock { $0 }
        _ = ledger?.takeRefusedTurn(threadID: id)
        let gate = TurnEventGate(emit)
        async let engineTurn = engine.runTurn(
            AgentTurn(conversationID: id, plan: plan, history: history, workspace: workspace, signal: signal), emit: gate.pass)
        if let recordStart {
            do {
                try await recordStart()
            } catch {
                // Nothing of the turn was told: it is stopped, and said to have failed to start (a new
                // conversation that could not be recorded has no id a client could use).
                gate.close()
                signal.cancel()
                _ = try? await engineTurn
                let isNew = plan.conversationID == nil
                if isNew { emit(.threadStarted(conversationID: "")) }
                emit(.turnFailed(message: TurnFailure.storage(error.localizedDescription).description))
                return .failed(conversationID: isNew ? "" : id, reason: .storage(error.localizedDescription))
            }
        }
        emit(.turnStarted)
        gate.open()
        do {
            let result = try await engineTurn
            (text, usage) = (result.text, result.usage)
        } catch is TurnCancelled where timedOut.isCancelled {
            let seconds = turnTimeout.map { String(format: "%g", $0.milliseconds / 1000) } ?? "?"
            return await abort(id, reason: .model("The turn ran longer than TURN_TIMEOUT_SECONDS (\(seconds) s) and was stopped."), emit: emit)
        } catch is TurnCancelled {
            return await abort(id, reason: .cancelled, emit: emit)
        } catch is CancellationError {
            return await abort(id, reason: .cancelled, emit: emit)
        } catch {
            if Task.isCancelled { return await abort(id, reason: .cancelled, emit: emit) }
            // A model call of the turn was refused for the budget (the relay noted it): said as such,
            // not as the engine's own account of a 429.
            if let refused = ledger?.takeRefusedTurn(threadID: id) {
                return await abort(id, reason: .model("The turn stopped: \(refused)"), emit: emit)
            }
            return await abort(id, reason: .model((error as? AgentTurnError)?.description ?? String(describing: error)), emit: emit)
        }
        do {
            try await store.appendAssistantMessage(id, text: text, usage: usage)
        } catch {
            emit(.turnFailed(message: TurnFailure.storage(error.localizedDescription).description))
            return .failed(conversationID: id, reason: .storage(error.localizedDescription))
        }
        GatewayMetrics.recordTokens(usage)
        if !engine.modelCallsAreRelayed { ledger?.record(account: plan.principal?.owner ?? "gateway", model: plan.model, usage: usage) }
        emit(.turnCompleted(usage))
        return .completed(conversationID: id, text: text, model: plan.model, usage: usage)
    }

    /// A new conversation's record, with the turn's prompt as its first message, and where it lives.
    private func createRecord(_ plan: TurnPlan, id: String?, workspace: String?) async throws -> ConversationRecord {
        let record = try await store.create(
            id: id, model: plan.model, provider: providerID, owner: plan.owner, workspace: workspace, firstMessage: (plan.prompt, plan.images))
        await placement?.recordHere(record.id)
        logger.info(
            "codex.conversation_starts", metadata: ["conversation.id": .string(record.id), "model": .string(plan.model), "provider": .string(providerID)])
        return record
    }

    private func abort(_ id: String, reason: TurnFailure, emit: @Sendable (TurnEvent) -> Void) async -> TurnOutcome {
        try? await store.appendTurnAborted(id, reason: reason == .cancelled ? "interrupted" : "error")
        logger.info("turn ended without an answer", metadata: ["conversation.id": .string(id), "reason": .string(reason.description)])
        emit(.turnFailed(message: reason.description))
        return .failed(conversationID: id, reason: reason)
    }
}
