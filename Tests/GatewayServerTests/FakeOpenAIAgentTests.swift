import FakeOpenAI
import Foundation
import Testing

/// The scripted agent turns (`fake-agent`, the hello function) played over real loopback HTTP,
/// streamed, over both APIs, with requests shaped as Codex and the gateway's bridge send them.
@Suite("Fake OpenAI agent turns")
struct FakeOpenAIAgentTests {
    @Test func sleepCallsExecCommandForSixtySecondsThenAnswersTheOutputIfOneComes() async throws {
        try await withFakeUpstream { server in
            for api in Wire.allCases {
                let turn = try await api.playShellTurn(server, prompt: "Wait. #fake-agent:sleep", output: "Process running with session ID 3")
                #expect(turn.name == "exec_command")
                #expect(turn.arguments["cmd"] as? String == "sleep 60")
                #expect(turn.arguments["yield_time_ms"] as? Int == 30000)
                #expect(turn.finalText == "fake-agent: `sleep 60` returned:\nProcess running with session ID 3", "\(api)")
            }
        }
    }

    @Test func writeOutsideEchoesToThePathThenQuotesTheSandboxsRefusal() async throws {
        try await withFakeUpstream { server in
            let refusal = "Process exited with code 1\nOutput:\n/bin/bash: line 1: /srv/outside.txt: Read-only file system\n"
            for api in Wire.allCases {
                let turn = try await api.playShellTurn(server, prompt: "Try. #fake-agent:write-outside:/srv/outside.txt", output: refusal)
                #expect(turn.arguments["cmd"] as? String == "echo outside > /srv/outside.txt")
                #expect(
                    turn.finalText
                        == "fake-agent: `echo outside > /srv/outside.txt` returned:\nProcess exited with code 1\nOutput:\n/bin/bash: line 1: /srv/outside.txt: Read-only file system",
                    "\(api)"
                )
            }
        }
    }

    @Test func envRunsEnvThenQuotesItsOutput() async throws {
        try await withFakeUpstream { server in
            for api in Wire.allCases {
                let turn = try await api.playShellTurn(server, prompt: "#fake-agent:env", output: "Output:\nHOME=/root\nPATH=/usr/bin\n")
                #expect(turn.arguments["cmd"] as? String == "env")
                #expect(turn.finalText == "fake-agent: `env` returned:\nOutput:\nHOME=/root\nPATH=/usr/bin", "\(api)")
            }
        }
    }

    @Test func commandRunsTheRestOfTheLineThenQuotesTheOutputOrSaysItWasDeclined() async throws {
        try await withFakeUpstream { server in
            let declined = #"exec_command failed for `/bin/bash -lc 'touch approved.txt'`: CreateProcess { message: "Rejected(\"rejected by user\")" }"#
            for api in Wire.allCases {
                let prompt = "Approve this. #fake-agent:command:touch approved.txt\nThanks."
                let accepted = try await api.playShellTurn(server, prompt: prompt, output: "Process exited with code 0\nOutput:\n")
                #expect(accepted.arguments["cmd"] as? String == "touch approved.txt")
                #expect(accepted.finalText == "fake-agent: `touch approved.txt` returned:\nProcess exited with code 0\nOutput:", "\(api)")
                let refused = try await api.playShellTurn(server, prompt: prompt, output: declined)
                #expect(refused.finalText == "fake-agent: `touch approved.txt` was declined:\n\(declined)", "\(api)")
            }
        }
    }

    @Test func writeAHelloFunctionAddsHelloPyWithApplyPatchWhenOfferedAndEchoesOtherwise() async throws {
        try await withFakeUpstream { server in
            let patch = "*** Begin Patch\n*** Add File: hello.py\n+def hello():\n+    print(\"Hello, world!\")\n*** End Patch\n"
            let success = "Success. Updated the following files:\nA hello.py\n"
            let finalMessage = #"Created hello.py with a hello() function that prints "Hello, world!"."#

            var input = [CodexWire.userMessage("Write a hello function")]
            let first = try await CodexWire.responsesTurn(server, input: input)
            let patchCall = try #require(first.output.first)
            #expect(patchCall["type"] as? String == "custom_tool_call")
            #expect(patchCall["input"] as? String == patch)
            #expect(first.streamedInput == patch, "the input streams in fragments that add up to the patch")
            input += [patchCall, ["type": "custom_tool_call_output", "call_id": patchCall["call_id"] ?? "", "output": success]]
            #expect(try await CodexWire.responsesTurn(server, input: input).text == finalMessage)

            var messages: [[String: Any]] = [["role": "user", "content": "Write a hello function"]]
            let chatFirst = try await CodexWire.chatTurn(server, messages: messages)
            let chatCall = try #require(chatFirst.calls.first)
            #expect(chatCall.name == "apply_patch")
            #expect(chatCall.fragments >= 3)
            #expect(JSONHelper.object(chatCall.arguments)?["input"] as? String == patch)
            messages += [chatCall.assistantMessage, ["role": "tool", "tool_call_id": chatCall.id, "content": success]]
            #expect(try await CodexWire.chatTurn(server, messages: messages).text == finalMessage)

            // A plain chat client, as the original README's example: no tools, so the echo it always got.
            let plain = try await CodexWire.chatTurn(server, messages: [["role": "user", "content": "Write a hello function"]], tools: [])
            #expect(plain.text == "Echo: Write a hello function")
            #expect(plain.calls.isEmpty)
        }
    }

    @Test func agentTurnsRefuseToolOutputsThatAnswerNoCallAsFakeCodexDoes() async throws {
        try await withFakeUpstream { server in
            for prompt in ["#fake-agent:env", "Write a hello function"] {
                let input: [[String: Any]] = [
                    CodexWire.userMessage(prompt), ["type": "function_call_output", "call_id": "call_nobody", "output": "ok"],
                ]
                let body: [String: Any] = ["model": "gpt-5.4", "stream": true, "input": input, "tools": CodexWire.codexTools]
                let response = try await postToFake(server, "/responses", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
                #expect(response.status == .badRequest, "\(prompt)")
                #expect(try await collectText(response).contains("No tool call found for function call output with call_id call_nobody."))
            }
        }
    }
}

/// The two ways a Codex turn reaches the fake: Responses as Codex sends it, chat through the bridge.
private enum Wire: CaseIterable {
    case responses, chat

    struct ShellTurn {
        var name: String
        var arguments: [String: Any]
        var finalText: String
    }

    /// Plays a one-command turn: the first request's shell call, then the final message after
    /// `output` answers it.
    func playShellTurn(_ server: FakeOpenAIServer, prompt: String, output: String) async throws -> ShellTurn {
        switch self {
        case .responses:
            var input = [CodexWire.userMessage(prompt)]
            let first = try await CodexWire.responsesTurn(server, input: input)
            let call = try #require(first.output.first)
            #expect(call["type"] as? String == "function_call")
            #expect(first.events.filter { $0 == "response.function_call_arguments.delta" }.count >= 3)
            input += [call, ["type": "function_call_output", "call_id": call["call_id"] ?? "", "output": output]]
            let final = try await CodexWire.responsesTurn(server, input: input)
            return ShellTurn(
                name: call["name"] as? String ?? "", arguments: JSONHelper.object(call["arguments"] as? String ?? "") ?? [:], finalText: final.text
            )
        case .chat:
            var messages: [[String: Any]] = [["role": "user", "content": prompt]]
            let first = try await CodexWire.chatTurn(server, messages: messages)
            #expect(first.finishReason == "tool_calls")
            let call = try #require(first.calls.first)
            #expect(call.fragments >= 3)
            messages += [call.assistantMessage, ["role": "tool", "tool_call_id": call.id, "content": output]]
            let final = try await CodexWire.chatTurn(server, messages: messages)
            #expect(final.finishReason == "stop")
            return ShellTurn(name: call.name, arguments: JSONHelper.object(call.arguments) ?? [:], finalText: final.text)
        }
    }
}
