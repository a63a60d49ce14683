import GatewayRuntime

// Typed Responses API wire types (`POST /responses`). Decoding ignores members it does not know
// (providers add fields); an item, content part or tool of a kind not modelled here decodes to
// `.unknown` with its JSON kept, never to an error.

/// A Responses API request.
package struct ResponsesRequest: Codable, Sendable, Hashable {
    package var model: String?
    package var instructions: String?
    package var input: ResponsesInput
    package var tools: [ResponsesTool]?
    /// `"auto"`, `"none"`, `"required"`, `{"type":"function","name":…}`, `{"type":"custom","name":…}`, or a hosted tool's.
    package var toolChoice: JSONValue?
    package var parallelToolCalls: Bool?
    package var stream: Bool?
    package var store: Bool?
    package var include: [String]?
    package var maxOutputTokens: Int?
    package var temperature: Double?
    package var topP: Double?
    package var text: ResponsesTextOptions?
    package var reasoning: JSONValue?
    package var previousResponseID: String?
    package var metadata: JSONValue?

    package init(model: String?, input: ResponsesInput) {
        self.model = model
        self.input = input
    }

    enum CodingKeys: String, CodingKey {
        case model, instructions, input, tools, stream, store, include, temperature, text, reasoning, metadata
        case toolChoice = "tool_choice", parallelToolCalls = "parallel_tool_calls", maxOutputTokens = "max_output_tokens"
        case topP = "top_p", previousResponseID = "previous_response_id"
    }
}

/// `input`: a plain string (one user message) or a list of items.
package enum ResponsesInput: Codable, Sendable, Hashable {
    case text(String)
    case items([ResponseItem])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if (try? container.decode([JSONValue].self)) != nil {
            self = .items(try container.decode([ResponseItem].self))
        } else {
            throw DecodingError.typeMismatch(
                ResponsesInput.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected a string or an array of items")
            )
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .items(let items): try container.encode(items)
        }
    }
}

/// `text`: the output's format (`{"type":"text"}`, `json_object`, or `json_schema` with `name`, `schema`, `strict`).
package struct ResponsesTextOptions: Codable, Sendable, Hashable {
    package struct Format: Codable, Sendable, Hashable {
        package var type: String
        package var name: String?
        package var description: String?
        package var schema: JSONValue?
        package var strict: Bool?
    }

    package var format: Format?
    package var verbosity: String?
}

/// One item of `input` or `output`.
package enum ResponseItem: Codable, Sendable, Hashable {
    case message(ResponseMessage)
    case functionCall(FunctionCallItem)
    case functionCallOutput(ToolCallOutputItem)
    case customToolCall(CustomToolCallItem)
    case customToolCallOutput(ToolCallOutputItem)
    /// A reasoning item, kept as it is.
    case reasoning(JSONValue)
    case unknown(JSONValue)

    enum TypeKeys: String, CodingKey { case type }

    /// An item without `type` is a message.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKeys.self)
        let type = try container.decodeIfPresent(String.self, forKey: .type)
        switch type {
        case "message", nil: self = .message(try ResponseMessage(from: decoder))
        case "function_call": self = .functionCall(try FunctionCallItem(from: decoder))
        case "function_call_output": self = .functionCallOutput(try ToolCallOutputItem(from: decoder))
        case "custom_tool_call": self = .customToolCall(try CustomToolCallItem(from: decoder))
        case "custom_tool_call_output": self = .customToolCallOutput(try ToolCallOutputItem(from: decoder))
        case "reasoning": self = .reasoning(try JSONValue(from: decoder))
        default: self = .unknown(try JSONValue(from: decoder))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        switch self {
        case .message(let item): try WireCoding.encode(item, type: "message", to: encoder)
        case .functionCall(let item): try WireCoding.encode(item, type: "function_call", to: encoder)
        case .functionCallOutput(let item): try WireCoding.encode(item, type: "function_call_output", to: encoder)
        case .customToolCall(let item): try WireCoding.encode(item, type: "custom_tool_call", to: encoder)
        case .customToolCallOutput(let item): try WireCoding.encode(item, type: "custom_tool_call_output", to: encoder)
        case .reasoning(let value), .unknown(let value): try value.encode(to: encoder)
        }
    }
}

/// A `message` item: `role` (`user`, `assistant`, `system`, `developer`) and its content.
package struct ResponseMessage: Codable, Sendable, Hashable {
    package var id: String?
    package var role: String
    package var content: ResponseMessageContent
    /// `in_progress` or `completed` on output items.
    package var status: String?

    package init(id: String? = nil, role: String, content: ResponseMessageContent, status: String? = nil) {
        self.id = id
        self.role = role
        self.content = content
        self.status = status
    }
}

/// A message's content (or a tool output): a plain string or a list of parts.
package enum ResponseMessageContent: Codable, Sendable, Hashable {
    case text(String)
    case parts([ResponseContentPart])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .parts(try container.decode([ResponseContentPart].self))
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

/// A content part: `input_text`, `output_text` (with its `annotations`), `input_image`, `refusal`, or another kind kept as it is.
package enum ResponseContentPart: Codable, Sendable, Hashable {
    case inputText(String)
    case outputText(String)
    /// An `image_url` (https or data URL) or a `file_id`.
    case inputImage(imageURL: String?, fileID: String?, detail: String?)
    case refusal(String)
    case unknown(JSONValue)

    enum CodingKeys: String, CodingKey {
        case type, text, annotations, refusal, detail
        case imageURL = "image_url", fileID = "file_id"
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decodeIfPresent(String.self, forKey: .type) {
        case "input_text": self = .inputText(try container.decode(String.self, forKey: .text))
        case "output_text": self = .outputText(try container.decode(String.self, forKey: .text))
        case "refusal": self = .refusal(try container.decode(String.self, forKey: .refusal))
        case "input_image":
            self = .inputImage(
                imageURL: try container.decodeIfPresent(String.self, forKey: .imageURL),
                fileID: try container.decodeIfPresent(String.self, forKey: .fileID),
                detail: try container.decodeIfPresent(String.self, forKey: .detail)
            )
        default: self = .unknown(try JSONValue(from: decoder))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        if case .unknown(let value) = self {
            try value.encode(to: encoder)
            return
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .inputText(let text):
            try container.encode("input_text", forKey: .type)
            try container.encode(text, forKey: .text)
        case .outputText(let text):
            try container.encode("output_text", forKey: .type)
            try container.encode(text, forKey: .text)
            try container.encode([JSONValue](), forKey: .annotations)
        case .refusal(let text):
            try container.encode("refusal", forKey: .type)
            try container.encode(text, forKey: .refusal)
        case .inputImage(let imageURL, let fileID, let detail):
            try container.encode("input_image", forKey: .type)
            try container.encodeIfPresent(imageURL, forKey: .imageURL)
            try container.encodeIfPresent(fileID, forKey: .fileID)
            try container.encodeIfPresent(detail, forKey: .detail)
        case .unknown:
            break
        }
    }
}

/// A `function_call` item: the model calls function `name` with `arguments` (JSON text).
package struct FunctionCallItem: Codable, Sendable, Hashable {
    package var id: String?
    package var callID: String
    package var name: String
    package var arguments: String
    package var status: String?

    package init(id: String? = nil, callID: String, name: String, arguments: String, status: String? = nil) {
        self.id = id
        self.callID = callID
        self.name = name
        self.arguments = arguments
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case id, name, arguments, status, callID = "call_id" }
}

/// A `custom_tool_call` item: the model calls freeform tool `name` with `input` (plain text).
package struct CustomToolCallItem: Codable, Sendable, Hashable {
    package var id: String?
    package var callID: String
    package var name: String
    package var input: String
    package var status: String?

    package init(id: String? = nil, callID: String, name: String, input: String, status: String? = nil) {
        self.id = id
        self.callID = callID
        self.name = name
        self.input = input
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case id, name, input, status, callID = "call_id" }
}

/// A `function_call_output` or `custom_tool_call_output` item: what the call `call_id` gave.
package struct ToolCallOutputItem: Codable, Sendable, Hashable {
    package var id: String?
    package var callID: String
    package var output: ResponseMessageContent

    package init(id: String? = nil, callID: String, output: ResponseMessageContent) {
        self.id = id
        self.callID = callID
        self.output = output
    }

    enum CodingKeys: String, CodingKey { case id, output, callID = "call_id" }
}

/// A tool the model may use: a `function`, a freeform `custom` tool, or a hosted one (`web_search`, …) kept as it is.
package enum ResponsesTool: Codable, Sendable, Hashable {
    package struct Function: Codable, Sendable, Hashable {
        package var name: String
        package var description: String?
        package var parameters: JSONValue?
        package var strict: Bool?
    }

    package struct Custom: Codable, Sendable, Hashable {
        package var name: String
        package var description: String?
        /// `{"type":"text"}` or `{"type":"grammar","syntax":"lark"|"regex","definition":…}`.
        package var format: JSONValue?
    }

    case function(Function)
    case custom(Custom)
    case unknown(JSONValue)

    enum TypeKeys: String, CodingKey { case type }

    /// A tool must say its `type`.
    package init(from decoder: any Decoder) throws {
        switch try decoder.container(keyedBy: TypeKeys.self).decode(String.self, forKey: .type) {
        case "function": self = .function(try Function(from: decoder))
        case "custom": self = .custom(try Custom(from: decoder))
        default: self = .unknown(try JSONValue(from: decoder))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        switch self {
        case .function(let tool): try WireCoding.encode(tool, type: "function", to: encoder)
        case .custom(let tool): try WireCoding.encode(tool, type: "custom", to: encoder)
        case .unknown(let value): try value.encode(to: encoder)
        }
    }
}
