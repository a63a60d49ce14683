/// `fake-codex`: one Codex agent turn that edits a file and runs a command, played across the
/// requests of that turn as a real model would answer Codex.
///
/// Which step a request gets depends on how many tool outputs follow the conversation's last user
/// message (Responses: `function_call_output` / `custom_tool_call_output` items; chat: `role: "tool"`
/// messages):
/// 0. a call to `apply_patch` that adds ``fileName`` holding ``fileText``: a freeform
///    `custom_tool_call` (raw patch as `input`) when the request offers `apply_patch` as a `custom`
///    tool, as Codex does; a function call with arguments `{"input": "<patch>"}` when it is a
///    function tool, as a Responses→Chat bridge offers it to a chat model;
/// 1. a call to the shell tool the request offers, reading the file back: `exec_command`
///    `{"cmd": "cat hello.txt"}`, else `shell_command` `{"command": "cat hello.txt"}`, else `shell`
///    `{"command": ["bash", "-lc", "cat hello.txt"]}`;
/// 2. a final message: ``successMessage`` when the last tool output shows ``fileText``, else one that
///    starts with `fake-codex:` and says what was missing.
/// A request that does not offer the tool a step needs gets a final message starting `fake-codex:`
/// that names the tool. Arguments and inputs stream in several fragments (chat: by `index`).
struct CodexTurn {
    static let fileName = "hello.txt"
    static let fileText = "hello from fake-openai"
    static let patch = "*** Begin Patch\n*** Add File: \(fileName)\n+\(fileText)\n*** End Patch\n"
    static let command = "cat \(fileName)"
    static let successMessage = "Done: \(fileName) says \"\(fileText)\"."

    /// Tool outputs after the last user message, oldest first.
    let toolOutputs: [String]
    /// The request's tools: name → whether it is a freeform `custom` tool.
    let tools: [String: Bool]

    init(api: Exchange.API, request: JSON) {
        let entries = request[api == .chat ? "messages" : "input"]?.arrayValue ?? []
        let lastUser = entries.lastIndex { $0["role"]?.stringValue == "user" } ?? -1
        toolOutputs = entries.dropFirst(lastUser + 1).compactMap { entry in
            switch api {
            case .chat:
                entry["role"]?.stringValue == "tool" ? Conversation.text(of: entry["content"]) : nil
            case .responses:
                ["function_call_output", "custom_tool_call_output"].contains(entry["type"]?.stringValue ?? "")
                    ? Conversation.text(of: entry["output"]) : nil
            }
        }
        var tools: [String: Bool] = [:]
        for tool in request["tools"]?.arrayValue ?? [] {
            // Responses tools carry their name at the top; chat tools inside `function`.
            guard let name = tool["name"]?.stringValue ?? tool["function"]?["name"]?.stringValue else { continue }
            tools[name] = tool["type"]?.stringValue == "custom"
        }
        self.tools = tools
    }

    /// What the model answers to this request (see the type's comment).
    func output(sequenceNumber: Int) -> Plan.Output {
        switch toolOutputs.count {
        case 0:
            guard let custom = tools["apply_patch"] else { return .text(Plan.words("fake-codex: the request offers no apply_patch tool")) }
            let call = custom
                ? Plan.ToolCall(
                    callID: "call_fake_patch\(sequenceNumber)", itemID: "ctc_fake\(sequenceNumber)", name: "apply_patch",
                    argumentFragments: Self.fragments(Self.patch), kind: .custom
                )
                : Plan.ToolCall(
                    callID: "call_fake_patch\(sequenceNumber)", itemID: "fc_fake\(sequenceNumber)", name: "apply_patch",
                    argumentFragments: Self.fragments((["input": .string(Self.patch)] as JSON).serialized)
                )
            return .toolCalls([call])
        case 1:
            let arguments: JSON
            let name: String
            if tools["exec_command"] != nil {
                (name, arguments) = ("exec_command", ["cmd": .string(Self.command)])
            } else if tools["shell_command"] != nil {
                (name, arguments) = ("shell_command", ["command": .string(Self.command)])
            } else if tools["shell"] != nil {
                (name, arguments) = ("shell", ["command": ["bash", "-lc", .string(Self.command)]])
            } else {
                return .text(Plan.words("fake-codex: the request offers no exec_command, shell_command or shell tool"))
            }
            let call = Plan.ToolCall(
                callID: "call_fake_shell\(sequenceNumber)", itemID: "fc_fake\(sequenceNumber)", name: name,
                argumentFragments: Self.fragments(arguments.serialized)
            )
            return .toolCalls([call])
        default:
            let last = toolOutputs.last ?? ""
            if last.contains(Self.fileText) { return .text(Plan.words(Self.successMessage)) }
            return .text(Plan.words("fake-codex: the last tool output does not show \(Self.fileName)'s text: \(last.prefix(300))"))
        }
    }

    /// `text` in three pieces of about the same length (fewer when it is shorter than three characters).
    static func fragments(_ text: String) -> [String] {
        let characters = Array(text)
        let size = max(1, (characters.count + 2) / 3)
        return stride(from: 0, to: characters.count, by: size).map { String(characters[$0..<min($0 + size, characters.count)]) }
    }
}
