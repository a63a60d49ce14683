/// The check a chat-only provider makes of a chat request's `tools`: each one is a `function` tool
/// with a name. `fake-codex` makes it, so that a Responses→Chat bridge that passes on a hosted tool
/// (`web_search`, `tool_search`) or a freeform `custom` one instead of dropping or converting it
/// gets a `400` naming the tool, as it would from such a provider.
enum ChatToolCheck {
    /// The first tool that is not a named `function` tool, as OpenAI words an invalid value.
    static func problem(_ request: JSON) -> ToolCallPairing.Problem? {
        for (index, tool) in (request["tools"]?.arrayValue ?? []).enumerated() {
            let type = tool["type"]?.stringValue ?? ""
            guard type == "function" else {
                return .init(message: "Invalid value: '\(type)'. Supported values are: 'function'.", param: "tools[\(index)].type")
            }
            guard let name = tool["function"]?["name"]?.stringValue, !name.isEmpty else {
                return .init(message: "Missing required parameter: 'tools[\(index)].function.name'.", param: "tools[\(index)].function.name")
            }
        }
        return nil
    }
}
