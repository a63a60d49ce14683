import AsyncHTTPClient
import Foundation
import GatewayAPI
import GatewayRuntime
import Hummingbird
import Logging
import ModelProvider
import NIOCore
import NIOHTTP1

extension GatewayHandlers {
    /// `POST /v1/responses`: relayed as it is to a `wire_api = "responses"` provider; translated
    /// both ways for a `wire_api = "chat"` one (``ResponsesChatRequest``).
    public func createResponse(_ input: Operations.CreateResponse.Input, context: Context) async throws -> Operations.CreateResponse.Output {
        let outcome: RelayOutcome =
            switch relay.transport.provider.wireAPI {
            case .responses: await relayAsIs(input.rawBody, contentType: input.contentType, api: .responses, context: context)
            case .chat: await bridgeToChat(input.rawBody, contentType: input.contentType, context: context)
            }
        switch outcome {
        case .answer(let answer, let isStream): return .ok(isStream ? .eventStream(answer) : .json(answer))
        case .badRequest(let envelope): return .badRequest(.json(envelope))
        case .tooManyTurns(let envelope): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: 1))
        case .overBudget(let envelope, let retryAfter): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
        case .modelNotAllowed(let envelope): return .forbidden(.json(envelope))
        case .failed(.notConfigured(let envelope)): return .serviceUnavailable(.json(envelope))
        case .failed(.badGateway(let envelope)): return .badGateway(.json(envelope))
        case .failed(.rateLimited(let envelope, let retryAfter)): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
        case .failed(.other(let status, let envelope)): return .undocumented(status: status, .json(envelope))
        }
    }

    /// A Responses request answered by a chat provider: the request translated to Chat Completions
    /// (always streamed from the provider), its chunks translated to Responses events as they
    /// come, or gathered into the response object for a client that did not ask for a stream.
    ///
    /// An error before the provider's answer starts keeps its HTTP status class, as for a relayed
    /// request; once the answer has started, a failure is `response.failed`.
    private func bridgeToChat(_ body: ByteBuffer, contentType: String?, context: Context) async -> RelayOutcome {
        let request: ResponsesChatRequest
        let permit: TurnPermit?
        let admission = await admit(contentType: contentType, context: context, model: \.model) {
            try ResponsesChatRequest(body: body, defaultModel: relay.defaultModel)
        }
        switch admission {
        case .admitted(let admitted, let granted): (request, permit) = (admitted, granted)
        case .refused(let outcome): return outcome
        }
        let response: HTTPClientResponse
        switch await forward(method: .POST, path: "/chat/completions", body: request.chatBody, accept: "text/event-stream", context: context) {
        case .success(let answer): response = answer
        case .failure(let failure):
            permit?.release()
            return .failed(failure)
        }
        let idleTimeout = relay.transport.provider.streamIdleTimeoutMilliseconds
        let logger = context.logger
        let recordUsage = usageRecorder(model: request.model, context: context)
        /// Feeds the provider's answer through `translator`, handing each piece of output to
        /// `emit`; the translator ends with `response.completed` or `response.failed`.
        @Sendable func translate(_ translator: inout ResponsesStreamTranslator, emit: (ByteBuffer) async throws -> Void) async throws {
            defer { permit?.release() }
            var recorded = false
            // A client that left mid-answer: the call counts what is known.
            defer { if !recorded { recordUsage?(translator.usage) } }
            var failure: (any Error)?
            do {
                for try await chunk in response.body {
                    let events = translator.translate(chunk)
                    if events.readableBytes > 0 { try await emit(events) }
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // The client's side failing (it left) ends the request here; the provider's
                // side failing is told to the client as `response.failed`.
                if Task.isCancelled { throw CancellationError() }
                if error is ResponseBodyWriteError { throw error }
                failure = ModelClientError.streamBroke(error, idleTimeoutMilliseconds: idleTimeout)
                logger.warning("bridged stream broke off", metadata: ["error.message": .string(String(describing: error))])
            }
            let tail = translator.finish(error: failure)
            if let usage = translator.usage { GatewayMetrics.recordTokens(usage) }
            // Counted before the client sees the end; a broken stream counts what is known.
            recordUsage?(translator.usage)
            recorded = true
            if tail.readableBytes > 0 { try await emit(tail) }
        }
        if request.stream {
            let translator = request.translator
            let body = ResponseBody { writer in
                var translator = translator
                try await translate(&translator) { events in
                    do { try await writer.write(events) } catch { throw ResponseBodyWriteError(underlying: error) }
                }
                try await writer.finish(nil)
            }
            return .answer(RawResponseBody(body: body, contentType: "text/event-stream", headers: Self.streamHeaders), isStream: true)
        }
        var translator = request.translator
        do {
            try await translate(&translator) { _ in }
        } catch {
            return .failed(.badGateway(brokenOff(error, context: context)))
        }
        let object = translator.responseObject()
        if translator.isFailed {
            // The failed response object (its `error` says what happened) under `upstream`.
            var answer = envelope(context, 502, "upstream_error", "The model provider's answer failed before it was complete.")
            answer.upstream = try? JSONDecoder().decode([String: JSONValue].self, from: Data(object.readableBytesView))
            return .failed(.badGateway(answer))
        }
        return .answer(RawResponseBody(body: ResponseBody(byteBuffer: object), contentType: "application/json"), isStream: false)
    }
}

/// Writing to the client failed (it went away): not the provider's failure.
private struct ResponseBodyWriteError: Error {
    var underlying: any Error
}
