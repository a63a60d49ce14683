/// One model request of a Codex agent turn, as the scripted agent scenarios (``CodexTurn``,
/// ``AgentTurn``, ``HelloFunctionTurn``) read it, and the tool calls they answer with.
///
/// A turn's step is the number of tool outputs after the conversation's last user message
/// (Responses: `function_call_output` / `custom_tool_call_output` items; chat: `role: "tool"`
/// messages). The calls are shaped for the tools the request offers:
/// - `apply_patch`: a freeform `custom_tool_call` (raw patch as `input`) when the request offers it as
///   a `custom` tool, as Codex does; a function call with arguments `{"input": "<patch>"}` when it is
///   a function tool, as a Responses→Chat bridge offers it to a chat model;
/// - the shell: `exec_command` `{"cmd": …}`, else `shell_command` `{"command": …}`, else `shell`
///   `{"command": ["bash", "-lc", …]}` (Codex 0.147 offers one of them, depending on the model).
/// Arguments and inputs stream in several fragments (chat: by `index`).
struct AgentRequest {
    /// The text of the last user message.
    let lastUserText: String
    /// Tool outputs after the last user message, oldest first.
    let toolOutputs: [String]
    /// The request's tools: name → whether it is a freeform `custom` tool. A function inside a
    /// Responses `namespace` tool is named `<namespace>__<name>`, as Codex names MCP tools
    /// (`mcp__gateway__codex`: namespace `mcp__gateway`, function `codex`).
    let tools: [String: Bool]
    /// The functions inside namespaces, by that name: (namespace, function name).
    let namespaced: [String: (namespace: String, name: String)]

    init(api: Exchange.API, request: JSON) {
        lastUserText = Conversation(api: api, request: request).lastUserText
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
        var namespaced: [String: (namespace: String, name: String)] = [:]
        for tool in request["tools"]?.arrayValue ?? [] {
            // Responses tools carry their name at the top; chat tools inside `function`.
            guard let name = tool["name"]?.stringValue ?? tool["function"]?["name"]?.stringValue else { continue }
            if tool["type"]?.stringValue == "namespace" {
                for inner in tool["tools"]?.arrayValue ?? [] {
                    guard let function = inner["name"]?.stringValue else { continue }
                    tools["\(name)__\(function)"] = inner["type"]?.stringValue == "custom"
                    namespaced["\(name)__\(function)"] = (name, function)
                }
                continue
            }
            tools[name] = tool["type"]?.stringValue == "custom"
        }
        self.tools = tools
        self.namespaced = namespaced
    }

    /// Whether the request offers an `apply_patch` tool (freeform or function).
    var offersApplyPatch: Bool { tools["apply_patch"] != nil }

    /// A call to `apply_patch` with `patch`, or nil when the request offers no such tool.
    func applyPatchCall(_ patch: String, sequenceNumber: Int) -> Plan.ToolCall? {
        guard let custom = tools["apply_patch"] else { return nil }
        let callID = "call_fake_patch\(sequenceNumber)"
        return custom
            ? Plan.ToolCall(
                callID: callID, itemID: "ctc_fake\(sequenceNumber)", name: "apply_patch", argumentFragments: Self.fragments(patch), kind: .custom
            )
            : Plan.ToolCall(
                callID: callID, itemID: "fc_fake\(sequenceNumber)", name: "apply_patch",
                argumentFragments: Self.fragments((["input": .string(patch)] as JSON).serialized)
            )
    }

    /// A call to the shell tool the request offers that runs `command` (a `bash -lc` script), or nil
    /// when it offers none. `longRunning` asks the tool to let the command run as long as it can
    /// before answering: `exec_command` waits its longest (`yield_time_ms` 30000, Codex's cap; the
    /// command goes on running after that), `shell_command` and `shell` get `timeout_ms` 120000
    /// (their default kills the command after 10 s).
    func shellCall(_ command: String, longRunning: Bool = false, sequenceNumber: Int) -> Plan.ToolCall? {
        let name: String
        var arguments: [(String, JSON)]
        if tools["exec_command"] != nil {
            (name, arguments) = ("exec_command", [("cmd", .string(command))])
            if longRunning { arguments.append(("yield_time_ms", 30_000)) }
        } else if tools["shell_command"] != nil {
            (name, arguments) = ("shell_command", [("command", .string(command))])
            if longRunning { arguments.append(("timeout_ms", 120_000)) }
        } else if tools["shell"] != nil {
            (name, arguments) = ("shell", [("command", ["bash", "-lc", .string(command)])])
            if longRunning { arguments.append(("timeout_ms", 120_000)) }
        } else {
            return nil
        }
        return Plan.ToolCall(
            callID: "call_fake_shell\(sequenceNumber)", itemID: "fc_fake\(sequenceNumber)", name: name,
            argumentFragments: Self.fragments(JSON.object(arguments).serialized)
        )
    }

    /// A call to the function tool `name` with `arguments` (a JSON object's text), or nil when the
    /// request offers no function tool of that name.
    func functionCall(_ name: String, arguments: String, sequenceNumber: Int) -> Plan.ToolCall? {
        guard tools[name] == false else { return nil }
        let inside = namespaced[name]
        return Plan.ToolCall(
            callID: "call_fake_tool\(sequenceNumber)", itemID: "fc_fake\(sequenceNumber)", name: inside?.name ?? name,
            argumentFragments: Self.fragments(arguments), namespace: inside?.namespace
        )
    }

    /// Whether a tool output is Codex's answer for a call the user declined (`exec command rejected
    /// by user`, `patch rejected by user`).
    static func saysDeclined(_ output: String) -> Bool {
        output.lowercased().contains("rejected by user")
    }

    /// A tool output as a final message quotes it: without trailing whitespace, and at most
    /// ``quoteLimit`` characters (then ending in `…`).
    static func quoted(_ output: String) -> String {
        var text = Substring(output)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text.count > quoteLimit ? text.prefix(quoteLimit) + "…" : String(text)
    }

    static let quoteLimit = 16_000

    /// `text` in three pieces of about the same length (fewer when it is shorter than three characters).
    static func fragments(_ text: String) -> [String] {
        let characters = Array(text)
        let size = max(1, (characters.count + 2) / 3)
        return stride(from: 0, to: characters.count, by: size).map { String(characters[$0..<min($0 + size, characters.count)]) }
    }
}
