import GatewayRuntime

/// The Responses `tools` as chat tools: a `function` tool as it is; a freeform `custom` tool (Codex's
/// `apply_patch`, its grammar in `format`) as a function of the same name taking one required string
/// `input`, its description and grammar in the function's description; hosted tools (`web_search`,
/// `tool_search`, …) dropped, since a chat provider cannot run them.
package struct ChatToolTranslation: Sendable {
    /// The tools to send.
    package let chatTools: [ChatTool]
    /// The names of the freeform tools: a chat call to one of them is answered as a `custom_tool_call`.
    package let customToolNames: Set<String>

    package init(_ tools: [ResponsesTool]) {
        var chatTools: [ChatTool] = []
        var customToolNames: Set<String> = []
        for tool in tools {
            switch tool {
            case .function(let function):
                chatTools.append(ChatTool(function: .init(
                    name: function.name, description: function.description, parameters: function.parameters, strict: function.strict
                )))
            case .custom(let custom):
                customToolNames.insert(custom.name)
                chatTools.append(ChatTool(function: .init(
                    name: custom.name, description: Self.description(of: custom), parameters: Self.inputParameters, strict: nil
                )))
            case .unknown:
                break
            }
        }
        self.chatTools = chatTools
        self.customToolNames = customToolNames
    }

    /// `tool_choice` in chat terms: `auto`, `none`, `required` as they are, a named function or custom
    /// tool as `{"type":"function","function":{"name":…}}`; a choice with no chat equivalent (a hosted
    /// tool, `allowed_tools`) is left out, which means `auto`.
    package func chatToolChoice(_ choice: JSONValue?) -> JSONValue? {
        switch choice {
        case .string(let mode) where ["auto", "none", "required"].contains(mode):
            return .string(mode)
        case .object(let object):
            guard let type = object["type"]?.stringValue, type == "function" || type == "custom",
                let name = object["name"]?.stringValue ?? object["function"]?["name"]?.stringValue
            else { return nil }
            return .object(["type": .string("function"), "function": .object(["name": .string(name)])])
        default:
            return nil
        }
    }

    /// `{"type":"object","properties":{"input":{"type":"string"}},"required":["input"],"additionalProperties":false}`.
    private static let inputParameters: JSONValue = .object([
        "type": .string("object"),
        "properties": .object([
            "input": .object([
                "type": .string("string"),
                "description": .string("The tool's whole input as plain text, in the format the tool's description gives."),
            ])
        ]),
        "required": .array([.string("input")]),
        "additionalProperties": .bool(false),
    ])

    private static func description(of tool: ResponsesTool.Custom) -> String {
        var text = tool.description ?? ""
        guard let format = tool.format, format["type"]?.stringValue == "grammar" else { return text }
        let syntax = format["syntax"]?.stringValue ?? "lark"
        if let definition = format["definition"]?.stringValue {
            if !text.isEmpty { text += "\n\n" }
            text += "The input must follow this \(syntax) grammar:\n\(definition)"
        }
        return text
    }
}
