import Foundation
import GatewayRuntime
import Logging

/// `wire_api = "chat"`: `POST {base_url}/chat/completions` with `stream: true`.
public struct ChatCompletionsClient: ModelClient {
    package let transport: ProviderTransport
    package let logger: Logger

    public init(transport: ProviderTransport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }

    package func requestBody(_ request: ModelRequest) -> Data {
        let messages = request.messages.map { message -> ChatMessage in
            guard !message.images.isEmpty else { return ChatMessage(role: message.role.rawValue, content: .text(message.content)) }
            let parts = [ChatContentPart.text(message.content)] + message.images.map { ChatContentPart.imageURL($0, detail: nil) }
            return ChatMessage(role: message.role.rawValue, content: .parts(parts))
        }
        var body = ChatCompletionRequest(model: request.model, messages: messages)
        body.stream = true
        body.streamOptions = .init(includeUsage: true)
        if let schema = request.outputSchema {
            body.responseFormat = .object([
                "type": .string("json_schema"),
                "json_schema": .object(["name": .string("output"), "schema": schema, "strict": .bool(true)]),
            ])
        }
        return WireCoding.data(body)
    }

    public func respond(to request: ModelRequest, onEvent: (ModelStreamEvent) async throws -> Void) async throws {
        let response = try await transport.post(path: "/chat/completions", body: requestBody(request), retryDeadline: request.retryDeadline)
        let start = ContinuousClock.now
        var toolCalls: [Int: ToolCall] = [:]
        var done = false
        var usage: TokenUsage?
        try await EventStreamReader.read(response, idleTimeoutMilliseconds: transport.provider.streamIdleTimeoutMilliseconds) { event in
            if event.data == "[DONE]" {
                done = true
                return false
            }
            guard let chunk = try? WireCoding.decode(ChatCompletionChunk.self, from: event.data) else {
                logger.debug("skipping a non-JSON data line from the model stream")
                return true
            }
            if let error = chunk.error {
                throw ModelClientError.provider(error.message ?? "unknown error")
            }
            if let reported = chunk.usage { usage = reported.tokenUsage }
            for choice in chunk.choices ?? [] {
                guard let delta = choice.delta else { continue }
                if let text = delta.content, !text.isEmpty {
                    try await onEvent(.textDelta(text))
                }
                for fragment in delta.toolCalls ?? [] {
                    var call = toolCalls[fragment.index] ?? ToolCall(index: fragment.index, id: nil, name: "", arguments: "")
                    if let id = fragment.id { call.id = id }
                    if let name = fragment.function?.name { call.name += name }
                    if let arguments = fragment.function?.arguments { call.arguments += arguments }
                    toolCalls[fragment.index] = call
                }
            }
            return true
        }
        guard done else { throw ModelClientError.streamEnded }
        if !toolCalls.isEmpty {
            try await onEvent(.toolCalls(toolCalls.values.sorted { $0.index < $1.index }))
        }
        if let usage { try await onEvent(.usage(usage)) }
        EventStreamReader.logCompletion(logger, since: start, usage: usage)
        try await onEvent(.completed)
    }
}
