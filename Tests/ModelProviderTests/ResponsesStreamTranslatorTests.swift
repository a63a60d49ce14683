import GatewayRuntime
import ModelProvider
import NIOCore
import Testing

@Suite("Chat Completions stream → Responses events")
struct ResponsesStreamTranslatorTests {
    /// A decoded Responses event as the client sees it.
    struct Event {
        var name: String
        var json: JSONValue
        var type: String? { json["type"]?.stringValue }
        subscript(key: String) -> JSONValue? { json[key] }
    }

    static let tools = """
        "tools":[{"type":"function","name":"shell","parameters":{"type":"object"}},{"type":"custom","name":"apply_patch"},{"type":"web_search"}]
        """

    static func translator(_ extra: String = tools) throws -> ResponsesStreamTranslator {
        try ResponsesChatRequest(body: ByteBuffer(string: #"{"model":"m","input":"x","# + extra + "}"), defaultModel: "d").translator
    }

    static func chunk(_ json: String) -> String { "data: \(json)\n\n" }

    static func textChunk(_ text: String) -> String {
        chunk(#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"# + JSONSyntaxScanner.quoted(text) + #"},"finish_reason":null}]}"#)
    }

    static func toolChunk(index: Int, id: String? = nil, name: String? = nil, arguments: String) -> String {
        var function = #""arguments":"# + JSONSyntaxScanner.quoted(arguments)
        if let name { function += #","name":"# + JSONSyntaxScanner.quoted(name) }
        let idPart = id.map { #","id":"\#($0)","type":"function""# } ?? ""
        return chunk(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":\#(index)\#(idPart),"function":{\#(function)}}]}}]}"#)
    }

    static let stopAndUsage = chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#)
        + chunk(#"{"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":7,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":16},"completion_tokens_details":{"reasoning_tokens":3}}}"#)
    static let done = "data: [DONE]\n\n"

    /// Feeds `stream` in pieces of `pieceSize` bytes, then ends the body (with `error`).
    static func run(_ stream: String, pieceSize: Int? = nil, error: (any Error)? = nil, translator: inout ResponsesStreamTranslator) -> [Event] {
        var out = ByteBuffer()
        let bytes = Array(stream.utf8)
        let size = pieceSize ?? max(bytes.count, 1)
        var start = 0
        repeat {
            let end = min(start + size, bytes.count)
            var piece = translator.translate(ByteBuffer(bytes: bytes[start..<end]))
            out.writeBuffer(&piece)
            start = end
        } while start < bytes.count
        var last = translator.finish(error: error)
        out.writeBuffer(&last)
        return events(in: out)
    }

    static func run(_ stream: String, pieceSize: Int? = nil, error: (any Error)? = nil) throws -> [Event] {
        var translator = try translator()
        return run(stream, pieceSize: pieceSize, error: error, translator: &translator)
    }

    static func events(in buffer: ByteBuffer) -> [Event] {
        var parser = SSEParser()
        return parser.feed(buffer.readableBytesView).map { event in
            Event(name: event.event ?? "", json: (try? WireCoding.decode(JSONValue.self, from: event.data)) ?? .null)
        }
    }

    static func deltas(_ events: [Event], _ type: String) -> String {
        events.filter { $0.type == type }.compactMap { $0["delta"]?.stringValue }.joined()
    }

    @Test func aTextAnswerStreamsAsOneMessageItemWithEveryLifecycleEvent() throws {
        let events = try Self.run(Self.textChunk("Hel") + Self.textChunk("lo") + Self.stopAndUsage + Self.done)
        #expect(events.map(\.name) == [
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
            "response.output_item.done", "response.completed",
        ])
        #expect(events.map(\.name) == events.compactMap(\.type))
        #expect(events.map { $0["sequence_number"] } == (0..<events.count).map { .integer($0) })
        let responseID = try #require(events[0]["response"]?["id"]?.stringValue)
        #expect(responseID.hasPrefix("resp_"))
        #expect(events[0]["response"]?["status"] == .string("in_progress"))
        let item = try #require(events[8]["item"])
        #expect(item["id"]?.stringValue?.hasPrefix("msg_") == true)
        #expect(item["content"] == .array([.object(["type": .string("output_text"), "text": .string("Hello"), "annotations": .array([])])]))
        #expect(events[6]["text"] == .string("Hello"))
        let completed = try #require(events[9]["response"])
        #expect(completed["id"] == .string(responseID))
        #expect(completed["status"] == .string("completed"))
        #expect(completed["model"] == .string("m"))
        #expect(completed["output"] == .array([item]))
    }

    @Test func theSameEventsComeOutWhateverHowTheProvidersBytesAreSplit() throws {
        let stream = Self.textChunk("añ😀b") + Self.toolChunk(index: 0, id: "call_1", name: "shell", arguments: #"{"command":"#)
            + Self.toolChunk(index: 0, arguments: #"["ls"]}"#) + Self.stopAndUsage + Self.done
        let whole = try Self.run(stream)
        for size in [1, 2, 3, 7] {
            let split = try Self.run(stream, pieceSize: size)
            #expect(split.map(\.name) == whole.map(\.name))
            #expect(Self.deltas(split, "response.output_text.delta") == "añ😀b")
            #expect(Self.deltas(split, "response.function_call_arguments.delta") == #"{"command":["ls"]}"#)
        }
        // CRLF line ends and a final event without its blank line are fine too.
        let crlf = try Self.run(stream.replacingOccurrences(of: "\n", with: "\r\n").replacingOccurrences(of: "[DONE]\r\n\r\n", with: "[DONE]"))
        #expect(crlf.map(\.name) == whole.map(\.name))
    }

    @Test func severalToolCallsAreAssembledByIndexAsFunctionAndCustomToolCallItems() throws {
        let patch = "*** Begin Patch\n*** Add File: hello.txt\n+héllo \"world\"\n*** End Patch\n"
        let patchArguments = WireCoding.jsonString(["input": patch])
        let middle = patchArguments.index(patchArguments.startIndex, offsetBy: 25)
        let stream = Self.textChunk("Let me do that.")
            + Self.toolChunk(index: 0, id: "call_shell", name: "shell", arguments: #"{"command""#)
            + Self.toolChunk(index: 1, id: "call_patch", name: "apply_patch", arguments: String(patchArguments[..<middle]))
            + Self.toolChunk(index: 0, arguments: #":["ls"]}"#)
            + Self.toolChunk(index: 1, arguments: String(patchArguments[middle...]))
            + Self.chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#)
            + Self.chunk(#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}"#) + Self.done
        for size in [nil, 1] {
            let events = try Self.run(stream, pieceSize: size)
            let added = events.filter { $0.type == "response.output_item.added" }.compactMap { $0["item"]?["type"]?.stringValue }
            #expect(added == ["message", "function_call", "custom_tool_call"])
            #expect(Self.deltas(events, "response.function_call_arguments.delta") == #"{"command":["ls"]}"#)
            #expect(Self.deltas(events, "response.custom_tool_call_input.delta") == patch)
            #expect(events.first { $0.type == "response.custom_tool_call_input.done" }?["input"] == .string(patch))
            #expect(events.first { $0.type == "response.function_call_arguments.done" }?["arguments"] == .string(#"{"command":["ls"]}"#))
            let done = events.filter { $0.type == "response.output_item.done" }.compactMap { $0["item"] }
            #expect(done.count == 3)
            #expect(done[1]["type"] == .string("function_call"))
            #expect(done[1]["call_id"] == .string("call_shell"))
            #expect(done[1]["name"] == .string("shell"))
            #expect(done[1]["id"]?.stringValue?.hasPrefix("fc_") == true)
            #expect(done[1]["status"] == .string("completed"))
            #expect(done[2]["type"] == .string("custom_tool_call"))
            #expect(done[2]["call_id"] == .string("call_patch"))
            #expect(done[2]["input"] == .string(patch))
            #expect(done[2]["id"]?.stringValue?.hasPrefix("ctc_") == true)
            let completed = try #require(events.last)
            #expect(completed.type == "response.completed")
            #expect(completed["response"]?["output"] == .array(done))
        }
    }

    @Test func theUsageIsReportedAsTheProviderGaveIt() throws {
        var translator = try Self.translator()
        let events = Self.run(Self.textChunk("x") + Self.stopAndUsage + Self.done, translator: &translator)
        #expect(events.last?["response"]?["usage"] == .object([
            "input_tokens": .integer(20), "input_tokens_details": .object(["cached_tokens": .integer(16)]),
            "output_tokens": .integer(7), "output_tokens_details": .object(["reasoning_tokens": .integer(3)]), "total_tokens": .integer(27),
        ]))
        #expect(translator.usage == TokenUsage(inputTokens: 20, cachedInputTokens: 16, outputTokens: 7))
        #expect(!translator.isFailed)
    }

    @Test func aStreamThatEndsWithAFinishReasonAndUsageButNoDoneStillCompletes() throws {
        let events = try Self.run(Self.textChunk("x") + Self.stopAndUsage)
        #expect(events.last?.type == "response.completed")
    }

    @Test func aCutStreamEndsInResponseFailed() throws {
        var translator = try Self.translator()
        let events = Self.run(Self.textChunk("partial") + #"data: {"choices":[{"ind"#, translator: &translator)
        let failed = try #require(events.last)
        #expect(failed.type == "response.failed")
        #expect(failed["response"]?["status"] == .string("failed"))
        #expect(failed["response"]?["error"] == .object([
            "code": .string("server_error"), "message": .string("The model stream ended before the response was complete."),
        ]))
        #expect(translator.isFailed)
        #expect(translator.failure == ResponseError(code: "server_error", message: "The model stream ended before the response was complete."))
        #expect(events.contains { $0.type == "response.output_text.delta" })
    }

    @Test func aTransportErrorEndsInResponseFailedNamingIt() throws {
        let events = try Self.run(Self.textChunk("x") + Self.stopAndUsage, error: ModelClientError.idleTimeout(milliseconds: 300))
        #expect(events.last?.type == "response.failed")
        #expect(events.last?["response"]?["error"]?["message"] == .string("The model stream was idle for more than 300 ms."))
    }

    @Test func anErrorChunkEndsInResponseFailedWithTheProvidersMessage() throws {
        var translator = try Self.translator()
        let stream = Self.textChunk("x") + Self.chunk(#"{"error":{"message":"Context too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#)
            + Self.textChunk("ignored") + Self.done
        let events = Self.run(stream, translator: &translator)
        #expect(events.filter { $0.type == "response.failed" }.count == 1)
        #expect(events.last?.type == "response.failed")
        #expect(events.last?["response"]?["error"] == .object([
            "code": .string("context_length_exceeded"), "message": .string("The model provider reported an error: Context too long"),
        ]))
        #expect(Self.deltas(events, "response.output_text.delta") == "x")
        #expect(translator.isFailed)
        var again = translator.finish(error: nil)
        #expect(again.readString(length: again.readableBytes) == "")
    }

    @Test func aProviderThatStoppedAtItsTokenLimitGivesAnIncompleteResponse() throws {
        let events = try Self.run(Self.textChunk("x") + Self.chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#) + Self.done)
        #expect(events.last?.type == "response.incomplete")
        #expect(events.last?["response"]?["incomplete_details"] == .object(["reason": .string("max_output_tokens")]))
    }

    @Test func theNonStreamingAnswerIsTheWholeResponseObject() throws {
        var translator = try Self.translator(#""instructions":"Be brief.","temperature":0.5"#)
        _ = Self.run(Self.textChunk("Hi ") + Self.textChunk("there") + Self.stopAndUsage + Self.done, translator: &translator)
        let object = try WireCoding.decode(JSONValue.self, from: translator.responseObject())
        #expect(object["object"] == .string("response"))
        #expect(object["status"] == .string("completed"))
        #expect(object["error"] == .null)
        #expect(object["instructions"] == .string("Be brief."))
        #expect(object["temperature"] == .number(0.5))
        #expect(object["usage"]?["total_tokens"] == .integer(27))
        #expect(object["output"]?.arrayCount == 1)
        #expect(object["output"] == .array([.object([
            "type": .string("message"), "id": try #require(object["output"].flatMap { if case .array(let items) = $0 { items.first?["id"] } else { nil } }),
            "role": .string("assistant"), "status": .string("completed"),
            "content": .array([.object(["type": .string("output_text"), "text": .string("Hi there"), "annotations": .array([])])]),
        ])]))
    }
}
