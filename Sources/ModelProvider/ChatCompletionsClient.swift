import Foundation
import Logging

/// `wire_api = "chat"`: `POST {base_url}/chat/completions` with `stream: true`.
public struct ChatCompletionsClient: ModelClient {
    package let transport: ProviderTransport
    package let logger: Logger

    public init(transport: ProviderTransport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }

    package func requestBody(_ request: ModelRequest) throws -> Data {
        let messages = request.messages.map { message -> [String: Any] in
            guard !message.images.isEmpty else { return ["role": message.role.rawValue, "content": message.content] }
            let parts: [[String: Any]] = [["type": "text", "text": message.content]]
                + message.images.map { ["type": "image_url", "image_url": ["url": $0]] }
            return ["role": message.role.rawValue, "content": parts]
        }
        var body: [String: Any] = [
            "model": request.model,
            "messages": messages,
            "stream": true,
            "stream_options": ["include_usage": true],
        ]
        if let schema = request.outputSchema {
            body["response_format"] = [
                "type": "json_schema",
                "json_schema": ["name": "output", "schema": try JSONSerialization.jsonObject(with: JSONEncoder().encode(schema)), "strict": true],
            ]
        }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    public func respond(to request: ModelRequest, onEvent: (ModelStreamEvent) async throws -> Void) async throws {
        let response = try await transport.post(path: "/chat/completions", body: try requestBody(request), retryDeadline: request.retryDeadline)
        let start = ContinuousClock.now
        var toolCalls: [Int: ToolCall] = [:]
        var done = false
        var usage: TokenUsage?
        try await EventStreamReader.read(response, idleTimeoutMilliseconds: transport.provider.streamIdleTimeoutMilliseconds) { event in
            if event.data == "[DONE]" {
                done = true
                return false
            }
            guard let chunk = EventStreamReader.json(event.data) else {
                logger.debug("skipping a non-JSON data line from the model stream")
                return true
            }
            if let error = chunk["error"] as? [String: Any] {
                throw ModelClientError.provider(error["message"] as? String ?? "unknown error")
            }
            if let rawUsage = chunk["usage"] as? [String: Any] {
                let details = rawUsage["prompt_tokens_details"] as? [String: Any]
                usage = TokenUsage(
                    inputTokens: EventStreamReader.int(rawUsage["prompt_tokens"]),
                    cachedInputTokens: EventStreamReader.int(details?["cached_tokens"]),
                    outputTokens: EventStreamReader.int(rawUsage["completion_tokens"])
                )
            }
            let choices = chunk["choices"] as? [[String: Any]] ?? []
            for choice in choices {
                guard let delta = choice["delta"] as? [String: Any] else { continue }
                if let text = delta["content"] as? String, !text.isEmpty {
                    try await onEvent(.textDelta(text))
                }
                for fragment in delta["tool_calls"] as? [[String: Any]] ?? [] {
                    let index = EventStreamReader.int(fragment["index"])
                    var call = toolCalls[index] ?? ToolCall(index: index, id: nil, name: "", arguments: "")
                    if let id = fragment["id"] as? String { call.id = id }
                    if let function = fragment["function"] as? [String: Any] {
                        if let name = function["name"] as? String { call.name += name }
                        if let arguments = function["arguments"] as? String { call.arguments += arguments }
                    }
                    toolCalls[index] = call
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
