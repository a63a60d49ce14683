import GatewayRuntime
import Foundation
import NIOCore

/// Turns a chat provider's SSE answer into Responses API events, incrementally (PROTOCOLS §9).
///
/// Text deltas open one `message` output item; each chat tool call (assembled by its `index`) is a
/// `function_call` item, or a `custom_tool_call` item when it calls one of the request's freeform
/// tools (its `input` is the call's `input` argument). The chat call's `id` is the item's `call_id`.
/// Every event carries a `sequence_number`; events are sent as `event: <type>\ndata: <json>\n\n`.
package struct ResponsesStreamTranslator: Sendable {
    private struct OpenMessage: Sendable {
        var outputIndex: Int
        var itemID: String
        var text = ""
    }

    private struct OpenToolCall: Sendable {
        /// Nil until the call's name is known and its item has been announced.
        var outputIndex: Int?
        var itemID = ""
        var callID: String?
        var name = ""
        var arguments = ""
        var isCustom = false
        /// The `input` of a custom tool call, decoded as its arguments arrive.
        var input = JSONStringMemberDecoder(member: "input")
    }

    private var response: ResponseObject
    private let customToolNames: Set<String>
    private var parser = SSEParser()
    private var sequenceNumber = 0
    private var started = false
    /// `response.completed`, `.incomplete` or `.failed` has been sent.
    private var ended = false
    private var finishReason: String?
    private var chatUsage: ChatUsage?
    private var message: OpenMessage?
    private var toolCalls: [Int: OpenToolCall] = [:]
    private var toolCallOrder: [Int] = []

    /// The token counts as the provider reported them; nil until its usage chunk arrives.
    package private(set) var usage: TokenUsage?
    /// Whether the answer ended in `response.failed`.
    package var isFailed: Bool { response.status == "failed" }
    /// Why the answer failed (`{"code","message"}`, as `response.failed` carries it); nil unless ``isFailed``.
    package var failure: ResponseError? { response.error }

    /// A translator for the answer to `request`, reported as coming from `model`.
    package init(request: ResponsesRequest, model: String, createdAt: Date = Date()) {
        response = ResponseObject(id: ResponseIDs.make("resp"), createdAt: Int(createdAt.timeIntervalSince1970), model: model)
        response.instructions = request.instructions
        response.maxOutputTokens = request.maxOutputTokens
        response.parallelToolCalls = request.parallelToolCalls ?? true
        response.temperature = request.temperature
        response.topP = request.topP
        response.toolChoice = request.toolChoice ?? .string("auto")
        response.tools = request.tools ?? []
        response.text = request.text
        response.metadata = request.metadata ?? .object([:])
        customToolNames = ChatToolTranslation(request.tools ?? []).customToolNames
    }

    /// Feed the provider's bytes as they arrive (any split); returns the Responses SSE bytes to send
    /// now (`event: <type>\ndata: <json>\n\n` per event; possibly empty). The first call also yields
    /// `response.created` and `response.in_progress`.
    package mutating func translate(_ bytes: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        start(into: &out)
        guard !ended else { return out }
        for event in parser.feed(bytes.readableBytesView) {
            handle(event, into: &out)
            if ended { break }
        }
        return out
    }

    /// The provider's body ended. `error` nil and `data: [DONE]` (or a finish_reason and usage) seen:
    /// the closing `.done` events and `response.completed` with usage (`response.incomplete` when the
    /// provider stopped at its token limit or its content filter); else (a cut stream, `error`
    /// given, an `error` chunk seen earlier) `response.failed` with `{"code","message"}`.
    package mutating func finish(error: (any Error)?) -> ByteBuffer {
        var out = ByteBuffer()
        start(into: &out)
        guard !ended else { return out }
        if error == nil {
            // A last event that lacks only its blank line still counts.
            for event in parser.feed("\n\n".utf8) where !ended {
                handle(event, into: &out)
            }
            if ended { return out }
        }
        if error == nil, finishReason != nil, chatUsage != nil {
            complete(into: &out)
        } else if let error = error as? ModelClientError {
            fail(code: "server_error", message: error.description, into: &out)
        } else if error != nil {
            fail(code: "server_error", message: "The connection to the model provider failed during the response.", into: &out)
        } else {
            fail(code: "server_error", message: ModelClientError.streamEnded.description, into: &out)
        }
        return out
    }

    /// The whole `response` object as `response.completed` / `response.failed` carries it, for a
    /// non-streaming answer.
    package func responseObject() -> ByteBuffer {
        WireCoding.json(response)
    }

    // MARK: Chat chunks

    private mutating func handle(_ event: SSEParser.Event, into out: inout ByteBuffer) {
        if event.data == "[DONE]" {
            complete(into: &out)
            return
        }
        // Data that is not a chunk (keep-alive text, a provider's own events) is skipped, as the chat client does.
        guard let chunk = ChatChunkScanner.chunk(in: event.data) ?? (try? WireCoding.decode(ChatCompletionChunk.self, from: event.data))
        else { return }
        if let error = chunk.error {
            let code = error.code?.stringValue ?? error.type ?? "server_error"
            fail(code: code, message: "The model provider reported an error: \(error.message ?? "unknown error")", into: &out)
            return
        }
        if let usage = chunk.usage {
            chatUsage = usage
            self.usage = usage.tokenUsage
        }
        for choice in chunk.choices ?? [] where (choice.index ?? 0) == 0 {
            if let delta = choice.delta {
                if let text = delta.content, !text.isEmpty { appendText(text, into: &out) }
                for fragment in delta.toolCalls ?? [] { appendToolCall(fragment, into: &out) }
            }
            if let reason = choice.finishReason { finishReason = reason }
        }
    }

    private mutating func appendText(_ text: String, into out: inout ByteBuffer) {
        if message == nil {
            let opened = OpenMessage(outputIndex: response.output.count, itemID: ResponseIDs.make("msg"))
            let item = ResponseItem.message(ResponseMessage(id: opened.itemID, role: "assistant", content: .parts([]), status: "in_progress"))
            response.output.append(item)
            emit("response.output_item.added", into: &out) {
                $0.outputIndex = opened.outputIndex
                $0.item = item
            }
            emit("response.content_part.added", into: &out) {
                $0.itemID = opened.itemID
                $0.outputIndex = opened.outputIndex
                $0.contentIndex = 0
                $0.part = .outputText("")
            }
            message = opened
        }
        message?.text += text
        guard let open = message else { return }
        ResponsesDeltaEventWriter.write(
            type: "response.output_text.delta", sequenceNumber: nextSequenceNumber(), outputIndex: open.outputIndex,
            itemID: open.itemID, contentIndex: 0, delta: text, into: &out)
    }

    private mutating func closeMessage(into out: inout ByteBuffer) {
        guard let open = message else { return }
        message = nil
        let item = ResponseItem.message(ResponseMessage(id: open.itemID, role: "assistant", content: .parts([.outputText(open.text)]), status: "completed"))
        response.output[open.outputIndex] = item
        emit("response.output_text.done", into: &out) {
            $0.itemID = open.itemID
            $0.outputIndex = open.outputIndex
            $0.contentIndex = 0
            $0.text = open.text
            $0.logprobs = []
        }
        emit("response.content_part.done", into: &out) {
            $0.itemID = open.itemID
            $0.outputIndex = open.outputIndex
            $0.contentIndex = 0
            $0.part = .outputText(open.text)
        }
        emit("response.output_item.done", into: &out) {
            $0.outputIndex = open.outputIndex
            $0.item = item
        }
    }

    private mutating func appendToolCall(_ fragment: ChatCompletionChunk.ToolCallFragment, into out: inout ByteBuffer) {
        if toolCalls[fragment.index] == nil { toolCallOrder.append(fragment.index) }
        // Taken out of the dictionary while it grows, so that its text is not copied.
        var call = toolCalls.removeValue(forKey: fragment.index) ?? OpenToolCall()
        if call.callID == nil, let id = fragment.id, !id.isEmpty { call.callID = id }
        if call.outputIndex == nil, let name = fragment.function?.name { call.name += name }
        let arguments = fragment.function?.arguments ?? ""
        call.arguments += arguments
        if call.outputIndex == nil {
            if !call.name.isEmpty {
                open(&call, into: &out)
                streamArguments(call.arguments, of: &call, into: &out)
            }
        } else {
            streamArguments(arguments, of: &call, into: &out)
        }
        toolCalls[fragment.index] = call
    }

    /// Announces the call's item (`output_item.added`), closing the message before it.
    private mutating func open(_ call: inout OpenToolCall, into out: inout ByteBuffer) {
        closeMessage(into: &out)
        call.isCustom = customToolNames.contains(call.name)
        call.itemID = ResponseIDs.make(call.isCustom ? "ctc" : "fc")
        if call.callID == nil { call.callID = ResponseIDs.make("call") }
        call.outputIndex = response.output.count
        let item = Self.item(of: call, status: "in_progress", arguments: "", input: "")
        response.output.append(item)
        emit("response.output_item.added", into: &out) { [call] in
            $0.outputIndex = call.outputIndex
            $0.item = item
        }
    }

    private mutating func streamArguments(_ arguments: String, of call: inout OpenToolCall, into out: inout ByteBuffer) {
        guard !arguments.isEmpty, let outputIndex = call.outputIndex else { return }
        if call.isCustom {
            let piece = call.input.feed(arguments)
            guard !piece.isEmpty else { return }
            ResponsesDeltaEventWriter.write(
                type: "response.custom_tool_call_input.delta", sequenceNumber: nextSequenceNumber(), outputIndex: outputIndex,
                itemID: call.itemID, contentIndex: nil, delta: piece, into: &out)
        } else {
            ResponsesDeltaEventWriter.write(
                type: "response.function_call_arguments.delta", sequenceNumber: nextSequenceNumber(), outputIndex: outputIndex,
                itemID: call.itemID, contentIndex: nil, delta: arguments, into: &out)
        }
    }

    private mutating func closeToolCalls(into out: inout ByteBuffer) {
        for index in toolCallOrder {
            guard var call = toolCalls[index] else { continue }
            if call.outputIndex == nil { open(&call, into: &out) }
            guard let outputIndex = call.outputIndex else { continue }
            let input = call.isCustom ? Self.input(of: call) : ""
            let item = Self.item(of: call, status: "completed", arguments: call.arguments, input: input)
            response.output[outputIndex] = item
            if call.isCustom {
                let streamed = call.input.decoded
                if input.hasPrefix(streamed), input.count > streamed.count {
                    // What the incremental decoder could not give (arguments that were not one JSON object).
                    emit("response.custom_tool_call_input.delta", into: &out) { [call] in
                        $0.itemID = call.itemID
                        $0.outputIndex = outputIndex
                        $0.delta = String(input.dropFirst(streamed.count))
                    }
                }
                emit("response.custom_tool_call_input.done", into: &out) { [call] in
                    $0.itemID = call.itemID
                    $0.outputIndex = outputIndex
                    $0.input = input
                }
            } else {
                emit("response.function_call_arguments.done", into: &out) { [call] in
                    $0.itemID = call.itemID
                    $0.outputIndex = outputIndex
                    $0.arguments = call.arguments
                }
            }
            emit("response.output_item.done", into: &out) {
                $0.outputIndex = outputIndex
                $0.item = item
            }
        }
        toolCalls = [:]
        toolCallOrder = []
    }

    /// A custom tool's input: the `input` member of the call's arguments, or the arguments text
    /// itself when they are not such an object.
    private static func input(of call: OpenToolCall) -> String {
        let object = try? WireCoding.decode([String: JSONValue].self, from: call.arguments)
        return object?["input"]?.stringValue ?? call.arguments
    }

    private static func item(of call: OpenToolCall, status: String, arguments: String, input: String) -> ResponseItem {
        if call.isCustom {
            return .customToolCall(CustomToolCallItem(id: call.itemID, callID: call.callID ?? "", name: call.name, input: input, status: status))
        }
        return .functionCall(FunctionCallItem(id: call.itemID, callID: call.callID ?? "", name: call.name, arguments: arguments, status: status))
    }

    // MARK: The response's life

    private mutating func start(into out: inout ByteBuffer) {
        guard !started else { return }
        started = true
        let snapshot = response
        emit("response.created", into: &out) { $0.response = snapshot }
        emit("response.in_progress", into: &out) { $0.response = snapshot }
    }

    private mutating func complete(into out: inout ByteBuffer) {
        closeMessage(into: &out)
        closeToolCalls(into: &out)
        response.usage = chatUsage.map(ResponseUsage.init)
        let type: String
        switch finishReason {
        case "length":
            response.status = "incomplete"
            response.incompleteDetails = .object(["reason": .string("max_output_tokens")])
            type = "response.incomplete"
        case "content_filter":
            response.status = "incomplete"
            response.incompleteDetails = .object(["reason": .string("content_filter")])
            type = "response.incomplete"
        default:
            response.status = "completed"
            type = "response.completed"
        }
        ended = true
        let snapshot = response
        emit(type, into: &out) { $0.response = snapshot }
    }

    private mutating func fail(code: String, message: String, into out: inout ByteBuffer) {
        response.status = "failed"
        response.error = ResponseError(code: code, message: message)
        response.usage = chatUsage.map(ResponseUsage.init)
        ended = true
        let snapshot = response
        emit("response.failed", into: &out) { $0.response = snapshot }
    }

    private mutating func nextSequenceNumber() -> Int {
        defer { sequenceNumber += 1 }
        return sequenceNumber
    }

    private mutating func emit(_ type: String, into out: inout ByteBuffer, _ fill: (inout ResponseStreamEvent) -> Void) {
        var event = ResponseStreamEvent(type: type)
        fill(&event)
        event.sequenceNumber = nextSequenceNumber()
        out.writeString("event: \(type)\ndata: ")
        var json = WireCoding.json(event)
        out.writeBuffer(&json)
        out.writeString("\n\n")
    }
}
