import GatewayRuntime

// Typed Chat Completions wire types (`POST /chat/completions`). Decoding ignores members it does not
// know (providers add fields); optional members the gateway does not set are left out when encoding.

/// A Chat Completions request as the gateway sends it to a `wire_api = "chat"` provider.
package struct ChatCompletionRequest: Codable, Sendable, Hashable {
    package struct StreamOptions: Codable, Sendable, Hashable {
        package var includeUsage: Bool
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    package var model: String
    package var messages: [ChatMessage]
    package var stream: Bool?
    package var streamOptions: StreamOptions?
    package var tools: [ChatTool]?
    /// `"auto"`, `"none"`, `"required"` or `{"type":"function","function":{"name":…}}`.
    package var toolChoice: JSONValue?
    package var parallelToolCalls: Bool?
    package var maxTokens: Int?
    package var temperature: Double?
    package var topP: Double?
    /// `{"type":"json_schema","json_schema":{…}}` or `{"type":"json_object"}`.
    package var responseFormat: JSONValue?

    package init(model: String, messages: [ChatMessage]) {
        self.model = model
        self.messages = messages
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, tools, temperature
        case streamOptions = "stream_options", toolChoice = "tool_choice", parallelToolCalls = "parallel_tool_calls"
        case maxTokens = "max_tokens", topP = "top_p", responseFormat = "response_format"
    }
}

/// One chat message: `system`, `user`, `assistant` (text and/or `tool_calls`) or `tool` (a tool's output).
package struct ChatMessage: Codable, Sendable, Hashable {
    package var role: String
    /// Nil only for an assistant message that is nothing but tool calls (sent as `"content": null`).
    package var content: ChatMessageContent?
    package var toolCalls: [ChatToolCall]?
    package var toolCallID: String?

    package init(role: String, content: ChatMessageContent?, toolCalls: [ChatToolCall]? = nil, toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls", toolCallID = "tool_call_id"
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        try container.encode(content, forKey: .content)
        try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
        try container.encodeIfPresent(toolCallID, forKey: .toolCallID)
    }
}

/// A message's content: a plain string, or parts (text and images).
package enum ChatMessageContent: Codable, Sendable, Hashable {
    case text(String)
    case parts([ChatContentPart])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .parts(try container.decode([ChatContentPart].self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .parts(let parts): try container.encode(parts)
        }
    }
}

/// `{"type":"text","text":…}` or `{"type":"image_url","image_url":{"url":…}}`; any other kind is kept as it is.
package enum ChatContentPart: Codable, Sendable, Hashable {
    case text(String)
    case imageURL(String, detail: String?)
    case unknown(JSONValue)

    enum CodingKeys: String, CodingKey { case type, text, imageURL = "image_url" }
    enum ImageKeys: String, CodingKey { case url, detail }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decodeIfPresent(String.self, forKey: .type) {
        case "text": self = .text(try container.decode(String.self, forKey: .text))
        case "image_url":
            let image = try container.nestedContainer(keyedBy: ImageKeys.self, forKey: .imageURL)
            self = .imageURL(try image.decode(String.self, forKey: .url), detail: try image.decodeIfPresent(String.self, forKey: .detail))
        default: self = .unknown(try JSONValue(from: decoder))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        switch self {
        case .text(let text):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("text", forKey: .type)
            try container.encode(text, forKey: .text)
        case .imageURL(let url, let detail):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("image_url", forKey: .type)
            var image = container.nestedContainer(keyedBy: ImageKeys.self, forKey: .imageURL)
            try image.encode(url, forKey: .url)
            try image.encodeIfPresent(detail, forKey: .detail)
        case .unknown(let value):
            try value.encode(to: encoder)
        }
    }
}

/// A function the model may call: `{"type":"function","function":{"name","description","parameters","strict"}}`.
package struct ChatTool: Codable, Sendable, Hashable {
    package struct Function: Codable, Sendable, Hashable {
        package var name: String
        package var description: String?
        /// A JSON Schema of the arguments object.
        package var parameters: JSONValue?
        package var strict: Bool?
    }

    package var type = "function"
    package var function: Function

    package init(function: Function) {
        self.function = function
    }
}

/// A complete tool call in an assistant message (the history sent back to the model).
package struct ChatToolCall: Codable, Sendable, Hashable {
    package struct Function: Codable, Sendable, Hashable {
        package var name: String
        /// The arguments as JSON text.
        package var arguments: String
    }

    package var id: String
    package var type = "function"
    package var function: Function

    package init(id: String, name: String, arguments: String) {
        self.id = id
        self.function = Function(name: name, arguments: arguments)
    }
}

/// One `data:` chunk of a streamed Chat Completions answer.
package struct ChatCompletionChunk: Decodable, Sendable, Hashable {
    package struct Choice: Decodable, Sendable, Hashable {
        package var index: Int?
        package var delta: Delta?
        /// `stop`, `length`, `tool_calls`, `content_filter`, …; set on the choice's last chunk.
        package var finishReason: String?

        enum CodingKeys: String, CodingKey { case index, delta, finishReason = "finish_reason" }
    }

    package struct Delta: Decodable, Sendable, Hashable {
        package var role: String?
        package var content: String?
        package var refusal: String?
        package var toolCalls: [ToolCallFragment]?

        enum CodingKeys: String, CodingKey { case role, content, refusal, toolCalls = "tool_calls" }
    }

    /// A piece of a tool call: the first one for an `index` usually carries `id` and the function's
    /// name, the later ones pieces of its arguments text.
    package struct ToolCallFragment: Decodable, Sendable, Hashable {
        package struct Function: Decodable, Sendable, Hashable {
            package var name: String?
            package var arguments: String?
        }

        package var index: Int
        package var id: String?
        package var function: Function?
    }

    package var id: String?
    package var model: String?
    package var choices: [Choice]?
    package var usage: ChatUsage?
    /// An error reported inside the stream (some providers send it as a chunk, with HTTP 200).
    package var error: ChatError?
}

/// Token counts of a Chat Completions answer.
package struct ChatUsage: Codable, Sendable, Hashable {
    package struct PromptDetails: Codable, Sendable, Hashable {
        package var cachedTokens: Int?
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
    }

    package struct CompletionDetails: Codable, Sendable, Hashable {
        package var reasoningTokens: Int?
        enum CodingKeys: String, CodingKey { case reasoningTokens = "reasoning_tokens" }
    }

    package var promptTokens: Int?
    package var completionTokens: Int?
    package var totalTokens: Int?
    package var promptTokensDetails: PromptDetails?
    package var completionTokensDetails: CompletionDetails?

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details", completionTokensDetails = "completion_tokens_details"
    }

    /// The counts as the gateway meters them.
    package var tokenUsage: TokenUsage {
        TokenUsage(inputTokens: promptTokens ?? 0, cachedInputTokens: promptTokensDetails?.cachedTokens ?? 0, outputTokens: completionTokens ?? 0)
    }
}

/// `{"message","type","code"}` as OpenAI-compatible providers report an error; a bare string is
/// taken as the message.
package struct ChatError: Decodable, Sendable, Hashable {
    package var message: String?
    package var type: String?
    /// A string or a number, depending on the provider.
    package var code: JSONValue?

    enum CodingKeys: String, CodingKey { case message, type, code }

    package init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            message = text
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        message = try container.decodeIfPresent(String.self, forKey: .message)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        code = try container.decodeIfPresent(JSONValue.self, forKey: .code)
    }
}
