import AsyncHTTPClient
import Foundation
import GatewayAPI
import GatewayRuntime
import Logging
import NIOCore
import NIOFoundationCompat

/// Turns of conversations homed on another replica (``RemoteConversations``), seen by the front
/// ends here through the same ``ConversationManager/prepareTurn`` and ``ConversationManager/streamTurn``
/// as local ones.
extension ConversationManager {
    /// Starts the turn on the conversation's home, so the home's refusals (not found, busy, over a
    /// budget or cap) come back before the front end acknowledges anything, as local ones do. The
    /// turn's permit and budget are the home's: none is taken here.
    func prepareRemoteTurn(
        _ remote: RemoteConversations, home: String, conversationID: String, prompt: String, model: String?, images: [String],
        outputSchema: JSONValue?, options: TurnOptions, principal: Principal?
    ) async throws -> TurnPlan {
        let request = RemoteConversations.TurnRequest(
            prompt: prompt, conversation_id: conversationID.lowercased(), model: model, images: images.isEmpty ? nil : images,
            output_schema: outputSchema, sandbox: options.sandbox?.rawValue, approval_policy: options.approvalPolicy?.rawValue)
        let turn = try await remote.startTurn(request, principal: principal, home: home)
        logger.info("replica.turn_forwarded", metadata: ["conversation.id": .string(conversationID), "replica.url": .string(home)])
        return TurnPlan(
            conversationID: conversationID.lowercased(), prompt: prompt, model: model ?? "", images: images, outputSchema: outputSchema,
            options: options, principal: principal, permit: nil, remote: turn)
    }

    /// Hands the home's events to `consume` as they arrive. A `consume` that throws (the client
    /// left) ends the forwarded request, which the home sees as its client leaving: the turn stops
    /// there. A home that stops answering mid-turn ends it with `turnFailed`.
    func streamRemoteTurn(_ turn: RemoteConversations.Turn, model: String, consume: (TurnEvent) async throws -> Void) async throws -> TurnOutcome {
        var conversationID = ""
        var answer = ""
        var pending = ByteBuffer()
        let decoder = JSONDecoder()
        for try await chunk in turn.lines {
            pending.writeImmutableBuffer(chunk)
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending.readSlice(length: newline - pending.readableBytesView.startIndex)!
                pending.moveReaderIndex(forwardBy: 1)
                guard line.readableBytes > 0 else { continue }
                let event: TurnEvent
                do {
                    event = TurnEvent(try decoder.decode(ExecEvent.self, from: line))
                } catch {
                    logger.warning("replica.turn_line_unreadable", metadata: ["replica.url": .string(turn.home), "error.message": .string("\(error)")])
                    continue
                }
                switch event {
                case .threadStarted(let id): conversationID = id
                case .itemCompleted(_, let text): answer = text
                default: break
                }
                try await consume(event)
                switch event {
                case .turnCompleted(let usage):
                    return .completed(conversationID: conversationID, text: answer, model: model, usage: usage)
                case .turnFailed(let message):
                    return .failed(conversationID: conversationID, reason: message == TurnFailure.cancelled.description ? .cancelled : .model(message))
                default: break
                }
            }
        }
        let message = "The conversation's home replica (\(turn.home)) stopped answering before the turn ended."
        try await consume(.turnFailed(message: message))
        return .failed(conversationID: conversationID, reason: .model(message))
    }
}
