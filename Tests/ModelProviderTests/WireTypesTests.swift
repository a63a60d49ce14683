import GatewayRuntime
import ModelProvider
import Testing

@Suite("Chat Completions and Responses wire types")
struct WireTypesTests {
    @Test func aChatChunkWithToolCallFragmentsDecodesAndIgnoresFieldsItDoesNotKnow() throws {
        let text = """
            {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",\
            "system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":null,\
            "tool_calls":[{"index":1,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},\
            "logprobs":null,"finish_reason":null}]}
            """
        let chunk = try WireCoding.decode(ChatCompletionChunk.self, from: text)
        let fragment = try #require(chunk.choices?.first?.delta?.toolCalls?.first)
        #expect(fragment.index == 1)
        #expect(fragment.id == "call_abc")
        #expect(fragment.function?.name == "get_weather")
        #expect(chunk.choices?.first?.delta?.content == nil)
    }

    @Test func aUsageChunkCarriesCachedAndReasoningTokens() throws {
        let text = """
            {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,\
            "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":12}}}
            """
        let usage = try #require(try WireCoding.decode(ChatCompletionChunk.self, from: text).usage)
        #expect(usage.tokenUsage == TokenUsage(inputTokens: 1117, cachedInputTokens: 1024, outputTokens: 46))
        #expect(usage.completionTokensDetails?.reasoningTokens == 12)
    }

    @Test func anErrorChunkDecodesAsAnObjectOrAsAPlainString() throws {
        let object = try WireCoding.decode(ChatCompletionChunk.self, from: #"{"error":{"message":"Rate limit reached","type":"requests","code":429}}"#)
        #expect(object.error?.message == "Rate limit reached")
        #expect(object.error?.code == .integer(429))
        let plain = try WireCoding.decode(ChatCompletionChunk.self, from: #"{"error":"model overloaded"}"#)
        #expect(plain.error?.message == "model overloaded")
    }

    @Test func responsesInputItemsOfEveryKindDecodeAndUnknownKindsAreKept() throws {
        let text = """
            {"model":"gpt-5","input":[{"role":"user","content":"hi"},\
            {"type":"message","role":"user","content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"https://x/y.png","detail":"low"},{"type":"input_audio","data":"…"}]},\
            {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},\
            {"type":"function_call","call_id":"call_1","name":"shell","arguments":"{}"},\
            {"type":"function_call_output","call_id":"call_1","output":[{"type":"input_text","text":"ok"}]},\
            {"type":"custom_tool_call","call_id":"call_2","name":"apply_patch","input":"*** Begin Patch"},\
            {"type":"custom_tool_call_output","call_id":"call_2","output":"Done"},\
            {"type":"web_search_call","id":"ws_1","status":"completed"}],\
            "tools":[{"type":"web_search"},{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}}],\
            "prompt_cache_key":"k"}
            """
        let request = try WireCoding.decode(ResponsesRequest.self, from: text)
        guard case .items(let items) = request.input else {
            Issue.record("input is not a list of items")
            return
        }
        #expect(items.count == 8)
        #expect(items[0] == .message(ResponseMessage(role: "user", content: .text("hi"))))
        guard case .message(let message) = items[1], case .parts(let parts) = message.content else {
            Issue.record("item 1 is not a message with parts")
            return
        }
        #expect(parts[1] == .inputImage(imageURL: "https://x/y.png", fileID: nil, detail: "low"))
        #expect(parts[2] == .unknown(.object(["type": .string("input_audio"), "data": .string("…")])))
        if case .reasoning = items[2] {} else { Issue.record("item 2 is not reasoning") }
        #expect(items[3] == .functionCall(FunctionCallItem(callID: "call_1", name: "shell", arguments: "{}")))
        #expect(items[5] == .customToolCall(CustomToolCallItem(callID: "call_2", name: "apply_patch", input: "*** Begin Patch")))
        if case .unknown(let value) = items[7] { #expect(value["type"]?.stringValue == "web_search_call") } else { Issue.record("item 7 is not unknown") }
        if case .unknown = request.tools?[0] {} else { Issue.record("web_search is not an unknown tool") }
        if case .custom(let tool) = request.tools?[1] { #expect(tool.name == "apply_patch") } else { Issue.record("apply_patch is not custom") }
    }

    @Test func itemsEncodeBackToTheirWireShape() throws {
        let items: [ResponseItem] = [
            .customToolCall(CustomToolCallItem(id: "ctc_1", callID: "call_1", name: "apply_patch", input: "x", status: "completed")),
            .unknown(.object(["type": .string("web_search_call"), "id": .string("ws_1")])),
            .message(ResponseMessage(id: "msg_1", role: "assistant", content: .parts([.outputText("hi")]), status: "completed")),
        ]
        let json = try WireCoding.decode(JSONValue.self, from: WireCoding.json(items))
        #expect(json == .array([
            .object(["type": .string("custom_tool_call"), "id": .string("ctc_1"), "call_id": .string("call_1"), "name": .string("apply_patch"), "input": .string("x"), "status": .string("completed")]),
            .object(["type": .string("web_search_call"), "id": .string("ws_1")]),
            .object([
                "type": .string("message"), "id": .string("msg_1"), "role": .string("assistant"), "status": .string("completed"),
                "content": .array([.object(["type": .string("output_text"), "text": .string("hi"), "annotations": .array([])])]),
            ]),
        ]))
    }

    @Test func aResponsesStreamEventDecodesTheCompletedResponseAndItsUsage() throws {
        let text = """
            {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","created_at":1741290958,\
            "status":"completed","error":null,"model":"gpt-4.1","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant",\
            "content":[{"type":"output_text","text":"Hi","annotations":[]}]}],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":5},\
            "output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48},"user":null}}
            """
        let event = try WireCoding.decode(ResponseStreamEvent.self, from: text)
        #expect(event.type == "response.completed")
        #expect(event.response?.usage?.tokenUsage == TokenUsage(inputTokens: 37, cachedInputTokens: 5, outputTokens: 11))
        #expect(event.response?.output.count == 1)
    }
}
