import Foundation
import GatewayAPI
import GatewayRuntime
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import NIOWebSocket
import Synchronization
import WSCore

/// One client on `/ws` (PROTOCOLS.md §4): JSON text frames in, JSON text frames out.
///
/// Everything the connection does is a child task of ``run(inbound:outbound:context:)``: a single
/// writer that drains the queue of outgoing messages (so frames of concurrent turns never
/// interleave, and a slow socket never blocks a turn's bookkeeping), an idle watchdog, and one
/// task per `exec`. The reading loop itself never waits for a turn, so an `interrupt` is read while
/// turns run. When the client leaves, the group is cancelled: running turns stop, and so do their
/// upstream requests.
struct WebSocketConnection: Sendable {
    let conversations: ConversationManager
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
        let (messages, outbox) = AsyncStream.makeStream(of: WSServerMessage.self)
        let sender = Sender(outbox: outbox)
        let activity = ActivityClock()
        let readError = await withDiscardingTaskGroup(returning: (any Error)?.self) { group in
            group.addTask { await Self.write(messages, to: outbound, closing: outbox, logger: logger) }
            group.addTask { await closeWhenIdle(activity, outbound: outbound, channel: context.channel) }
            var failure: (any Error)?
            do {
                for try await message in inbound.messages(maxSize: settings.maxMessageSize) {
                    activity.touch()
                    settings.activity?.record()
                    switch message {
                    case .text(let text):
                        await receive(text, sender: sender, activity: activity, group: &group)
                    case .binary:
                        sender.post(
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

    private func receive(_ text: String, sender: Sender, activity: ActivityClock, group: inout DiscardingTaskGroup) async {
        let message: WSClientMessage
        do {
            message = try JSONDecoder().decode(WSClientMessage.self, from: Data(text.utf8))
        } catch {
            let description = (error as? DecodingError).map { RequestBodyDecoding.describe($0, root: "message") } ?? "The message is not valid."
            sender.post(.error(WSErrorMessage(type: .error, message: description, code: "invalid_message", id: Self.clientID(in: text))))
            return
        }
        switch message {
        case .ping:
            sender.post(.pong(WSPongMessage(type: .pong)))
        case .exec(let exec):
            activity.turnStarted()
            group.addTask {
                defer { activity.turnEnded() }
                await runTurn(exec, sender: sender)
            }
        case .interrupt(let interrupt):
            await self.interrupt(interrupt.conversationID, sender: sender)
        }
    }

    /// Checks the turn (answering `error` if it cannot start), acknowledges it, then streams its events.
    private func runTurn(_ exec: WSExecMessage, sender: Sender) async {
        let plan: ConversationManager.TurnPlan
        do {
            _ = try authenticator.admit(principal)
            plan = try await conversations.prepareTurn(
                conversationID: exec.conversationID,
                prompt: exec.prompt,
                model: exec.model,
                owner: principal
            )
        } catch let error as GatewayError where error.code == "rate_limited" {
            sender.post(.error(WSErrorMessage(type: .error, message: error.message, code: error.code, id: exec.id)))
            return
        } catch let error as ConversationError {
            sender.post(.error(WSErrorMessage(type: .error, message: error.description, code: error.code, id: exec.id)))
            return
        } catch {
            logger.error("a turn could not be prepared", metadata: ["error": .string("\(error)")])
            sender.post(.error(WSErrorMessage(type: .error, message: "Internal server error.", code: "internal_error", id: exec.id)))
            return
        }
        do {
            try sender.send(.ack(WSAckMessage(type: .ack, message: "accepted", conversationID: plan.conversationID, id: exec.id)))
            try await conversations.streamTurn(plan) { event in
                try sender.send(.event(WSEventMessage(type: .event, event: ExecEvent(event), id: exec.id)))
            }
        } catch {
            // The connection is closing: streamTurn has cancelled the turn and its upstream request.
            logger.debug("turn stopped because the WebSocket closed", metadata: ["error": .string("\(error)")])
        }
    }

    private func interrupt(_ conversationID: String, sender: Sender) async {
        do {
            if try await conversations.cancel(conversationID) {
                sender.post(.ack(WSAckMessage(type: .ack, message: "cancelled", conversationID: conversationID)))
            } else {
                let message = "The conversation '\(conversationID)' has no turn running."
                sender.post(.error(WSErrorMessage(type: .error, message: message, code: "conversation_not_running")))
            }
        } catch let error as ConversationError {
            sender.post(.error(WSErrorMessage(type: .error, message: error.description, code: error.code)))
        } catch {
            logger.error("a turn could not be cancelled", metadata: ["error": .string("\(error)")])
            sender.post(.error(WSErrorMessage(type: .error, message: "Internal server error.", code: "internal_error")))
        }
    }

    /// Writes queued messages, one text message each, in order; ends when cancelled or the socket fails.
    private static func write(
        _ messages: AsyncStream<WSServerMessage>,
        to outbound: WebSocketOutboundWriter,
        closing outbox: AsyncStream<WSServerMessage>.Continuation,
        logger: Logger
    ) async {
        defer { outbox.finish() }  // later sends fail, which stops the turns still producing
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for await message in messages {
            let text: String
            do {
                text = String(decoding: try encoder.encode(message), as: UTF8.self)
            } catch {
                logger.error("a WebSocket message could not be encoded", metadata: ["error": .string("\(error)")])
                continue
            }
            do {
                try await outbound.writeTextMessage(text)
            } catch {
                logger.debug("WebSocket write failed", metadata: ["error": .string("\(error)")])
                return
            }
        }
    }

    /// Closes with 1001 once nothing was received and no turn ran for the idle timeout; drops the
    /// connection if the client does not answer the close in time.
    private func closeWhenIdle(_ activity: ActivityClock, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        do {
            while true {
                let deadline = activity.idleDeadline(after: settings.idleTimeout)
                if let deadline, deadline <= .now { break }
                // A loop timer, not `Task.sleep`: that one would hold its memory until the
                // deadline, minutes after the connection closed.
                try await channel.eventLoop.sleep(for: (deadline ?? .now + settings.idleTimeout) - .now)
            }
            logger.info("closing an idle WebSocket", metadata: ["idle_timeout_ms": .stringConvertible(settings.idleTimeout / .milliseconds(1))])
            try await outbound.close(.goingAway, reason: "idle timeout")
            try await channel.eventLoop.sleep(for: settings.closeTimeout)
            channel.close(promise: nil)
        } catch {
            // Cancelled: the connection ended first.
        }
    }

    /// The `id` of a message that failed to decode, so the client can match the error to it.
    private static func clientID(in text: String) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return object?["id"] as? String
    }
}

/// Queues messages for the connection's writer.
private struct Sender: Sendable {
    let outbox: AsyncStream<WSServerMessage>.Continuation

    /// Queues `message`; throws once the connection is closing, so a turn stops producing.
    func send(_ message: WSServerMessage) throws {
        if case .terminated = outbox.yield(message) { throw CancellationError() }
    }

    /// Queues `message` if the connection is still open.
    func post(_ message: WSServerMessage) {
        outbox.yield(message)
    }
}

/// When the connection last did something, for the idle timeout. A running turn counts as activity.
private final class ActivityClock: Sendable {
    private struct State {
        var lastActivity = ContinuousClock.now
        var runningTurns = 0
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

    /// When the connection becomes idle unless something happens; nil while a turn runs.
    func idleDeadline(after timeout: Duration) -> ContinuousClock.Instant? {
        state.withLock { $0.runningTurns > 0 ? nil : $0.lastActivity + timeout }
    }
}

extension ConversationError {
    /// The `code` of the `error` message on `/ws` (the same codes as the HTTP envelope of `/exec`).
    var code: String {
        switch self {
        case .notFound: "conversation_not_found"
        case .busy: "conversation_busy"
        case .modelNotConfigured: "model_not_configured"
        case .invalidPrompt: "invalid_request"
        case .tooManyTurns: "too_many_turns"
        }
    }
}
