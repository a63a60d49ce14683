import AsyncAlgorithms
import Foundation
import GatewayAPI
import GatewayRuntime
import HummingbirdWebSocket
import Logging
import Metrics
import ModelProvider
import NIOCore
import NIOWebSocket
import Synchronization
import WSCore

/// One client on `/ws` (PROTOCOLS.md §4): JSON text frames in, JSON text frames out.
///
/// Everything the connection does is a child task of ``run(inbound:outbound:context:)``: a single
/// writer that takes the outgoing messages one at a time (so frames of concurrent turns never
/// interleave), an idle watchdog, and one task per `exec`. The reading loop itself never waits for
/// a turn, so an `interrupt` is read while turns run. When the client leaves, the group is
/// cancelled: running turns stop, and so do their upstream requests.
///
/// Nothing queues without bound: a message is handed to the writer only once it has written the
/// one before, and the writer waits while the socket cannot take more. A client that stops reading
/// therefore holds back its turns' events (a turn's own bookkeeping goes on: see
/// `ConversationManager.streamTurn`) and the reading loop (its pings' pongs), and the gateway stops
/// reading from it until it reads again. Every message it was sent is still delivered, in order.
/// A client that takes nothing for the idle timeout is dropped (there is no one to deliver to).
///
/// The credential the handshake authenticated is checked again every
/// `credentialCheckInterval`: once the key is revoked (also from another process) or the access
/// token is revoked or expired, the connection is closed with 1008 (policy violation) and its
/// running turns are cancelled.
struct WebSocketConnection: Sendable {
    let conversations: ConversationManager
    /// Where the `approval` answers go.
    let approvals: ApprovalCenter
    /// Who the handshake authenticated; each `exec` counts against its limits like a request.
    let principal: Principal
    let authenticator: GatewayAuthenticator
    let settings: WebSocketController.Settings
    let logger: Logger
    private static let openConnections = Meter(label: GatewayMetrics.openWebSockets)

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketConnectionContext) async throws {
        logger.info("WebSocket opened")
        Self.openConnections.increment()
        defer { Self.openConnections.decrement() }
        let opened = ContinuousClock.now
        let sender = Sender()
        let activity = ActivityClock()
        let interest = ConversationInterest()
        // Subscribed before the first frame is read, so no approval of a watched conversation is missed.
        let notices = approvals.notices(owner: principal.owner)
        let readError = await withDiscardingTaskGroup(returning: (any Error)?.self) { group in
            group.addTask { await Self.write(sender, to: outbound, activity: activity, logger: logger) }
            group.addTask { await Self.relay(notices, of: interest, to: sender) }
            group.addTask { await closeWhenIdle(activity, outbound: outbound, channel: context.channel) }
            group.addTask { await closeWhenCredentialLapses(sender: sender, outbound: outbound, channel: context.channel) }
            var failure: (any Error)?
            do {
                for try await message in inbound.messages(maxSize: settings.maxMessageSize) {
                    activity.touch()
                    settings.activity?.record()
                    switch message {
                    case .text(let text):
                        await receive(text, sender: sender, activity: activity, interest: interest, group: &group)
                    case .binary:
                        await sender.post(
                            .error(
                                WSErrorMessage(
                                    type: .error, message: "Binary frames are not supported: send JSON text frames.", code: "invalid_message")))
                    }
                }
            } catch {
                failure = error
            }
            group.cancelAll()
            return failure
        }
        logger.info("WebSocket closed", metadata: ["duration_ms": .stringConvertible((ContinuousClock.now - opened) / .milliseconds(1))])
        // Rethrown so WebSocketHandler closes with the code the error calls for (1009 too big, 1007 not UTF-8).
        if let readError { throw readError }
    }

    private func receive(_ text: String, sender: Sender, activity: ActivityClock, interest: ConversationInterest, group: inout DiscardingTaskGroup) async {
        let message: WSClientMessage
        do {
            message = try JSONDecoder().decode(WSClientMessage.self, from: Data(text.utf8))
        } catch {
            let description = (error as? DecodingError).map { RequestBodyDecoding.describe($0, root: "message") } ?? "The message is not valid."
            await sender.post(.error(WSErrorMessage(type: .error, message: description, code: "invalid_message", id: Self.clientID(in: text))))
            return
        }
        switch message {
        case .ping:
            await sender.post(.pong(WSPongMessage(type: .pong)))
        case .exec(let exec):
            activity.turnStarted()
            group.addTask {
                defer { activity.turnEnded() }
                await runTurn(exec, sender: sender, interest: interest)
            }
        case .interrupt(let interrupt):
            await self.interrupt(interrupt.conversationID, sender: sender)
        case .watch(let watch):
            await self.watch(watch.conversationID, sender: sender, interest: interest)
        case .approval(let answer):
            do {
                // Here, or on the replica whose turn asked it (a conversation homed there).
                try await approvals.answer(
                    answer.approvalID, decision: ApprovalDecision(rawValue: answer.decision.rawValue) ?? .decline, for: principal,
                    elsewhere: conversations.remote)
            } catch ApprovalCenter.AnswerError.alreadyAnswered(let earlier) {
                let message = "The approval '\(answer.approvalID)' was already answered: \(earlier.rawValue)."
                await sender.post(.error(WSErrorMessage(type: .error, message: message, code: "approval_already_answered")))
            } catch let error as GatewayError {
                await sender.post(.error(WSErrorMessage(type: .error, message: error.message, code: error.code)))
            } catch {
                let message = "No pending approval with id '\(answer.approvalID)'."
                await sender.post(.error(WSErrorMessage(type: .error, message: message, code: "approval_not_found")))
            }
        }
    }

    /// Checks the turn (answering `error` if it cannot start), acknowledges it, then streams its events.
    private func runTurn(_ exec: WSExecMessage, sender: Sender, interest: ConversationInterest) async {
        let plan: ConversationManager.TurnPlan
        do {
            _ = try await authenticator.admit(principal)
            plan = try await conversations.prepareTurn(
                conversationID: exec.conversationID,
                prompt: exec.prompt,
                model: exec.model,
                options: TurnOptions(workspace: exec.workspace, sandbox: exec.sandbox, approvalPolicy: exec.approvalPolicy),
                principal: principal
            )
        } catch let error as GatewayError {
            // Rate limited here, or refused by the conversation's home replica (or it does not answer).
            await sender.post(.error(WSErrorMessage(type: .error, message: error.message, code: error.code, id: exec.id)))
            return
        } catch let error as ConversationError {
            await sender.post(.error(WSErrorMessage(type: .error, message: error.description, code: error.code, id: exec.id)))
            return
        } catch {
            logger.error("a turn could not be prepared", metadata: ["error": .string("\(error)")])
            await sender.post(.error(WSErrorMessage(type: .error, message: "Internal server error.", code: "internal_error", id: exec.id)))
            return
        }
        // This turn's approvals reach this socket with its events, in order; the socket's other
        // watched conversations' through `relay`.
        var running = plan.conversationID
        if let running { interest.started(running) }
        defer { if let running { interest.ended(running) } }
        do {
            try await sender.send(.ack(WSAckMessage(type: .ack, message: "accepted", conversationID: plan.conversationID, id: exec.id)))
            try await conversations.streamTurn(plan) { event in
                if case .threadStarted(let id) = event, running == nil {
                    running = id
                    interest.started(id)
                }
                if case .approvalRequested(let approval) = event {
                    try await sender.send(.approvalRequest(WSApprovalRequestMessage(type: .approvalRequest, approval: Approval(approval), id: exec.id)))
                } else {
                    try await sender.send(.event(WSEventMessage(type: .event, event: ExecEvent(event), id: exec.id)))
                }
            }
        } catch {
            // The connection is closing: streamTurn has cancelled the turn and its upstream request.
            logger.debug("turn stopped because the WebSocket closed", metadata: ["error": .string("\(error)")])
        }
    }

    /// Adds `conversationID` to what this socket watches and sends its pending approvals.
    private func watch(_ conversationID: String, sender: Sender, interest: ConversationInterest) async {
        do {
            guard try await conversations.isVisible(conversationID, to: principal) else {
                throw ConversationError.notFound(conversationID)
            }
        } catch let error as ConversationError {
            await sender.post(.error(WSErrorMessage(type: .error, message: error.description, code: error.code)))
            return
        } catch {
            logger.error("a conversation could not be watched", metadata: ["error": .string("\(error)")])
            await sender.post(.error(WSErrorMessage(type: .error, message: "Internal server error.", code: "internal_error")))
            return
        }
        let id = conversationID.lowercased()
        interest.watch(id)
        await sender.post(.ack(WSAckMessage(type: .ack, message: "watching", conversationID: id)))
        for approval in approvals.pending(owner: principal.owner, conversationID: id) where !interest.isRunningHere(id) {
            await sender.post(.approvalRequest(WSApprovalRequestMessage(type: .approvalRequest, approval: Approval(approval))))
        }
    }

    /// Sends the approvals of the conversations this socket watches but does not run right now
    /// (a turn run here sends its own, in order with its events), asked and answered anywhere.
    private static func relay(_ notices: AsyncStream<ApprovalNotice>, of interest: ConversationInterest, to sender: Sender) async {
        for await notice in notices {
            let id = notice.approval.conversationID
            guard interest.isWatched(id), !interest.isRunningHere(id) else { continue }
            switch notice {
            case .requested(let approval):
                await sender.post(.approvalRequest(WSApprovalRequestMessage(type: .approvalRequest, approval: Approval(approval))))
            case .resolved(let approval, let decision):
                await sender.post(.event(WSEventMessage(type: .event, event: ExecEvent(.approvalResolved(id: approval.id, decision: decision)))))
            }
        }
    }

    private func interrupt(_ conversationID: String, sender: Sender) async {
        do {
            if try await conversations.cancel(conversationID, by: principal) {
                await sender.post(.ack(WSAckMessage(type: .ack, message: "cancelled", conversationID: conversationID)))
            } else {
                let message = "The conversation '\(conversationID)' has no turn running."
                await sender.post(.error(WSErrorMessage(type: .error, message: message, code: "conversation_not_running")))
            }
        } catch let error as ConversationError {
            await sender.post(.error(WSErrorMessage(type: .error, message: error.description, code: error.code)))
        } catch {
            logger.error("a turn could not be cancelled", metadata: ["error": .string("\(error)")])
            await sender.post(.error(WSErrorMessage(type: .error, message: "Internal server error.", code: "internal_error")))
        }
    }

    /// Writes the messages handed over, one text message each, in order; ends when cancelled or the
    /// socket fails.
    private static func write(_ sender: Sender, to outbound: WebSocketOutboundWriter, activity: ActivityClock, logger: Logger) async {
        defer { sender.close() }  // later sends fail, which stops the turns still producing
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for await message in sender.messages {
            let text: String
            do {
                text = String(decoding: try encoder.encode(message), as: UTF8.self)
            } catch {
                logger.error("a WebSocket message could not be encoded", metadata: ["error": .string("\(error)")])
                continue
            }
            do {
                activity.writeStarted()
                defer { activity.writeEnded() }
                try await outbound.writeTextMessage(text)
            } catch {
                logger.debug("WebSocket write failed", metadata: ["error": .string("\(error)")])
                return
            }
        }
    }

    /// Closes with 1001 once nothing was received and no turn ran for the idle timeout, and drops
    /// the connection if the client does not answer the close in time. Drops it at once when the
    /// client has taken nothing of a message for the idle timeout (noticed within twice that while
    /// a turn runs): it stopped reading, and a close frame would not get through either.
    private func closeWhenIdle(_ activity: ActivityClock, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        let timeout = settings.idleTimeout
        let milliseconds = Logger.MetadataValue.stringConvertible(timeout / .milliseconds(1))
        do {
            var reason: ActivityClock.Expiry
            while true {
                let expiry = activity.expiry(after: timeout)
                if let expiry, expiry.deadline <= .now {
                    reason = expiry.reason
                    break
                }
                // A loop timer, not `Task.sleep`: that one would hold its memory until the
                // deadline, minutes after the connection closed.
                try await channel.eventLoop.sleep(for: (expiry?.deadline ?? .now + timeout) - .now)
            }
            switch reason {
            case .stalledWrite:
                logger.warning("dropping a WebSocket whose client stopped reading", metadata: ["idle_timeout_ms": milliseconds])
                channel.close(promise: nil)
            case .idle:
                logger.info("closing an idle WebSocket", metadata: ["idle_timeout_ms": milliseconds])
                // Dropped if the close handshake has not ended in time, even if the close frame
                // itself cannot be written.
                channel.eventLoop.scheduleTask(in: TimeAmount(settings.closeTimeout)) { channel.close(promise: nil) }
                try await outbound.close(.goingAway, reason: "idle timeout")
                try await channel.closeFuture.get()
            }
        } catch {
            // Cancelled: the connection ended first.
        }
    }

    /// Re-checks the principal's credential every `credentialCheckInterval`; when it no longer
    /// holds, stops the turns (later sends fail), closes with 1008 and drops the connection if the
    /// client does not answer the close in time. Returns when cancelled (the connection ended).
    private func closeWhenCredentialLapses(sender: Sender, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        do {
            while true {
                try await channel.eventLoop.sleep(for: settings.credentialCheckInterval)
                if await authenticator.isCurrent(principal) { continue }
                logger.notice("closing a WebSocket whose credential was revoked or expired")
                sender.close()
                channel.eventLoop.scheduleTask(in: TimeAmount(settings.closeTimeout)) { channel.close(promise: nil) }
                try await outbound.close(.policyViolation, reason: "credential revoked or expired")
                try await channel.closeFuture.get()
                return
            }
        } catch {
            // Cancelled: the connection ended first.
        }
    }

    /// The `id` of a message that failed to decode, so the client can match the error to it.
    private static func clientID(in text: String) -> String? {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))?["id"]?.stringValue
    }
}

/// Hands messages to the connection's writer, one at a time: a sender waits until the writer has
/// written the message before, so nothing piles up when the client does not read.
private final class Sender: Sendable {
    let messages = AsyncChannel<WSServerMessage>()
    private let closed = Atomic(false)

    /// Hands `message` over; throws once the connection is closing (or the task is cancelled), so
    /// a turn stops producing.
    func send(_ message: WSServerMessage) async throws {
        guard !closed.load(ordering: .acquiring) else { throw CancellationError() }
        await messages.send(message)
        if closed.load(ordering: .acquiring) || Task.isCancelled { throw CancellationError() }
    }

    /// Hands `message` over if the connection is still open.
    func post(_ message: WSServerMessage) async {
        try? await send(message)
    }

    /// The writer is done: senders waiting now, and later ones, return at once.
    func close() {
        closed.store(true, ordering: .releasing)
        messages.finish()
    }
}

/// The conversations a socket follows: those it runs a turn on now, and those it ran or was
/// asked to `watch`.
private final class ConversationInterest: Sendable {
    private struct State {
        var watched: Set<String> = []
        var running: [String: Int] = [:]
    }

    private let state = Mutex(State())

    func watch(_ id: String) {
        state.withLock { _ = $0.watched.insert(id.lowercased()) }
    }

    func started(_ id: String) {
        state.withLock {
            $0.watched.insert(id.lowercased())
            $0.running[id.lowercased(), default: 0] += 1
        }
    }

    func ended(_ id: String) {
        state.withLock { state in
            let id = id.lowercased()
            state.running[id] = (state.running[id] ?? 1) > 1 ? state.running[id]! - 1 : nil
        }
    }

    func isWatched(_ id: String) -> Bool {
        state.withLock { $0.watched.contains(id.lowercased()) }
    }

    func isRunningHere(_ id: String) -> Bool {
        state.withLock { $0.running[id.lowercased()] != nil }
    }
}

/// When the connection last did something, for the idle timeout. A running turn counts as
/// activity; a message the socket has not taken for the whole timeout does not.
private final class ActivityClock: Sendable {
    private struct State {
        var lastActivity = ContinuousClock.now
        var runningTurns = 0
        /// When the message being written started, if one is.
        var writingSince: ContinuousClock.Instant?
    }

    enum Expiry {
        /// Nothing received and no turn run.
        case idle
        /// A message is still not written: the client stopped reading.
        case stalledWrite
    }

    private let state = Mutex(State())

    func touch() {
        state.withLock { $0.lastActivity = .now }
    }

    func turnStarted() {
        state.withLock {
            $0.runningTurns += 1
            $0.lastActivity = .now
        }
    }

    func turnEnded() {
        state.withLock {
            $0.runningTurns -= 1
            $0.lastActivity = .now
        }
    }

    func writeStarted() {
        state.withLock { $0.writingSince = .now }
    }

    func writeEnded() {
        state.withLock { $0.writingSince = nil }
    }

    /// When the connection expires unless something happens, and why; nil while a turn runs and
    /// messages are written.
    func expiry(after timeout: Duration) -> (deadline: ContinuousClock.Instant, reason: Expiry)? {
        state.withLock { state in
            if let since = state.writingSince { return (since + timeout, .stalledWrite) }
            return state.runningTurns > 0 ? nil : (state.lastActivity + timeout, .idle)
        }
    }
}
