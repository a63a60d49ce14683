import Foundation
import Logging

/// `wire_api = "responses"`: `POST {base_url}/responses` with `stream: true`.
public struct ResponsesClient: ModelClient {
    package let transport: ProviderTransport
    package let logger: Logger

    public init(transport: ProviderTransport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }

    package func requestBody(_ request: ModelRequest) -> Data {
        var input: [ResponseItem] = []
        var instructions: [String] = []
        for message in request.messages {
            switch message.role {
            case .system:
                instructions.append(message.content)
            case .user:
                let parts = [ResponseContentPart.inputText(message.content)]
                    + message.images.map { ResponseContentPart.inputImage(imageURL: $0, fileID: nil, detail: nil) }
                input.append(.message(ResponseMessage(role: "user", content: .parts(parts))))
            case .assistant:
                input.append(.message(ResponseMessage(role: "assistant", content: .parts([.outputText(message.content)]))))
            }
        }
        var body = ResponsesRequest(model: request.model, input: .items(input))
        body.stream = true
        body.store = false
        if !instructions.isEmpty { body.instructions = instructions.joined(separator: "\n\n") }
        if let schema = request.outputSchema {
            body.text = ResponsesTextOptions(format: .init(type: "json_schema", name: "output", schema: schema, strict: true))
        }
        return WireCoding.data(body)
    }

    public func respond(to request: ModelRequest, onEvent: (ModelStreamEvent) async throws -> Void) async throws {
        let response = try await transport.post(path: "/responses", body: requestBody(request), retryDeadline: request.retryDeadline)
        let start = ContinuousClock.now
        var completed = false
        var usage: TokenUsage?
        try await EventStreamReader.read(response, idleTimeoutMilliseconds: transport.provider.streamIdleTimeoutMilliseconds) { event in
            guard let payload = try? WireCoding.decode(ResponseStreamEvent.self, from: event.data) else {
                logger.debug("skipping a non-JSON data line from the model stream")
                return true
            }
            switch event.event ?? payload.type {
            case "response.output_text.delta":
                if let delta = payload.delta, !delta.isEmpty { try await onEvent(.textDelta(delta)) }
            case "response.completed", "response.incomplete":
                if let reported = payload.response?.usage { usage = reported.tokenUsage }
                completed = true
                return false
            case "response.failed":
                throw ModelClientError.provider(payload.response?.error?.message ?? "the response failed")
            case "error":
                throw ModelClientError.provider(payload.message ?? payload.error?.message ?? "unknown error")
            default:
                break
            }
            return true
        }
        guard completed else { throw ModelClientError.streamEnded }
        if let usage { try await onEvent(.usage(usage)) }
        EventStreamReader.logCompletion(logger, since: start, usage: usage)
        try await onEvent(.completed)
    }
}
