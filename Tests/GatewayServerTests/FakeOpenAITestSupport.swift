import AsyncHTTPClient
import FakeOpenAI
import Foundation
import NIOCore
import Testing

// Helpers of the fake-openai tests (`FakeOpenAITests`, `FakeOpenAIAgentTests`; the server itself comes
// from `withFakeUpstream`): requests over real loopback HTTP with the client the gateway uses, and
// their answers taken apart.

/// A POST of `json` to the fake (`path` under `/v1`), with a bearer key unless told otherwise.
func postToFake(
    _ server: FakeOpenAIServer,
    _ path: String,
    _ json: String,
    authorization: String? = "Bearer sk-test",
    extraHeaders: [(String, String)] = []
) async throws -> HTTPClientResponse {
    var request = HTTPClientRequest(url: server.baseURL + path)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
    for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(string: json))
    return try await HTTPClient.shared.execute(request, timeout: .seconds(5))
}

/// Requests shaped as Codex sends them, and their answers taken apart.
enum CodexWire {
    /// Codex's own tools, as `codex exec` 0.147 offers them to `gpt-5.4` (trimmed).
    static var codexTools: [[String: Any]] {
        [
            functionTool("exec_command"),
            [
                "type": "custom", "name": "apply_patch", "description": "Use the `apply_patch` tool to edit files.",
                "format": ["type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"],
            ],
            ["type": "web_search", "external_web_access": false],
        ]
    }

    static func functionTool(_ name: String) -> [String: Any] {
        ["type": "function", "name": name, "parameters": ["type": "object", "properties": [:] as [String: Any]]]
    }

    static func userMessage(_ text: String) -> [String: Any] {
        ["type": "message", "role": "user", "content": [["type": "input_text", "text": text]]]
    }

    struct ResponsesAnswer {
        var events: [String] = []
        var output: [[String: Any]] = []
        var streamedInput = ""
        var text: String {
            output.flatMap { ($0["content"] as? [[String: Any]]) ?? [] }.compactMap { $0["text"] as? String }.joined()
        }
    }

    static func responsesTurn(_ server: FakeOpenAIServer, input: [[String: Any]], tools: [[String: Any]] = codexTools) async throws -> ResponsesAnswer {
        let body: [String: Any] = ["model": "gpt-5.4", "stream": true, "store": false, "input": input, "tools": tools]
        let response = try await postToFake(server, "/responses", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
        #expect(response.status == .ok)
        var answer = ResponsesAnswer()
        for event in SSE.parse(try await collectText(response)) {
            let payload = try #require(JSONHelper.object(event.data))
            answer.events.append(event.event ?? "")
            if event.event == "response.custom_tool_call_input.delta" { answer.streamedInput += payload["delta"] as? String ?? "" }
            if event.event == "response.completed" {
                answer.output = (payload["response"] as? [String: Any])?["output"] as? [[String: Any]] ?? []
            }
        }
        return answer
    }

    struct ChatCall {
        var id: String
        var name: String
        var arguments: String
        var fragments: Int
        var assistantMessage: [String: Any] {
            ["role": "assistant", "content": NSNull(), "tool_calls": [["id": id, "type": "function", "function": ["name": name, "arguments": arguments]]]]
        }
    }

    struct ChatAnswer {
        var calls: [ChatCall] = []
        var text = ""
        var finishReason: String?
    }

    /// The tools a Responses→Chat bridge makes of Codex's: function tools, `apply_patch` with one
    /// string `input`, the hosted `web_search` dropped.
    static var bridgeTools: [[String: Any]] {
        let stringParameter: [String: Any] = ["type": "object", "properties": ["input": ["type": "string"]], "required": ["input"]]
        return [chatFunctionTool("exec_command"), chatFunctionTool("apply_patch", parameters: stringParameter)]
    }

    static func chatFunctionTool(_ name: String, parameters: [String: Any] = ["type": "object", "properties": [:] as [String: Any]]) -> [String: Any] {
        ["type": "function", "function": ["name": name, "parameters": parameters]]
    }

    /// One streamed chat request, by default with the tools a Responses→Chat bridge makes of Codex's.
    static func chatTurn(_ server: FakeOpenAIServer, messages: [[String: Any]], tools: [[String: Any]] = bridgeTools) async throws -> ChatAnswer {
        let body: [String: Any] = ["model": "gpt-5.4", "stream": true, "messages": messages, "tools": tools]
        let response = try await postToFake(server, "/chat/completions", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
        #expect(response.status == .ok)
        var answer = ChatAnswer()
        for event in SSE.parse(try await collectText(response)) where event.data != "[DONE]" {
            let chunk = try #require(JSONHelper.object(event.data))
            let choice = try #require((chunk["choices"] as? [[String: Any]])?.first)
            if let reason = choice["finish_reason"] as? String { answer.finishReason = reason }
            let delta = choice["delta"] as? [String: Any]
            answer.text += delta?["content"] as? String ?? ""
            for call in (delta?["tool_calls"] as? [[String: Any]]) ?? [] {
                let index = try #require(call["index"] as? Int)
                if index == answer.calls.count { answer.calls.append(ChatCall(id: "", name: "", arguments: "", fragments: 0)) }
                if let id = call["id"] as? String { answer.calls[index].id = id }
                let function = call["function"] as? [String: Any]
                if let name = function?["name"] as? String { answer.calls[index].name = name }
                if let fragment = function?["arguments"] as? String, !fragment.isEmpty {
                    answer.calls[index].arguments += fragment
                    answer.calls[index].fragments += 1
                }
            }
        }
        return answer
    }
}

/// The whole body of a response, as text (at most 1 MiB).
func collectText(_ response: HTTPClientResponse) async throws -> String {
    String(buffer: try await response.body.collect(upTo: 1 << 20))
}

/// `[String: Any]` views of JSON text, for assertions.
enum JSONHelper {
    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}

/// A minimal SSE reader: events are separated by a blank line; comments are skipped.
enum SSE {
    struct Event {
        var event: String?
        var data: String
    }

    static func parse(_ text: String) -> [Event] {
        var events: [Event] = []
        for block in text.components(separatedBy: "\n\n") {
            var name: String?
            var data: [String] = []
            for line in block.split(separator: "\n") where !line.hasPrefix(":") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst("event: ".count)) }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst("data: ".count))) }
            }
            if !data.isEmpty { events.append(Event(event: name, data: data.joined(separator: "\n"))) }
        }
        return events
    }
}

