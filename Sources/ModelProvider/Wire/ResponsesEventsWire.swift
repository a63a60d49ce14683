import GatewayRuntime

/// The `response` object of the Responses API, as the stream's `response.*` events and a
/// non-streaming answer carry it. Decoding is lenient (every member optional); encoding writes the
/// members OpenAI always sends, `null` where there is no value.
package struct ResponseObject: Codable, Sendable, Hashable {
    package var id: String
    package var createdAt: Int
    /// `in_progress`, `completed`, `incomplete` or `failed`.
    package var status: String
    package var error: ResponseError?
    /// `{"reason": "max_output_tokens" | "content_filter"}` for an incomplete response.
    package var incompleteDetails: JSONValue?
    package var instructions: String?
    package var maxOutputTokens: Int?
    package var model: String
    package var output: [ResponseItem]
    package var parallelToolCalls: Bool
    package var temperature: Double?
    package var topP: Double?
    package var toolChoice: JSONValue
    package var tools: [ResponsesTool]
    package var text: ResponsesTextOptions?
    package var store: Bool
    package var usage: ResponseUsage?
    package var metadata: JSONValue

    package init(id: String, createdAt: Int, model: String) {
        self.id = id
        self.createdAt = createdAt
        self.status = "in_progress"
        self.model = model
        self.output = []
        self.parallelToolCalls = true
        self.toolChoice = .string("auto")
        self.tools = []
        self.store = false
        self.metadata = .object([:])
    }

    enum CodingKeys: String, CodingKey {
        case id, object, status, error, instructions, model, output, temperature, tools, text, store, usage, metadata
        case truncation, reasoning
        case createdAt = "created_at", incompleteDetails = "incomplete_details", maxOutputTokens = "max_output_tokens"
        case parallelToolCalls = "parallel_tool_calls", topP = "top_p", toolChoice = "tool_choice"
        case previousResponseID = "previous_response_id"
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id) ?? ""
        createdAt = (try? container.decodeIfPresent(Int.self, forKey: .createdAt)) ?? 0
        status = try container.decodeIfPresent(String.self, forKey: .status) ?? ""
        error = try? container.decodeIfPresent(ResponseError.self, forKey: .error)
        incompleteDetails = try container.decodeIfPresent(JSONValue.self, forKey: .incompleteDetails)
        instructions = try? container.decodeIfPresent(String.self, forKey: .instructions)
        maxOutputTokens = try? container.decodeIfPresent(Int.self, forKey: .maxOutputTokens)
        model = try container.decodeIfPresent(String.self, forKey: .model) ?? ""
        output = (try? container.decodeIfPresent([ResponseItem].self, forKey: .output)) ?? []
        parallelToolCalls = (try? container.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)) ?? true
        temperature = try? container.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try? container.decodeIfPresent(Double.self, forKey: .topP)
        toolChoice = try container.decodeIfPresent(JSONValue.self, forKey: .toolChoice) ?? .string("auto")
        tools = (try? container.decodeIfPresent([ResponsesTool].self, forKey: .tools)) ?? []
        text = try? container.decodeIfPresent(ResponsesTextOptions.self, forKey: .text)
        store = (try? container.decodeIfPresent(Bool.self, forKey: .store)) ?? false
        usage = try? container.decodeIfPresent(ResponseUsage.self, forKey: .usage)
        metadata = try container.decodeIfPresent(JSONValue.self, forKey: .metadata) ?? .object([:])
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode("response", forKey: .object)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(status, forKey: .status)
        try container.encode(error, forKey: .error)
        try container.encode(incompleteDetails, forKey: .incompleteDetails)
        try container.encode(instructions, forKey: .instructions)
        try container.encode(maxOutputTokens, forKey: .maxOutputTokens)
        try container.encode(model, forKey: .model)
        try container.encode(output, forKey: .output)
        try container.encode(parallelToolCalls, forKey: .parallelToolCalls)
        try container.encodeNil(forKey: .previousResponseID)
        try container.encodeNil(forKey: .reasoning)
        try container.encode(store, forKey: .store)
        try container.encode(temperature, forKey: .temperature)
        try container.encode(text ?? ResponsesTextOptions(format: .init(type: "text")), forKey: .text)
        try container.encode(toolChoice, forKey: .toolChoice)
        try container.encode(tools, forKey: .tools)
        try container.encode(topP, forKey: .topP)
        try container.encode("disabled", forKey: .truncation)
        try container.encode(usage, forKey: .usage)
        try container.encode(metadata, forKey: .metadata)
    }
}

/// `{"code","message"}` of a failed response (or of an `error` event).
package struct ResponseError: Codable, Sendable, Hashable {
    package var code: String?
    package var message: String?

    package init(code: String?, message: String?) {
        self.code = code
        self.message = message
    }

    enum CodingKeys: String, CodingKey { case code, message }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Some providers send a numeric code.
        switch try container.decodeIfPresent(JSONValue.self, forKey: .code) {
        case .string(let text): code = text
        case .integer(let number): code = String(number)
        default: code = nil
        }
        message = try? container.decodeIfPresent(String.self, forKey: .message)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
    }
}

/// Token counts of a response.
package struct ResponseUsage: Codable, Sendable, Hashable {
    package struct InputDetails: Codable, Sendable, Hashable {
        package var cachedTokens: Int
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
    }

    package struct OutputDetails: Codable, Sendable, Hashable {
        package var reasoningTokens: Int
        enum CodingKeys: String, CodingKey { case reasoningTokens = "reasoning_tokens" }
    }

    package var inputTokens: Int
    package var inputTokensDetails: InputDetails?
    package var outputTokens: Int
    package var outputTokensDetails: OutputDetails?
    package var totalTokens: Int

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens", inputTokensDetails = "input_tokens_details", outputTokens = "output_tokens"
        case outputTokensDetails = "output_tokens_details", totalTokens = "total_tokens"
    }

    package init(_ chat: ChatUsage) {
        inputTokens = chat.promptTokens ?? 0
        inputTokensDetails = InputDetails(cachedTokens: chat.promptTokensDetails?.cachedTokens ?? 0)
        outputTokens = chat.completionTokens ?? 0
        outputTokensDetails = OutputDetails(reasoningTokens: chat.completionTokensDetails?.reasoningTokens ?? 0)
        totalTokens = chat.totalTokens ?? (inputTokens + outputTokens)
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inputTokens = try container.decodeIfPresent(Int.self, forKey: .inputTokens) ?? 0
        inputTokensDetails = try? container.decodeIfPresent(InputDetails.self, forKey: .inputTokensDetails)
        outputTokens = try container.decodeIfPresent(Int.self, forKey: .outputTokens) ?? 0
        outputTokensDetails = try? container.decodeIfPresent(OutputDetails.self, forKey: .outputTokensDetails)
        totalTokens = try container.decodeIfPresent(Int.self, forKey: .totalTokens) ?? (inputTokens + outputTokens)
    }

    /// The counts as the gateway meters them.
    package var tokenUsage: TokenUsage {
        TokenUsage(inputTokens: inputTokens, cachedInputTokens: inputTokensDetails?.cachedTokens ?? 0, outputTokens: outputTokens)
    }
}

/// One event of a Responses stream (`event: <type>` / `data: <this>`). The members present depend
/// on `type`; the ones not set are left out.
package struct ResponseStreamEvent: Codable, Sendable, Hashable {
    package var type: String
    package var sequenceNumber: Int?
    package var response: ResponseObject?
    package var outputIndex: Int?
    package var itemID: String?
    package var contentIndex: Int?
    package var item: ResponseItem?
    package var part: ResponseContentPart?
    package var delta: String?
    package var text: String?
    package var arguments: String?
    package var input: String?
    package var logprobs: [JSONValue]?
    /// An `error` event's members.
    package var code: String?
    package var message: String?
    package var error: ResponseError?

    package init(type: String) {
        self.type = type
    }

    enum CodingKeys: String, CodingKey {
        case type, response, item, part, delta, text, arguments, input, logprobs, code, message, error
        case sequenceNumber = "sequence_number", outputIndex = "output_index", itemID = "item_id", contentIndex = "content_index"
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type) ?? ""
        sequenceNumber = try? container.decodeIfPresent(Int.self, forKey: .sequenceNumber)
        response = try? container.decodeIfPresent(ResponseObject.self, forKey: .response)
        outputIndex = try? container.decodeIfPresent(Int.self, forKey: .outputIndex)
        itemID = try? container.decodeIfPresent(String.self, forKey: .itemID)
        contentIndex = try? container.decodeIfPresent(Int.self, forKey: .contentIndex)
        item = try? container.decodeIfPresent(ResponseItem.self, forKey: .item)
        part = try? container.decodeIfPresent(ResponseContentPart.self, forKey: .part)
        delta = try? container.decodeIfPresent(String.self, forKey: .delta)
        text = try? container.decodeIfPresent(String.self, forKey: .text)
        arguments = try? container.decodeIfPresent(String.self, forKey: .arguments)
        input = try? container.decodeIfPresent(String.self, forKey: .input)
        logprobs = try? container.decodeIfPresent([JSONValue].self, forKey: .logprobs)
        code = try? container.decodeIfPresent(String.self, forKey: .code)
        message = try? container.decodeIfPresent(String.self, forKey: .message)
        error = try? container.decodeIfPresent(ResponseError.self, forKey: .error)
    }
}
