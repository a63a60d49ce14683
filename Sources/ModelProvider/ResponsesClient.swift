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

    package func requestBody(_ request: ModelRequest) throws -> Data {
        var input: [[String: Any]] = []
        var instructions: [String] = []
        for message in request.messages {
            switch message.role {
            case .system:
                instructions.append(message.content)
            case .user:
                let parts: [[String: Any]] = [["type": "input_text", "text": message.content]]
                    + message.images.map { ["type": "input_image", "image_url": $0] }
                input.append(["type": "message", "role": "user", "content": parts])
            case .assistant:
                input.append(["type": "message", "role": "assistant", "content": [["type": "output_text", "text": message.content]]])
            }
        }
        var body: [String: Any] = ["model": request.model, "input": input, "stream": true, "store": false]
        if !instructions.isEmpty { body["instructions"] = instructions.joined(separator: "\n\n") }
        if let schema = request.outputSchema {
            body["text"] = [
                "format": [
                    "type": "json_schema", "name": "output", "strict": true,
                    "schema": try JSONSerialization.jsonObject(with: JSONEncoder().encode(schema)),
                ]
            ]
        }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    public func respond(to request: ModelRequest, onEvent: (ModelStreamEvent) async throws -> Void) async throws {
        let response = try await transport.post(path: "/responses", body: try requestBody(request), retryDeadline: request.retryDeadline)
        let start = ContinuousClock.now
        var completed = false
        var usage: TokenUsage?
        try await EventStreamReader.read(response, idleTimeoutMilliseconds: transport.provider.streamIdleTimeoutMilliseconds) { event in
            guard let payload = EventStreamReader.json(event.data) else {
                logger.debug("skipping a non-JSON data line from the model stream")
                return true
            }
            let type = event.event ?? payload["type"] as? String ?? ""
            switch type {
            case "response.output_text.delta":
                if let delta = payload["delta"] as? String, !delta.isEmpty { try await onEvent(.textDelta(delta)) }
            case "response.completed", "response.incomplete":
                if let rawUsage = (payload["response"] as? [String: Any])?["usage"] as? [String: Any] {
                    let details = rawUsage["input_tokens_details"] as? [String: Any]
                    usage = TokenUsage(
                        inputTokens: EventStreamReader.int(rawUsage["input_tokens"]),
                        cachedInputTokens: EventStreamReader.int(details?["cached_tokens"]),
                        outputTokens: EventStreamReader.int(rawUsage["output_tokens"])
                    )
                }
                completed = true
                return false
            case "response.failed":
                let error = (payload["response"] as? [String: Any])?["error"] as? [String: Any]
                throw ModelClientError.provider(error?["message"] as? String ?? "the response failed")
            case "error":
                throw ModelClientError.provider(payload["message"] as? String ?? (payload["error"] as? [String: Any])?["message"] as? String ?? "unknown error")
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
