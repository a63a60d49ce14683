import Foundation
import Testing

@testable import FakeOpenAI

/// The scripted agent turns' step selection (`fake-agent`, the hello function), on requests shaped
/// as Codex 0.147 sends them: directly over Responses, and through the gateway's Responses→Chat
/// bridge over chat.
@Suite("Fake OpenAI agent scripts")
struct FakeOpenAIAgentScriptTests {
    static let apis: [Exchange.API] = [.responses, .chat]

    // MARK: fake-agent

    @Test func directivesNameTheirCommandAndTheCommandTextRunsToTheEndOfItsLine() {
        #expect(AgentTurn.directive(in: "Wait a minute. #fake-agent:sleep") == .success(.sleep))
        #expect(AgentTurn.directive(in: "Print it: #fake-agent:env.") == .success(.env))
        #expect(AgentTurn.directive(in: "#fake-agent:write-outside:/tmp/x/outside.txt please") == .success(.writeOutside(path: "/tmp/x/outside.txt")))
        #expect(AgentTurn.directive(in: "Go. #fake-agent:command: touch approved.txt && ls\nthanks") == .success(.command("touch approved.txt && ls")))

        #expect(AgentTurn.Directive.sleep.command == "sleep 60")
        #expect(AgentTurn.Directive.env.command == "env")
        #expect(AgentTurn.Directive.writeOutside(path: "/tmp/x/outside.txt").command == "echo outside > /tmp/x/outside.txt")
        #expect(AgentTurn.Directive.writeOutside(path: "/tmp/it's").command == #"echo outside > '/tmp/it'\''s'"#)
    }

    @Test func aMissingUnknownOrIncompleteDirectiveIsAFinalMessageSayingSo() {
        func message(_ prompt: String) -> String? {
            text(AgentTurn(request: Self.request(.responses, prompt: prompt)).output(sequenceNumber: 1))
        }
        #expect(message("no directive")?.hasPrefix("fake-agent: the last user message has no directive; expected #fake-agent:sleep") == true)
        #expect(message("#fake-agent:dance")?.hasPrefix("fake-agent: unknown directive #fake-agent:dance; expected") == true)
        #expect(message("#fake-agent:write-outside:relative.txt")?.hasPrefix("fake-agent: #fake-agent:write-outside needs an absolute path") == true)
        #expect(message("#fake-agent:command:   ")?.hasPrefix("fake-agent: #fake-agent:command needs shell text") == true)
        let noShell = AgentTurn(request: Self.request(.responses, prompt: "#fake-agent:env", tools: []))
        #expect(text(noShell.output(sequenceNumber: 1)) == "fake-agent: the request offers no exec_command, shell_command or shell tool")
    }

    @Test(arguments: apis)
    func eachDirectiveFirstCallsExecCommandWithItsCommandAndSleepAsksToRunLong(api: Exchange.API) throws {
        let expected: [(String, [String: Any])] = [
            ("#fake-agent:sleep", ["cmd": "sleep 60", "yield_time_ms": 30000]),
            ("#fake-agent:write-outside:/srv/outside.txt", ["cmd": "echo outside > /srv/outside.txt"]),
            ("#fake-agent:env", ["cmd": "env"]),
            ("#fake-agent:command:touch approved.txt", ["cmd": "touch approved.txt"]),
        ]
        for (prompt, arguments) in expected {
            let output = AgentTurn(request: Self.request(api, prompt: "Do it. \(prompt)")).output(sequenceNumber: 7)
            let call = try #require(calls(output).first, "\(prompt)")
            #expect(calls(output).count == 1)
            #expect(call.name == "exec_command")
            #expect(call.kind == .function)
            #expect(call.argumentFragments.count == 3, "the arguments stream in several fragments")
            #expect(NSDictionary(dictionary: try object(call.arguments)) == NSDictionary(dictionary: arguments), "\(prompt)")
        }
    }

    @Test(arguments: apis)
    func withoutExecCommandTheShellCommandOrShellToolRunsItAndSleepGetsALongTimeout(api: Exchange.API) throws {
        let shellCommand = AgentTurn(request: Self.request(api, prompt: "#fake-agent:sleep", tools: Self.tools(api, ["shell_command"])))
        let first = try #require(calls(shellCommand.output(sequenceNumber: 1)).first)
        #expect(first.name == "shell_command")
        #expect(NSDictionary(dictionary: try object(first.arguments)) == ["command": "sleep 60", "timeout_ms": 120000])

        let shell = AgentTurn(request: Self.request(api, prompt: "#fake-agent:env", tools: Self.tools(api, ["shell"])))
        let second = try #require(calls(shell.output(sequenceNumber: 1)).first)
        #expect(second.name == "shell")
        #expect(NSDictionary(dictionary: try object(second.arguments)) == ["command": ["bash", "-lc", "env"]])
    }

    @Test(arguments: apis)
    func afterTheToolOutputTheFinalMessageQuotesIt(api: Exchange.API) {
        let refusal = "Chunk ID: 8bd3a5\nWall time: 0.0000 seconds\nProcess exited with code 1\nOutput:\n/bin/bash: line 1: /srv/outside.txt: Read-only file system\n"
        let turn = AgentTurn(request: Self.request(api, prompt: "#fake-agent:write-outside:/srv/outside.txt", outputs: [refusal]))
        #expect(
            text(turn.output(sequenceNumber: 2))
                == "fake-agent: `echo outside > /srv/outside.txt` returned:\nChunk ID: 8bd3a5\nWall time: 0.0000 seconds\nProcess exited with code 1\nOutput:\n/bin/bash: line 1: /srv/outside.txt: Read-only file system"
        )
        let sleep = AgentTurn(request: Self.request(api, prompt: "#fake-agent:sleep", outputs: ["Process running with session ID 1"]))
        #expect(text(sleep.output(sequenceNumber: 2)) == "fake-agent: `sleep 60` returned:\nProcess running with session ID 1")
        let long = AgentTurn(request: Self.request(api, prompt: "#fake-agent:env", outputs: [String(repeating: "A=1\n", count: 5000)]))
        let quoted = text(long.output(sequenceNumber: 2)) ?? ""
        #expect(quoted.hasPrefix("fake-agent: `env` returned:\nA=1\nA=1\n"))
        #expect(quoted.hasSuffix("…"), "a long output is cut at 16,000 characters")
    }

    @Test(arguments: apis)
    func aCommandTheUserDeclinedEndsWithAMessageSayingSo(api: Exchange.API) {
        // What Codex 0.147 sends the model when the approval of an exec_command call is declined.
        let declined = #"exec_command failed for `/bin/bash -lc 'touch approved.txt'`: CreateProcess { message: "Rejected(\"rejected by user\")" }"#
        let turn = AgentTurn(request: Self.request(api, prompt: "#fake-agent:command:touch approved.txt", outputs: [declined]))
        #expect(text(turn.output(sequenceNumber: 2)) == "fake-agent: `touch approved.txt` was declined:\n\(declined)")
    }

    @Test(arguments: apis)
    func theToolDirectiveCallsTheNamedFunctionToolWithItsArgumentsThenQuotesItsOutput(api: Exchange.API) throws {
        let prompt = ##"Ask the gateway. #fake-agent:tool:mcp__gateway__codex {"prompt":"#fake-agent:command:touch x"}"##
        #expect(AgentTurn.directive(in: prompt) == .success(.tool(name: "mcp__gateway__codex", arguments: ##"{"prompt":"#fake-agent:command:touch x"}"##)))
        let offered = Self.tools(api, ["exec_command", "mcp__gateway__codex"])
        let call = try #require(calls(AgentTurn(request: Self.request(api, prompt: prompt, tools: offered)).output(sequenceNumber: 3)).first)
        #expect(call.name == "mcp__gateway__codex")
        #expect(call.kind == .function)
        #expect(try object(call.arguments)["prompt"] as? String == "#fake-agent:command:touch x")

        let answered = AgentTurn(request: Self.request(api, prompt: prompt, outputs: ["done\n"], tools: offered))
        #expect(text(answered.output(sequenceNumber: 4)) == "fake-agent: `mcp__gateway__codex` returned:\ndone")

        if api == .responses {
            // Codex 0.147 offers an MCP server's tools (to a model without tool_search) as a namespace.
            let namespace: [String: Any] = [
                "type": "namespace", "name": "mcp__gateway", "description": "gateway",
                "tools": [["type": "function", "name": "codex", "parameters": ["type": "object"]]],
            ]
            let request = Self.request(api, prompt: prompt, tools: Self.tools(api, ["exec_command"]) + [namespace])
            let namespaced = try #require(calls(AgentTurn(request: request).output(sequenceNumber: 3)).first)
            #expect(namespaced.name == "codex")
            #expect(namespaced.namespace == "mcp__gateway")
            #expect(OpenAIFormat.functionCallItem(namespaced, status: "completed", arguments: "{}")["namespace"]?.stringValue == "mcp__gateway")
        }

        let missing = AgentTurn(request: Self.request(api, prompt: prompt, tools: Self.tools(api, ["exec_command"])))
        #expect(text(missing.output(sequenceNumber: 3)) == "fake-agent: the request offers no function tool mcp__gateway__codex; it offers exec_command")
        #expect(text(AgentTurn(request: Self.request(api, prompt: "#fake-agent:tool:x [1]")).output(sequenceNumber: 1))?.hasPrefix("fake-agent: #fake-agent:tool needs a tool name and a JSON object") == true)
    }

    // MARK: The original README's "Write a hello function"

    @Test(arguments: apis)
    func helloFunctionWithApplyPatchOnOfferAddsHelloPyThenSaysSo(api: Exchange.API) throws {
        let request = Self.json(api, prompt: "Write a Hello Function", outputs: [])
        let script = try #require(FakeModel(modelName: "gpt-5.4").agentScript(api: api, request: request))
        let call = try #require(calls(script.output(sequenceNumber: 3)).first)
        #expect(call.name == "apply_patch")
        #expect(call.argumentFragments.count == 3)
        let patch = "*** Begin Patch\n*** Add File: hello.py\n+def hello():\n+    print(\"Hello, world!\")\n*** End Patch\n"
        switch api {
        case .responses:
            #expect(call.kind == .custom, "Codex offers apply_patch as a freeform tool")
            #expect(call.arguments == patch)
        case .chat:
            #expect(call.kind == .function, "the bridge offers it as a function with one string input")
            #expect(try object(call.arguments)["input"] as? String == patch)
        }

        func final(_ output: String) throws -> String? {
            let request = Self.json(api, prompt: "Write a hello function", outputs: [output], callName: "apply_patch")
            return text(try #require(FakeModel.echo.agentScript(api: api, request: request)).output(sequenceNumber: 4))
        }
        #expect(try final("Success. Updated the following files:\nA hello.py\n") == #"Created hello.py with a hello() function that prints "Hello, world!"."#)
        #expect(try final("patch rejected by user") == "fake-agent: the patch adding hello.py was declined:\npatch rejected by user")
        #expect(try final("hello.py: Permission denied\n") == "fake-agent: the patch adding hello.py failed:\nhello.py: Permission denied")
    }

    @Test(arguments: apis)
    func helloFunctionWithoutApplyPatchStaysAnEcho(api: Exchange.API) {
        let plainClient = Self.json(api, prompt: "Write a hello function", outputs: [], tools: [])
        #expect(FakeModel.echo.agentScript(api: api, request: plainClient) == nil)
        let otherPrompt = Self.json(api, prompt: "Write a goodbye function", outputs: [])
        #expect(FakeModel.echo.agentScript(api: api, request: otherPrompt) == nil)
        let otherScenario = Self.json(api, prompt: "Write a hello function", outputs: [])
        #expect(FakeModel(modelName: "fake-slow").agentScript(api: api, request: otherScenario) == nil)
    }

    @Test func fakeAgentIsAScenarioNameAndItsTagChoosesIt() {
        #expect(FakeModel(modelName: "fake-agent") == .agent)
        #expect(FakeModel.allNames.contains("fake-agent"))
        #expect(FakeModel.scenarioName(modelName: "gpt-5.4", prompt: "Go. #fake-agent:command:touch approved.txt") == "fake-agent")
        #expect(FakeModel.scenarioName(modelName: "gpt-5.4", prompt: "#fake-agent:write-outside:/srv/x") == "fake-agent")
    }

    // MARK: Requests as Codex sends them

    /// Codex's tools over `api`: as it offers them (Responses) or as the bridge passes them on (chat).
    static func tools(_ api: Exchange.API, _ shellTools: [String]? = nil) -> [[String: Any]] {
        guard let shellTools else { return api == .responses ? CodexWire.codexTools : CodexWire.bridgeTools }
        return shellTools.map { api == .responses ? CodexWire.functionTool($0) : CodexWire.chatFunctionTool($0) }
    }

    static func request(_ api: Exchange.API, prompt: String, outputs: [String] = [], tools: [[String: Any]]? = nil) -> AgentRequest {
        AgentRequest(api: api, request: json(api, prompt: prompt, outputs: outputs, tools: tools))
    }

    /// A request of a Codex turn: its context and the user's prompt, then one tool call (of
    /// `callName`) and its output per entry of `outputs`.
    static func json(_ api: Exchange.API, prompt: String, outputs: [String], tools: [[String: Any]]? = nil, callName: String = "exec_command") -> JSON {
        let context = "<environment_context>\n  <cwd>/work/ws</cwd>\n</environment_context>"
        var body: [String: Any] = ["model": "gpt-5.4", "stream": true, "tools": tools ?? Self.tools(api)]
        switch api {
        case .responses:
            var input: [[String: Any]] = [
                ["type": "message", "role": "developer", "content": [["type": "input_text", "text": "<permissions instructions>"]]],
                CodexWire.userMessage(context), CodexWire.userMessage(prompt),
            ]
            for (index, output) in outputs.enumerated() {
                input += [
                    ["type": "function_call", "call_id": "call_\(index)", "name": callName, "arguments": "{}"],
                    ["type": "function_call_output", "call_id": "call_\(index)", "output": output],
                ]
            }
            body["input"] = input
        case .chat:
            var messages: [[String: Any]] = [
                ["role": "system", "content": "You are Codex."], ["role": "user", "content": context], ["role": "user", "content": prompt],
            ]
            for (index, output) in outputs.enumerated() {
                let call: [String: Any] = ["id": "call_\(index)", "type": "function", "function": ["name": callName, "arguments": "{}"]]
                messages += [["role": "assistant", "content": NSNull(), "tool_calls": [call]], ["role": "tool", "tool_call_id": "call_\(index)", "content": output]]
            }
            body["messages"] = messages
        }
        return JSON.parse((try? JSONSerialization.data(withJSONObject: body)) ?? Data()) ?? nil
    }
}

private func calls(_ output: Plan.Output) -> [Plan.ToolCall] {
    if case .toolCalls(let calls) = output { return calls }
    return []
}

private func text(_ output: Plan.Output) -> String? {
    if case .text(let pieces) = output { return pieces.joined() }
    return nil
}

private func object(_ text: String) throws -> [String: Any] {
    try #require(JSONHelper.object(text), "not a JSON object: \(text)")
}
