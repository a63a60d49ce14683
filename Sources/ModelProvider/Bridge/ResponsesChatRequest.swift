import GatewayRuntime
import NIOCore

/// A Responses API request translated for a `wire_api = "chat"` provider (PROTOCOLS §9).
///
/// `instructions` becomes the first (system) message; `input` items become chat messages: calls
/// in a row (`function_call`, `custom_tool_call`) one assistant message with several `tool_calls`
/// (joined to the assistant message right before them), their outputs `role: "tool"` messages, with
/// the items' `call_id` as the chat tool call ids; `reasoning` items and items of other kinds are
/// dropped. Tools: see ``ChatToolTranslation``.
package struct ResponsesChatRequest: Sendable {
    /// The request's model, or the default model when the body has none (absent or null).
    package var model: String
    /// Whether the client asked for a stream (`"stream": true`).
    package var stream: Bool
    /// The Chat Completions request to send: always `"stream": true` and
    /// `"stream_options": {"include_usage": true}`.
    package var chatBody: ByteBuffer
    /// The request as decoded.
    package let request: ResponsesRequest

    /// Throws `GatewayError.badRequest` for a body that is not a Responses request (not JSON, not an
    /// object, `input` missing or of the wrong type, a bad item), with a message naming the field.
    package init(body: ByteBuffer, defaultModel: String) throws {
        let what = "an OpenAI Responses request"
        do {
            request = try WireCoding.decode(ResponsesRequest.self, from: body)
        } catch let error as DecodingError {
            throw GatewayError.badRequest(WireCoding.message(for: error, what: what, body: body))
        }
        if request.model?.isEmpty == true { throw GatewayError.badRequest("model: expected a non-empty string.") }
        if let limit = request.maxOutputTokens, !(1...Int(Int32.max)).contains(limit) {
            throw GatewayError.badRequest("max_output_tokens: expected an integer from 1 to \(Int32.max).")
        }
        model = request.model ?? defaultModel
        stream = request.stream ?? false
        var chat = ChatCompletionRequest(model: model, messages: try Self.messages(of: request))
        chat.stream = true
        chat.streamOptions = .init(includeUsage: true)
        let tools = ChatToolTranslation(request.tools ?? [])
        chat.tools = tools.chatTools.isEmpty ? nil : tools.chatTools
        chat.toolChoice = chat.tools == nil ? nil : tools.chatToolChoice(request.toolChoice)
        chat.parallelToolCalls = chat.tools == nil ? nil : request.parallelToolCalls
        chat.maxTokens = request.maxOutputTokens
        chat.temperature = request.temperature
        chat.topP = request.topP
        chat.responseFormat = Self.responseFormat(request.text?.format)
        chatBody = WireCoding.json(chat)
    }

    /// A fresh translator for this request's answer.
    package var translator: ResponsesStreamTranslator {
        ResponsesStreamTranslator(request: request, model: model)
    }

    private static func messages(of request: ResponsesRequest) throws -> [ChatMessage] {
        var messages: [ChatMessage] = []
        if let instructions = request.instructions, !instructions.isEmpty {
            messages.append(ChatMessage(role: "system", content: .text(instructions)))
        }
        switch request.input {
        case .text(let text):
            messages.append(ChatMessage(role: "user", content: .text(text)))
        case .items(let items):
            for (index, item) in items.enumerated() {
                try append(item, at: index, to: &messages)
            }
        }
        return messages
    }

    private static func append(_ item: ResponseItem, at index: Int, to messages: inout [ChatMessage]) throws {
        switch item {
        case .message(let message):
            let role: String
            switch message.role {
            case "user", "assistant", "system": role = message.role
            // Chat providers other than OpenAI's rarely know `developer`; it means what `system` means.
            case "developer": role = "system"
            default: throw GatewayError.badRequest("input[\(index)].role: expected user, assistant, system or developer.")
            }
            messages.append(ChatMessage(role: role, content: try content(message.content, at: index, plainText: role != "user")))
        case .functionCall(let call):
            appendToolCall(ChatToolCall(id: call.callID, name: call.name, arguments: call.arguments), to: &messages)
        case .customToolCall(let call):
            let arguments = WireCoding.jsonString(["input": call.input])
            appendToolCall(ChatToolCall(id: call.callID, name: call.name, arguments: arguments), to: &messages)
        case .functionCallOutput(let output), .customToolCallOutput(let output):
            let text = try content(output.output, at: index, plainText: true)
            messages.append(ChatMessage(role: "tool", content: text, toolCallID: output.callID))
        case .reasoning, .unknown:
            break
        }
    }

    /// A call joins the assistant message before it (text or calls), else starts one.
    private static func appendToolCall(_ call: ChatToolCall, to messages: inout [ChatMessage]) {
        if var last = messages.last, last.role == "assistant" {
            last.toolCalls = (last.toolCalls ?? []) + [call]
            messages[messages.count - 1] = last
        } else {
            messages.append(ChatMessage(role: "assistant", content: nil, toolCalls: [call]))
        }
    }

    /// Text parts joined into one string when `plainText` or when there is no image; else chat parts.
    private static func content(_ content: ResponseMessageContent, at index: Int, plainText: Bool) throws -> ChatMessageContent {
        guard case .parts(let parts) = content else {
            if case .text(let text) = content { return .text(text) }
            return .text("")
        }
        var chatParts: [ChatContentPart] = []
        for part in parts {
            switch part {
            case .inputText(let text), .outputText(let text), .refusal(let text):
                chatParts.append(.text(text))
            case .inputImage(let url?, _, let detail):
                chatParts.append(.imageURL(url, detail: detail))
            case .inputImage(nil, _, _):
                throw GatewayError.badRequest("input[\(index)].content: an input_image needs an image_url (a file_id cannot be sent to a chat provider).")
            case .unknown(let value):
                let type = value["type"]?.stringValue ?? "unknown"
                throw GatewayError.badRequest("input[\(index)].content: a part of type \(type) cannot be sent to a chat provider.")
            }
        }
        let hasImage = chatParts.contains { if case .imageURL = $0 { true } else { false } }
        if hasImage && !plainText { return .parts(chatParts) }
        return .text(chatParts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined())
    }

    /// `text.format` as the chat `response_format`: `json_schema` and `json_object`; `text` is the default.
    private static func responseFormat(_ format: ResponsesTextOptions.Format?) -> JSONValue? {
        guard let format else { return nil }
        switch format.type {
        case "json_schema":
            var schema: [String: JSONValue] = ["name": .string(format.name ?? "output")]
            if let value = format.schema { schema["schema"] = value }
            if let strict = format.strict { schema["strict"] = .bool(strict) }
            if let description = format.description { schema["description"] = .string(description) }
            return .object(["type": .string("json_schema"), "json_schema": .object(schema)])
        case "json_object":
            return .object(["type": .string("json_object")])
        default:
            return nil
        }
    }
}
