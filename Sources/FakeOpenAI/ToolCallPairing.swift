/// OpenAI's checks that a conversation's tool calls and tool outputs answer each other, with its
/// error messages, so that a client (or a bridge) that loses or renames a call id inconsistently
/// gets the `400` the real API would give it.
///
/// - Chat: every `role: "tool"` message answers a `tool_calls` id of the assistant message it
///   follows, and every such id is answered before the next non-tool message.
/// - Responses: every `function_call_output` / `custom_tool_call_output` answers an earlier
///   `function_call` / `custom_tool_call` of the same `call_id`, and every call is answered.
enum ToolCallPairing {
    struct Problem: Equatable {
        var message: String
        var param: String
    }

    /// The first pairing problem in `request`, or nil when every call and output match.
    static func problem(api: Exchange.API, request: JSON) -> Problem? {
        switch api {
        case .chat: chatProblem(request["messages"]?.arrayValue ?? [])
        case .responses: responsesProblem(request["input"]?.arrayValue ?? [])
        }
    }

    private static func chatProblem(_ messages: [JSON]) -> Problem? {
        var open: [String] = []
        var openedAt = 0
        var answerable: Set<String> = []
        func unanswered() -> Problem {
            Problem(
                message: "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
                    + "The following tool_call_ids did not have response messages: \(open.joined(separator: ", "))",
                param: "messages.[\(openedAt)].role"
            )
        }
        for (index, message) in messages.enumerated() {
            let role = message["role"]?.stringValue
            if role == "tool" {
                let id = message["tool_call_id"]?.stringValue ?? ""
                guard answerable.contains(id) else {
                    return Problem(
                        message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                        param: "messages.[\(index)].role"
                    )
                }
                open.removeAll { $0 == id }
                continue
            }
            if !open.isEmpty { return unanswered() }
            let ids = (message["tool_calls"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            open = role == "assistant" ? ids : []
            answerable = Set(open)
            openedAt = index
        }
        return open.isEmpty ? nil : unanswered()
    }

    private static func responsesProblem(_ items: [JSON]) -> Problem? {
        var calls: [String] = []
        var answered: Set<String> = []
        for item in items {
            let type = item["type"]?.stringValue ?? ""
            let id = item["call_id"]?.stringValue ?? ""
            switch type {
            case "function_call", "custom_tool_call":
                calls.append(id)
            case "function_call_output", "custom_tool_call_output":
                guard calls.contains(id) else {
                    let kind = type == "function_call_output" ? "function call" : "custom tool call"
                    return Problem(message: "No tool call found for \(kind) output with call_id \(id).", param: "input")
                }
                answered.insert(id)
            default:
                break
            }
        }
        if let open = calls.first(where: { !answered.contains($0) }) {
            return Problem(message: "No tool output found for function call \(open).", param: "input")
        }
        return nil
    }
}
