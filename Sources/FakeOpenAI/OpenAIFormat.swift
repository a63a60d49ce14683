import NIOCore

// MARK: - Usage and errors

/// The OpenAI wire shapes a ``Plan`` is written in: usage, errors, chat chunks and Responses
/// objects, items and events.
enum OpenAIFormat {
    static func chatUsage(_ plan: Plan) -> JSON {
        [
            "prompt_tokens": .int(plan.promptTokens),
            "completion_tokens": .int(plan.completionTokens),
            "total_tokens": .int(plan.promptTokens + plan.completionTokens),
            "prompt_tokens_details": ["cached_tokens": 0, "audio_tokens": 0],
            "completion_tokens_details": [
                "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            ],
        ]
    }

    static func responsesUsage(_ plan: Plan) -> JSON {
        [
            "input_tokens": .int(plan.promptTokens),
            "input_tokens_details": ["cached_tokens": 0],
            "output_tokens": .int(plan.completionTokens),
            "output_tokens_details": ["reasoning_tokens": 0],
            "total_tokens": .int(plan.promptTokens + plan.completionTokens),
        ]
    }

    /// OpenAI's error envelope: `{"error":{"message","type","param","code"}}`.
    static func error(message: String, type: String, param: String? = nil, code: String? = nil) -> JSON {
        ["error": ["message": .string(message), "type": .string(type), "param": .string(param), "code": .string(code)]]
    }

    static let serverErrorMessage = "The server had an error while processing your request. Sorry about that!"

    static func sseData(_ json: JSON) -> ByteBuffer {
        ByteBuffer(string: "data: \(json.serialized)\n\n")
    }

    static func sseEvent(_ type: String, _ json: JSON) -> ByteBuffer {
        ByteBuffer(string: "event: \(type)\ndata: \(json.serialized)\n\n")
    }

    /// Non-event lines a robust SSE client must skip, cycled through by `fake-garbage`.
    static let garbage: [String] = [": keep-alive\n\n", "data: {not json\n\n", "\n", ": OPENROUTER PROCESSING\n\n", "data: {\"unterminated\": \n\n"]
}

// MARK: - Chat Completions

extension OpenAIFormat {
    static func chatChunk(_ plan: Plan, delta: JSON, finishReason: String? = nil) -> JSON {
        var fields: [(String, JSON)] = [
            ("id", .string(plan.chatID)),
            ("object", "chat.completion.chunk"),
            ("created", .int(plan.created)),
            ("model", .string(plan.model)),
            ("service_tier", "default"),
            ("system_fingerprint", "fp_fake"),
            ("choices", [["index": 0, "delta": delta, "logprobs": nil, "finish_reason": .string(finishReason)]]),
        ]
        if plan.includeUsageChunk && plan.reportsUsage { fields.append(("usage", nil)) }
        return .object(fields)
    }

    static func chatUsageChunk(_ plan: Plan) -> JSON {
        [
            "id": .string(plan.chatID),
            "object": "chat.completion.chunk",
            "created": .int(plan.created),
            "model": .string(plan.model),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": chatUsage(plan),
        ]
    }

    static func chatStream(_ plan: Plan) -> [StreamStep] {
        var steps: [StreamStep] = []
        var garbageIndex = 0
        func emit(_ json: JSON) {
            steps.append(.write(sseData(json)))
            if plan.garbage {
                steps.append(.write(ByteBuffer(string: garbage[garbageIndex % garbage.count])))
                garbageIndex += 1
            }
        }
        /// Appends the ending and returns true when the stream stops after `deltas` content deltas.
        func stops(afterDeltas deltas: Int, final: Bool = false) -> Bool {
            guard let stop = plan.ending.stop(afterDeltas: deltas, final: final) else { return false }
            switch stop {
            case .stall(let maximum): steps.append(.stall(maximum: maximum))
            case .cut: steps.append(.cut)
            case .error: steps.append(.write(sseData(error(message: serverErrorMessage, type: "server_error"))))
            }
            return true
        }
        if plan.garbage { steps.append(.write(ByteBuffer(string: ": keep-alive\n\n"))) }

        switch plan.output {
        case .text(let pieces):
            emit(chatChunk(plan, delta: ["role": "assistant", "content": "", "refusal": nil]))
            for (index, piece) in pieces.enumerated() {
                if stops(afterDeltas: index) { return steps }
                if index > 0, let gap = plan.gap { steps.append(.sleep(gap)) }
                emit(chatChunk(plan, delta: ["content": .string(piece)]))
            }
            if stops(afterDeltas: pieces.count, final: true) { return steps }
            emit(chatChunk(plan, delta: [:], finishReason: "stop"))
        case .toolCalls(let calls):
            for (index, call) in calls.enumerated() {
                var first: JSON = [
                    "tool_calls": [
                        [
                            "index": .int(index), "id": .string(call.callID), "type": "function",
                            "function": ["name": .string(call.name), "arguments": ""],
                        ]
                    ]
                ]
                if index == 0, case .object(let pairs) = first {
                    first = .object([("role", "assistant"), ("content", nil), ("refusal", nil)] + pairs)
                }
                emit(chatChunk(plan, delta: first))
                for fragment in call.argumentFragments {
                    emit(chatChunk(plan, delta: ["tool_calls": [["index": .int(index), "function": ["arguments": .string(fragment)]]]]))
                }
            }
            emit(chatChunk(plan, delta: [:], finishReason: "tool_calls"))
        }
        if plan.includeUsageChunk && plan.reportsUsage { emit(chatUsageChunk(plan)) }
        steps.append(.write(ByteBuffer(string: "data: [DONE]\n\n")))
        // Slow streams end their HTTP body one gap after `[DONE]`, as a busy proxy may: clients
        // (and the gateway) must treat `[DONE]` as the end of the answer, not wait for the body's.
        if let gap = plan.gap { steps.append(.sleep(gap)) }
        return steps
    }

    static func chatCompletion(_ plan: Plan) -> JSON {
        let message: JSON
        let finishReason: String
        switch plan.output {
        case .text:
            message = ["role": "assistant", "content": .string(plan.text), "refusal": nil, "annotations": []]
            finishReason = "stop"
        case .toolCalls(let calls):
            message = [
                "role": "assistant",
                "content": nil,
                "tool_calls": .array(
                    calls.map { call in
                        ["id": .string(call.callID), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                    }
                ),
                "refusal": nil,
                "annotations": [],
            ]
            finishReason = "tool_calls"
        }
        var fields: [(String, JSON)] = [
            ("id", .string(plan.chatID)),
            ("object", "chat.completion"),
            ("created", .int(plan.created)),
            ("model", .string(plan.model)),
            ("choices", [["index": 0, "message": message, "logprobs": nil, "finish_reason": .string(finishReason)]]),
        ]
        if plan.reportsUsage { fields.append(("usage", chatUsage(plan))) }
        fields.append(("service_tier", "default"))
        fields.append(("system_fingerprint", "fp_fake"))
        return .object(fields)
    }
}

// MARK: - Responses

extension OpenAIFormat {
    static func responseObject(_ plan: Plan, status: String, output: [JSON], usage: JSON, error: JSON = nil) -> JSON {
        [
            "id": .string(plan.responseID),
            "object": "response",
            "created_at": .int(plan.created),
            "status": .string(status),
            "background": false,
            "error": error,
            "incomplete_details": nil,
            "instructions": plan.instructions,
            "max_output_tokens": nil,
            "model": .string(plan.model),
            "output": .array(output),
            "parallel_tool_calls": true,
            "previous_response_id": nil,
            "reasoning": ["effort": nil, "summary": nil],
            "service_tier": "default",
            "store": plan.store,
            "temperature": 1.0,
            "text": ["format": ["type": "text"]],
            "tool_choice": "auto",
            "tools": plan.tools,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": nil,
            "metadata": [:],
        ]
    }

    static func outputText(_ text: String) -> JSON {
        ["type": "output_text", "annotations": [], "logprobs": [], "text": .string(text)]
    }

    static func messageItem(_ plan: Plan, status: String, text: String?) -> JSON {
        [
            "id": .string(plan.messageItemID),
            "type": "message",
            "status": .string(status),
            "content": text.map { [outputText($0)] } ?? [],
            "role": "assistant",
        ]
    }

    static func functionCallItem(_ call: Plan.ToolCall, status: String, arguments: String) -> JSON {
        var item: [(String, JSON)] = [
            ("id", .string(call.itemID)),
            ("type", "function_call"),
            ("status", .string(status)),
            ("arguments", .string(arguments)),
            ("call_id", .string(call.callID)),
            ("name", .string(call.name)),
        ]
        if let namespace = call.namespace { item.append(("namespace", .string(namespace))) }
        return .object(item)
    }

    static func customToolCallItem(_ call: Plan.ToolCall, status: String, input: String) -> JSON {
        [
            "id": .string(call.itemID),
            "type": "custom_tool_call",
            "status": .string(status),
            "call_id": .string(call.callID),
            "name": .string(call.name),
            "input": .string(input),
        ]
    }

    /// A tool call's output item: `function_call` or `custom_tool_call`, with `arguments` (or `input`) so far.
    static func toolCallItem(_ call: Plan.ToolCall, status: String, arguments: String) -> JSON {
        switch call.kind {
        case .function: functionCallItem(call, status: status, arguments: arguments)
        case .custom: customToolCallItem(call, status: status, input: arguments)
        }
    }

    static func completedOutput(_ plan: Plan) -> [JSON] {
        switch plan.output {
        case .text: [messageItem(plan, status: "completed", text: plan.text)]
        case .toolCalls(let calls): calls.map { toolCallItem($0, status: "completed", arguments: $0.arguments) }
        }
    }

    static func responsesStream(_ plan: Plan) -> [StreamStep] {
        var steps: [StreamStep] = []
        var sequence = 0
        var garbageIndex = 0
        func emit(_ type: String, _ fields: [(String, JSON)]) {
            let json = JSON.object([("type", .string(type)), ("sequence_number", .int(sequence))] + fields)
            sequence += 1
            steps.append(.write(sseEvent(type, json)))
            if plan.garbage {
                steps.append(.write(ByteBuffer(string: garbage[garbageIndex % garbage.count])))
                garbageIndex += 1
            }
        }
        func stops(afterDeltas deltas: Int, final: Bool = false) -> Bool {
            guard let stop = plan.ending.stop(afterDeltas: deltas, final: final) else { return false }
            switch stop {
            case .stall(let maximum): steps.append(.stall(maximum: maximum))
            case .cut: steps.append(.cut)
            case .error:
                let error: JSON = ["code": "server_error", "message": .string(serverErrorMessage)]
                emit("response.failed", [("response", responseObject(plan, status: "failed", output: [], usage: nil, error: error))])
            }
            return true
        }
        let usage: JSON = plan.reportsUsage ? responsesUsage(plan) : nil
        if plan.garbage { steps.append(.write(ByteBuffer(string: ": keep-alive\n\n"))) }
        emit("response.created", [("response", responseObject(plan, status: "in_progress", output: [], usage: nil))])
        emit("response.in_progress", [("response", responseObject(plan, status: "in_progress", output: [], usage: nil))])

        switch plan.output {
        case .text(let pieces):
            let itemID = JSON.string(plan.messageItemID)
            emit("response.output_item.added", [("output_index", 0), ("item", messageItem(plan, status: "in_progress", text: nil))])
            emit(
                "response.content_part.added",
                [("item_id", itemID), ("output_index", 0), ("content_index", 0), ("part", outputText(""))]
            )
            for (index, piece) in pieces.enumerated() {
                if stops(afterDeltas: index) { return steps }
                if index > 0, let gap = plan.gap { steps.append(.sleep(gap)) }
                emit(
                    "response.output_text.delta",
                    [("item_id", itemID), ("output_index", 0), ("content_index", 0), ("delta", .string(piece)), ("logprobs", [])]
                )
            }
            if stops(afterDeltas: pieces.count, final: true) { return steps }
            let text = plan.text
            emit(
                "response.output_text.done",
                [("item_id", itemID), ("output_index", 0), ("content_index", 0), ("text", .string(text)), ("logprobs", [])]
            )
            emit("response.content_part.done", [("item_id", itemID), ("output_index", 0), ("content_index", 0), ("part", outputText(text))])
            emit("response.output_item.done", [("output_index", 0), ("item", messageItem(plan, status: "completed", text: text))])
        case .toolCalls(let calls):
            for (index, call) in calls.enumerated() {
                let itemID = JSON.string(call.itemID)
                emit("response.output_item.added", [("output_index", .int(index)), ("item", toolCallItem(call, status: "in_progress", arguments: ""))])
                switch call.kind {
                case .function:
                    for fragment in call.argumentFragments {
                        emit("response.function_call_arguments.delta", [("item_id", itemID), ("output_index", .int(index)), ("delta", .string(fragment))])
                    }
                    emit(
                        "response.function_call_arguments.done",
                        [("item_id", itemID), ("output_index", .int(index)), ("name", .string(call.name)), ("arguments", .string(call.arguments))]
                    )
                case .custom:
                    for fragment in call.argumentFragments {
                        emit("response.custom_tool_call_input.delta", [("item_id", itemID), ("output_index", .int(index)), ("delta", .string(fragment))])
                    }
                    emit("response.custom_tool_call_input.done", [("item_id", itemID), ("output_index", .int(index)), ("input", .string(call.arguments))])
                }
                emit(
                    "response.output_item.done",
                    [("output_index", .int(index)), ("item", toolCallItem(call, status: "completed", arguments: call.arguments))]
                )
            }
        }
        emit("response.completed", [("response", responseObject(plan, status: "completed", output: completedOutput(plan), usage: usage))])
        return steps
    }

    static func responseJSON(_ plan: Plan) -> JSON {
        responseObject(plan, status: "completed", output: completedOutput(plan), usage: plan.reportsUsage ? responsesUsage(plan) : nil)
    }
}
