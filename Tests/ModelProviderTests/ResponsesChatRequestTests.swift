import GatewayRuntime
import ModelProvider
import NIOCore
import Testing

@Suite("Responses request → Chat Completions request")
struct ResponsesChatRequestTests {
    /// A request as Codex 0.147 sends it, shortened: instructions, developer and user messages, a
    /// reasoning item, an `apply_patch` call and a `shell` call with their outputs, and its three
    /// kinds of tools (function, freeform custom, hosted).
    static let codexRequest = """
        {"model":"gpt-5-codex","instructions":"You are Codex.","input":[\
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions instructions>"}]},\
        {"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context/>"}]},\
        {"type":"message","role":"user","content":[{"type":"input_text","text":"create hello.txt"}]},\
        {"type":"reasoning","id":"rs_1","summary":[],"content":null,"encrypted_content":"gAAA"},\
        {"type":"custom_tool_call","id":"ctc_1","status":"completed","call_id":"call_A","name":"apply_patch","input":"*** Begin Patch\\n*** Add File: hello.txt\\n+hi\\n*** End Patch\\n"},\
        {"type":"custom_tool_call_output","call_id":"call_A","output":"Success. Updated the following files:\\nA hello.txt\\n"},\
        {"type":"function_call","name":"shell","arguments":"{\\"command\\":[\\"ls\\"]}","call_id":"call_B"},\
        {"type":"function_call_output","call_id":"call_B","output":"hello.txt\\n"}],\
        "tools":[{"type":"function","name":"shell","description":"Runs a shell command.","strict":false,\
        "parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"],"additionalProperties":false}},\
        {"type":"custom","name":"apply_patch","description":"Use the `apply_patch` tool to edit files.",\
        "format":{"type":"grammar","syntax":"lark","definition":"start: begin_patch hunk+ end_patch"}},\
        {"type":"web_search"},{"type":"tool_search"}],\
        "tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium","summary":"auto"},"store":false,"stream":true,\
        "include":["reasoning.encrypted_content"],"prompt_cache_key":"019a"}
        """

    static func chatBody(_ json: String, defaultModel: String = "default-model") throws -> JSONValue {
        let request = try ResponsesChatRequest(body: ByteBuffer(string: json), defaultModel: defaultModel)
        return try WireCoding.decode(JSONValue.self, from: request.chatBody)
    }

    static func badRequestMessage(_ json: String) -> String? {
        do {
            _ = try ResponsesChatRequest(body: ByteBuffer(string: json), defaultModel: "m")
            return nil
        } catch let error as GatewayError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func codexsRequestBecomesChatMessagesWithToolCallsAndToolOutputs() throws {
        let chat = try Self.chatBody(Self.codexRequest)
        let call = { (id: String, name: String, arguments: String) -> JSONValue in
            .object(["id": .string(id), "type": .string("function"), "function": .object(["name": .string(name), "arguments": .string(arguments)])])
        }
        #expect(chat["messages"] == .array([
            .object(["role": .string("system"), "content": .string("You are Codex.")]),
            .object(["role": .string("system"), "content": .string("<permissions instructions>")]),
            .object(["role": .string("user"), "content": .string("<environment_context/>")]),
            .object(["role": .string("user"), "content": .string("create hello.txt")]),
            .object([
                "role": .string("assistant"), "content": .null,
                "tool_calls": .array([call("call_A", "apply_patch", #"{"input":"*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"}"#)]),
            ]),
            .object(["role": .string("tool"), "tool_call_id": .string("call_A"), "content": .string("Success. Updated the following files:\nA hello.txt\n")]),
            .object(["role": .string("assistant"), "content": .null, "tool_calls": .array([call("call_B", "shell", #"{"command":["ls"]}"#)])]),
            .object(["role": .string("tool"), "tool_call_id": .string("call_B"), "content": .string("hello.txt\n")]),
        ]))
        #expect(chat["model"] == .string("gpt-5-codex"))
        #expect(chat["stream"] == .bool(true))
        #expect(chat["stream_options"] == .object(["include_usage": .bool(true)]))
        #expect(chat["tool_choice"] == .string("auto"))
        #expect(chat["parallel_tool_calls"] == .bool(false))
        #expect(chat["store"] == nil && chat["reasoning"] == nil && chat["include"] == nil)
    }

    @Test func functionToolsPassAsTheyAreFreeformToolsTakeOneStringInputAndHostedToolsAreDropped() throws {
        let tools = try #require(try Self.chatBody(Self.codexRequest)["tools"])
        guard case .array(let list) = tools else {
            Issue.record("tools is not an array")
            return
        }
        #expect(list.count == 2)
        #expect(list[0] == .object([
            "type": .string("function"),
            "function": .object([
                "name": .string("shell"), "description": .string("Runs a shell command."), "strict": .bool(false),
                "parameters": .object([
                    "type": .string("object"), "properties": .object(["command": .object(["type": .string("array"), "items": .object(["type": .string("string")])])]),
                    "required": .array([.string("command")]), "additionalProperties": .bool(false),
                ]),
            ]),
        ]))
        let patch = try #require(list[1]["function"])
        #expect(patch["name"] == .string("apply_patch"))
        let description = try #require(patch["description"]?.stringValue)
        #expect(description.hasPrefix("Use the `apply_patch` tool to edit files."))
        #expect(description.contains("lark grammar:\nstart: begin_patch hunk+ end_patch"))
        #expect(patch["parameters"]?["required"] == .array([.string("input")]))
        #expect(patch["parameters"]?["properties"]?["input"]?["type"] == .string("string"))
    }

    @Test func consecutiveCallsBecomeOneAssistantMessageJoinedToTheTextBeforeThem() throws {
        let chat = try Self.chatBody("""
            {"input":[{"role":"user","content":"go"},\
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Running both."}]},\
            {"type":"function_call","call_id":"c1","name":"a","arguments":"{}"},\
            {"type":"reasoning","summary":[]},\
            {"type":"function_call","call_id":"c2","name":"b","arguments":"{\\"x\\":1}"},\
            {"type":"function_call_output","call_id":"c1","output":"one"},\
            {"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"t"},{"type":"input_text","text":"wo"}]}]}
            """)
        guard case .array(let messages) = chat["messages"] else {
            Issue.record("no messages")
            return
        }
        #expect(messages.count == 4)
        #expect(messages[1]["content"] == .string("Running both."))
        #expect(messages[1]["tool_calls"]?.arrayCount == 2)
        #expect(messages[3] == .object(["role": .string("tool"), "tool_call_id": .string("c2"), "content": .string("two")]))
        #expect(chat["model"] == .string("default-model"))
        #expect(chat["tools"] == nil)
    }

    @Test func aStringInputIsOneUserMessageAndImagesBecomeImageURLParts() throws {
        #expect(try Self.chatBody(#"{"model":null,"input":"Hello"}"#)["messages"] == .array([.object(["role": .string("user"), "content": .string("Hello")])]))
        let chat = try Self.chatBody("""
            {"input":[{"role":"user","content":[{"type":"input_text","text":"What is this?"},{"type":"input_image","image_url":"data:image/png;base64,AAA","detail":"high"}]}]}
            """)
        #expect(chat["messages"] == .array([.object([
            "role": .string("user"),
            "content": .array([
                .object(["type": .string("text"), "text": .string("What is this?")]),
                .object(["type": .string("image_url"), "image_url": .object(["url": .string("data:image/png;base64,AAA"), "detail": .string("high")])]),
            ]),
        ])]))
    }

    @Test func samplingLimitsToolChoiceAndJSONSchemaOutputAreMapped() throws {
        let chat = try Self.chatBody("""
            {"model":"m","input":"x","max_output_tokens":300,"temperature":0.2,"top_p":0.9,\
            "tools":[{"type":"custom","name":"apply_patch"}],"tool_choice":{"type":"custom","name":"apply_patch"},\
            "text":{"format":{"type":"json_schema","name":"answer","strict":true,"schema":{"type":"object"}}}}
            """)
        #expect(chat["max_tokens"] == .integer(300))
        #expect(chat["temperature"] == .number(0.2))
        #expect(chat["top_p"] == .number(0.9))
        #expect(chat["tool_choice"] == .object(["type": .string("function"), "function": .object(["name": .string("apply_patch")])]))
        #expect(chat["response_format"] == .object([
            "type": .string("json_schema"),
            "json_schema": .object(["name": .string("answer"), "strict": .bool(true), "schema": .object(["type": .string("object")])]),
        ]))
        let hosted = try Self.chatBody(#"{"input":"x","tools":[{"type":"web_search"}],"tool_choice":{"type":"web_search"}}"#)
        #expect(hosted["tools"] == nil && hosted["tool_choice"] == nil)
    }

    @Test func theModelAndTheClientsStreamFlagAreReported() throws {
        let request = try ResponsesChatRequest(body: ByteBuffer(string: #"{"model":"gpt-4o","input":"x","stream":true}"#), defaultModel: "d")
        #expect(request.model == "gpt-4o")
        #expect(request.stream)
        let plain = try ResponsesChatRequest(body: ByteBuffer(string: #"{"input":"x"}"#), defaultModel: "d")
        #expect(plain.model == "d")
        #expect(!plain.stream)
    }

    @Test func aBodyThatIsNotAResponsesRequestIsABadRequestNamingTheField() {
        #expect(Self.badRequestMessage("not json") == "The body must be a JSON object (an OpenAI Responses request). It is not valid JSON.")
        #expect(Self.badRequestMessage("[1]") == "The body must be a JSON object (an OpenAI Responses request).")
        #expect(Self.badRequestMessage(#"{"model":"m"}"#) == "input: required.")
        #expect(Self.badRequestMessage(#"{"input":5}"#) == "input: expected a string or an array of items.")
        #expect(Self.badRequestMessage(#"{"input":[{"type":"function_call","name":"a","arguments":"{}"}]}"#) == "input[0].call_id: required.")
        #expect(Self.badRequestMessage(#"{"input":[{"role":"tool","content":"x"}]}"#) == "input[0].role: expected user, assistant, system or developer.")
        #expect(Self.badRequestMessage(#"{"input":"x","stream":"yes"}"#) == "stream: expected a boolean.")
        #expect(Self.badRequestMessage(#"{"input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}"#)
            == "input[0].content: a part of type input_file cannot be sent to a chat provider.")
    }

    /// What `openapi.yaml` says of `OpenAIResponseRequest` is what the bridge checks: each of these
    /// breaks the schema and is refused, so contract tests can hold the two together.
    @Test func whatTheSchemaForbidsTheBridgeRefuses() {
        #expect(Self.badRequestMessage(#"{"input":[{}]}"#) == "input[0].role: required.")
        #expect(Self.badRequestMessage(#"{"input":[{"role":"user"}]}"#) == "input[0].content: required.")
        #expect(Self.badRequestMessage(#"{"input":"x","tools":[{"name":"f"}]}"#) == "tools[0].type: required.")
        #expect(Self.badRequestMessage(#"{"input":"x","tools":[{"type":"function"}]}"#) == "tools[0].name: required.")
        #expect(Self.badRequestMessage(#"{"input":"x","model":""}"#) == "model: expected a non-empty string.")
        #expect(Self.badRequestMessage(#"{"input":"x","max_output_tokens":0}"#) == "max_output_tokens: expected an integer from 1 to 2147483647.")
        #expect(Self.badRequestMessage(#"{"input":"x","max_output_tokens":123456789012345678901234}"#)
            == "A number in the body does not fit its field (an integer field takes a whole number that fits in 64 bits).")
    }

    @Test func itemsOfOtherKindsAndHostedToolsAreDroppedNotRefused() throws {
        let body = #"{"model":null,"input":[{"type":"web_search_call","id":"ws"},{"role":"user","content":"hi"}],"tools":[{"type":"web_search"}]}"#
        let request = try ResponsesChatRequest(body: ByteBuffer(string: body), defaultModel: "d")
        let chat = try WireCoding.decode(JSONValue.self, from: request.chatBody)
        #expect(request.model == "d")
        #expect(chat["messages"]?.arrayCount == 1)
        #expect(chat["tools"] == nil)
    }
}

extension JSONValue {
    var arrayCount: Int? {
        guard case .array(let values) = self else { return nil }
        return values.count
    }
}
