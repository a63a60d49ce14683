import AsyncHTTPClient
import FakeOpenAI
import Foundation
import ModelProvider
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The fake upstream itself, over real loopback HTTP with the same client the gateway uses.
@Suite("Fake OpenAI upstream", .timeLimit(.minutes(1)))
struct FakeOpenAITests {
    // MARK: Chat Completions

    @Test func chatEchoStreamsJSONChunksWithUsageThenDone() async throws {
        try await withFakeUpstream { server in
            let response = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello streaming world"}]}"#
            )
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            let events = SSE.parse(try await collectText(response))
            #expect(events.last?.data == "[DONE]")

            var content = ""
            var finishReasons: [String] = []
            var usage: [String: Any]?
            for event in events.dropLast() {
                #expect(event.event == nil, "chat streams have no event: lines")
                let chunk = try #require(JSONHelper.object(event.data), "not JSON: \(event.data)")
                #expect(chunk["object"] as? String == "chat.completion.chunk")
                #expect(chunk["model"] as? String == "fake-echo")
                let choices = try #require(chunk["choices"] as? [[String: Any]])
                for choice in choices {
                    content += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
                    if let reason = choice["finish_reason"] as? String { finishReasons.append(reason) }
                }
                if let chunkUsage = chunk["usage"] as? [String: Any] {
                    #expect(choices.isEmpty, "the usage chunk has no choices")
                    usage = chunkUsage
                }
            }
            #expect(content == "Echo: hello streaming world")
            #expect(finishReasons == ["stop"])
            let reported = try #require(usage, "include_usage asks for a usage chunk")
            #expect(reported["prompt_tokens"] as? Int == 20)
            #expect(reported["completion_tokens"] as? Int == 4)
            #expect(reported["total_tokens"] as? Int == 24)
            #expect((reported["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 0)
        }
    }

    @Test func slowStreamsSendTheAskedNumberOfTicksAtTheAskedPace() async throws {
        #expect(FakeModel(modelName: "fake-slow") == .slow(gap: .milliseconds(100), ticks: 10))
        #expect(FakeModel(modelName: "fake-slow-20-300") == .slow(gap: .milliseconds(20), ticks: 300))
        #expect(FakeModel(modelName: "fake-slow-20-0") == .slow(gap: .milliseconds(20), ticks: 1))
        try await withFakeUpstream { server in
            let start = ContinuousClock.now
            let response = try await postToFake(server, "/chat/completions", #"{"model":"fake-slow-15-5","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
            var content = ""
            for event in SSE.parse(try await collectText(response)).dropLast() {
                let chunk = try #require(JSONHelper.object(event.data))
                for choice in chunk["choices"] as? [[String: Any]] ?? [] {
                    content += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
                }
            }
            #expect(content == "tick0 tick1 tick2 tick3 tick4 ")
            // Four gaps of 15 ms at least between the five ticks.
            #expect(ContinuousClock.now - start >= .milliseconds(60))
        }
    }

    @Test func chatNonStreamingIsOneCompletionObject() async throws {
        try await withFakeUpstream { server in
            let response = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-count","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#
            )
            #expect(response.status == .ok)
            let completion = try #require(JSONHelper.object(try await collectText(response)))
            #expect(completion["object"] as? String == "chat.completion")
            let choice = try #require((completion["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "messages=3")
            #expect(choice["finish_reason"] as? String == "stop")
            #expect((completion["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 30)
        }
    }

    @Test func toolCallsStreamSplitByIndex() async throws {
        try await withFakeUpstream { server in
            let response = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-tools","stream":true,"messages":[{"role":"user","content":"weather?"}]}"#
            )
            var names: [Int: String] = [:]
            var arguments: [Int: String] = [:]
            var finishReason: String?
            for event in SSE.parse(try await collectText(response)) where event.data != "[DONE]" {
                let chunk = try #require(JSONHelper.object(event.data))
                let choice = try #require((chunk["choices"] as? [[String: Any]])?.first)
                if let reason = choice["finish_reason"] as? String { finishReason = reason }
                for call in ((choice["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]]) ?? [] {
                    let index = try #require(call["index"] as? Int)
                    let function = call["function"] as? [String: Any]
                    if let name = function?["name"] as? String { names[index] = name }
                    arguments[index, default: ""] += (function?["arguments"] as? String) ?? ""
                }
            }
            #expect(names == [0: "get_weather", 1: "get_time"])
            #expect(arguments == [0: #"{"city":"Paris"}"#, 1: "{}"])
            #expect(finishReason == "tool_calls")
        }
    }

    // MARK: Responses

    @Test func responsesStreamEventsInOrder() async throws {
        try await withFakeUpstream { server in
            let response = try await postToFake(
                server, "/responses",
                #"{"model":"fake-echo","stream":true,"instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"hi there"}]}]}"#
            )
            #expect(response.status == .ok)
            let events = SSE.parse(try await collectText(response))
            #expect(
                events.map { $0.event ?? "" } == [
                    "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                    "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
                    "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
                ]
            )
            var deltas = ""
            for (index, event) in events.enumerated() {
                let payload = try #require(JSONHelper.object(event.data), "not JSON: \(event.data)")
                #expect(payload["type"] as? String == event.event, "data.type matches the event: line")
                #expect(payload["sequence_number"] as? Int == index)
                if event.event == "response.output_text.delta" { deltas += payload["delta"] as? String ?? "" }
            }
            #expect(deltas == "Echo: hi there")
            let lastEvent = try #require(events.last)
            let completed = try #require(JSONHelper.object(lastEvent.data)?["response"] as? [String: Any])
            #expect(completed["status"] as? String == "completed")
            let usage = try #require(completed["usage"] as? [String: Any])
            #expect(usage["input_tokens"] as? Int == 20, "one input item plus instructions")
            #expect((usage["input_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 0)
            #expect(usage["output_tokens"] as? Int == 3)
        }
    }

    // MARK: fake-codex: a Codex agent turn

    @Test func aPromptTagChoosesTheScenarioOnlyWhenTheModelIsNotAFakeName() {
        #expect(FakeModel.scenarioName(modelName: "gpt-5.4", prompt: "Add the file. #fake-codex.") == "fake-codex")
        #expect(FakeModel.scenarioName(modelName: "gpt-5.4", prompt: "again #fake-429@run1, please") == "fake-429@run1")
        #expect(FakeModel.scenarioName(modelName: "fake-echo", prompt: "#fake-codex") == "fake-echo")
        #expect(FakeModel.scenarioName(modelName: "gpt-5.4", prompt: "no tag here") == "gpt-5.4")
        #expect(FakeModel(modelName: "fake-codex") == .codex)
    }

    @Test func codexTurnOverResponsesCallsFreeformApplyPatchThenExecCommandThenAnswers() async throws {
        try await withFakeUpstream { server in
            // Turn 1: Codex's request, with a real model slug and the tag in the prompt.
            var input = [CodexWire.userMessage("Add hello.txt and show it. #fake-codex")]
            let first = try await CodexWire.responsesTurn(server, input: input)
            #expect(
                first.events == [
                    "response.created", "response.in_progress", "response.output_item.added",
                    "response.custom_tool_call_input.delta", "response.custom_tool_call_input.delta", "response.custom_tool_call_input.delta",
                    "response.custom_tool_call_input.done", "response.output_item.done", "response.completed",
                ]
            )
            let patchCall = try #require(first.output.first)
            #expect(patchCall["type"] as? String == "custom_tool_call")
            #expect(patchCall["name"] as? String == "apply_patch")
            #expect(patchCall["input"] as? String == "*** Begin Patch\n*** Add File: hello.txt\n+hello from fake-openai\n*** End Patch\n")
            #expect(first.streamedInput == patchCall["input"] as? String, "the deltas add up to the input")
            let patchID = try #require(patchCall["call_id"] as? String)

            // Turn 2: after the patch's output, a shell command through the exec_command function tool.
            input += [patchCall, ["type": "custom_tool_call_output", "call_id": patchID, "output": "Success. Updated the following files:\nA hello.txt\n"]]
            let second = try await CodexWire.responsesTurn(server, input: input)
            let shellCall = try #require(second.output.first)
            #expect(shellCall["type"] as? String == "function_call")
            #expect(shellCall["name"] as? String == "exec_command")
            #expect(JSONHelper.object(shellCall["arguments"] as? String ?? "")?["cmd"] as? String == "cat hello.txt")
            #expect(second.events.contains("response.function_call_arguments.done"))
            let shellID = try #require(shellCall["call_id"] as? String)
            #expect(shellID != patchID)

            // Turn 3: after the command's output, the final message quotes the file.
            input += [shellCall, ["type": "function_call_output", "call_id": shellID, "output": "Process exited with code 0\nOutput:\nhello from fake-openai\n"]]
            let third = try await CodexWire.responsesTurn(server, input: input)
            #expect(third.output.first?["type"] as? String == "message")
            #expect(third.text == #"Done: hello.txt says "hello from fake-openai"."#)
        }
    }

    @Test func codexTurnOverChatCallsApplyPatchAsAFunctionWithAnInputArgumentStreamedByIndex() async throws {
        try await withFakeUpstream { server in
            var messages: [[String: Any]] = [["role": "system", "content": "You are Codex."], ["role": "user", "content": "Add hello.txt. #fake-codex"]]
            let first = try await CodexWire.chatTurn(server, messages: messages)
            #expect(first.finishReason == "tool_calls")
            #expect(first.calls.count == 1)
            let patchCall = try #require(first.calls.first)
            #expect(patchCall.name == "apply_patch")
            #expect(patchCall.fragments >= 3, "the arguments come in several fragments")
            #expect(JSONHelper.object(patchCall.arguments)?["input"] as? String == "*** Begin Patch\n*** Add File: hello.txt\n+hello from fake-openai\n*** End Patch\n")

            messages += [patchCall.assistantMessage, ["role": "tool", "tool_call_id": patchCall.id, "content": "Success."]]
            let second = try await CodexWire.chatTurn(server, messages: messages)
            let shellCall = try #require(second.calls.first)
            #expect(shellCall.name == "exec_command")
            #expect(JSONHelper.object(shellCall.arguments)?["cmd"] as? String == "cat hello.txt")

            messages += [shellCall.assistantMessage, ["role": "tool", "tool_call_id": shellCall.id, "content": "hello from fake-openai\n"]]
            let third = try await CodexWire.chatTurn(server, messages: messages)
            #expect(third.finishReason == "stop")
            #expect(third.text == #"Done: hello.txt says "hello from fake-openai"."#)
        }
    }

    @Test func codexTurnUsesTheShellToolOnOfferAndSaysWhenATurnLacksItsTool() async throws {
        try await withFakeUpstream { server in
            let afterPatch: [[String: Any]] = [
                CodexWire.userMessage("#fake-codex"),
                ["type": "function_call", "call_id": "call_1", "name": "apply_patch", "arguments": "{}"],
                ["type": "function_call_output", "call_id": "call_1", "output": "ok"],
            ]
            let shell = try await CodexWire.responsesTurn(server, input: afterPatch, tools: [CodexWire.functionTool("shell")])
            #expect(shell.output.first?["name"] as? String == "shell")
            let arguments = try #require(JSONHelper.object(shell.output.first?["arguments"] as? String ?? ""))
            #expect(arguments["command"] as? [String] == ["bash", "-lc", "cat hello.txt"])

            let noPatchTool = try await CodexWire.responsesTurn(server, input: [CodexWire.userMessage("#fake-codex")], tools: [CodexWire.functionTool("exec_command")])
            #expect(noPatchTool.text == "fake-codex: the request offers no apply_patch tool")

            let missingFile = try await CodexWire.responsesTurn(
                server,
                input: afterPatch + [
                    ["type": "function_call", "call_id": "call_2", "name": "exec_command", "arguments": "{}"],
                    ["type": "function_call_output", "call_id": "call_2", "output": "cat: hello.txt: No such file or directory"],
                ]
            )
            #expect(missingFile.text.hasPrefix("fake-codex: the last tool output does not show hello.txt's text"))
        }
    }

    @Test func codexTurnRefusesUnpairedToolOutputsAndCallsAndNonFunctionChatToolsAsOpenAIDoes() async throws {
        try await withFakeUpstream { server in
            let strayOutput = try await postToFake(
                server, "/responses",
                #"{"model":"fake-codex","stream":true,"input":[{"role":"user","content":"go"},{"type":"custom_tool_call_output","call_id":"call_nobody","output":"ok"}]}"#
            )
            #expect(strayOutput.status == .badRequest)
            let error = try #require(JSONHelper.object(try await collectText(strayOutput))?["error"] as? [String: Any])
            #expect(error["message"] as? String == "No tool call found for custom tool call output with call_id call_nobody.")
            #expect(error["param"] as? String == "input")

            let renamed = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-codex","messages":[{"role":"user","content":"go"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"apply_patch","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_b","content":"ok"}]}"#
            )
            #expect(renamed.status == .badRequest)
            let renamedError = try #require(JSONHelper.object(try await collectText(renamed))?["error"] as? [String: Any])
            #expect(renamedError["param"] as? String == "messages.[2].role")

            let unanswered = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-codex","messages":[{"role":"user","content":"go"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"apply_patch","arguments":"{}"}}]},{"role":"user","content":"and?"}]}"#
            )
            #expect(unanswered.status == .badRequest)
            #expect(try await collectText(unanswered).contains("The following tool_call_ids did not have response messages: call_a"))

            let hostedTool = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-codex","messages":[{"role":"user","content":"go"}],"tools":[{"type":"function","function":{"name":"exec_command"}},{"type":"web_search"}]}"#
            )
            #expect(hostedTool.status == .badRequest)
            let hostedToolError = try #require(JSONHelper.object(try await collectText(hostedTool))?["error"] as? [String: Any])
            #expect(hostedToolError["message"] as? String == "Invalid value: 'web_search'. Supported values are: 'function'.")
            #expect(hostedToolError["param"] as? String == "tools[1].type")

            // Other scenarios take tool messages as they come.
            let echo = try await postToFake(server, "/chat/completions", #"{"model":"fake-echo","messages":[{"role":"tool","tool_call_id":"x","content":"ok"}]}"#)
            #expect(echo.status == .ok)
        }
    }

    @Test func codexTurnWithoutStreamingAnswersTheCustomToolCallInTheResponseObject() async throws {
        try await withFakeUpstream { server in
            let body: [String: Any] = [
                "model": "gpt-5.4", "stream": false, "input": [CodexWire.userMessage("#fake-codex")], "tools": CodexWire.codexTools,
            ]
            let response = try await postToFake(server, "/responses", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
            let object = try #require(JSONHelper.object(try await collectText(response)))
            let item = try #require((object["output"] as? [[String: Any]])?.first)
            #expect(item["type"] as? String == "custom_tool_call")
            #expect((item["input"] as? String)?.hasPrefix("*** Begin Patch\n*** Add File: hello.txt\n") == true)
            #expect(object["model"] as? String == "gpt-5.4")
        }
    }

    // MARK: Failures

    @Test func rateLimitedTwiceThenSucceeds() async throws {
        try await withFakeUpstream { server in
            let body = #"{"model":"fake-429","messages":[{"role":"user","content":"again"}]}"#
            for _ in 0..<2 {
                let response = try await postToFake(server, "/chat/completions", body)
                #expect(response.status == .tooManyRequests)
                #expect(response.headers.first(name: "retry-after") == "1")
                let error = try #require(JSONHelper.object(try await collectText(response))?["error"] as? [String: Any])
                #expect(error["code"] as? String == "rate_limit_exceeded")
                #expect(error["message"] is String)
            }
            let response = try await postToFake(server, "/chat/completions", body)
            #expect(response.status == .ok)
            #expect(try await collectText(response).contains("Echo: again"))
            #expect(server.recorder.count(path: "/v1/chat/completions") == 3)
        }
    }

    @Test func missingKeyAndMalformedJSONGetOpenAIErrors() async throws {
        try await withFakeUpstream { server in
            let unauthenticated = try await postToFake(server, "/chat/completions", #"{"model":"fake-echo","messages":[]}"#, authorization: nil)
            #expect(unauthenticated.status == .unauthorized)
            let error = try #require(JSONHelper.object(try await collectText(unauthenticated))?["error"] as? [String: Any])
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error.keys.sorted() == ["code", "message", "param", "type"])

            let malformed = try await postToFake(server, "/responses", #"{"model": "fake-echo", "input": "#)
            #expect(malformed.status == .badRequest)
            #expect(try await collectText(malformed).contains(#""type":"invalid_request_error""#))
        }
    }

    @Test func stallSendsNothingAfterTheSecondDeltaAndNoticesTheClientLeaving() async throws {
        try await withFakeUpstream { server in
            let response = try await postToFake(
                server, "/chat/completions",
                #"{"model":"fake-stall","stream":true,"messages":[{"role":"user","content":"one two three four"}]}"#
            )
            let collector = BodyCollector()
            let reader = Task { await collector.consume(response.body) }
            // The two content deltas are "Echo: " and "one ".
            let sawSecondDelta = await collector.waitUntil(timeout: .seconds(2)) { $0.text.contains(#""content":"one ""#) }
            #expect(sawSecondDelta)
            let bytesThen = collector.snapshot.byteCount
            try await Task.sleep(for: .milliseconds(400))
            let now = collector.snapshot
            #expect(now.byteCount == bytesThen, "nothing may arrive while stalled")
            #expect(!now.finished && !now.failed, "the connection stays open")

            reader.cancel()  // the client gives up: AsyncHTTPClient closes the connection
            await reader.value
            let noticed = await server.recorder.waitUntil(timeout: .seconds(2)) { $0.last?.clientDisconnected == true }
            #expect(noticed, "the fake records that the client went away")
        }
    }

    /// Read as raw bytes to the end: an HTTP client may drop the body parts it still holds when
    /// the connection breaks (AsyncHTTPClient did, now and then, on a busy machine).
    @Test func cutClosesTheConnectionWithoutDone() async throws {
        try await withFakeUpstream { server in
            let body = #"{"model":"fake-cut","stream":true,"messages":[{"role":"user","content":"one two three four"}]}"#
            let raw = try await rawExchange(
                port: server.port,
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            #expect(raw.hasPrefix("HTTP/1.1 200"), "\(raw.prefix(200))")
            #expect(raw.lowercased().contains("transfer-encoding: chunked"))
            #expect(raw.contains(#""content":"one ""#))
            #expect(!raw.contains("[DONE]"))
            #expect(!raw.contains(#""finish_reason":"stop""#))
            // The connection closed before the chunked body's last, empty chunk: an error for any client.
            #expect(!raw.hasSuffix("\r\n0\r\n\r\n"))
        }
    }

    // MARK: Recorder and lifecycle

    @Test func recorderKeepsMethodPathQueryHeadersAndBody() async throws {
        try await withFakeUpstream { server in
            let body = #"{"model":"fake-count","messages":[{"role":"user","content":"x"},{"role":"user","content":"y"}]}"#
            let response = try await postToFake(
                server, "/chat/completions?api-version=2024-10-21", body,
                authorization: "Bearer sk-recorded", extraHeaders: [("X-Test-Marker", "abc")]
            )
            #expect(try await collectText(response).contains("messages=2"))

            let recorded = try #require(server.recorder.requests.last)
            #expect(recorded.method == "POST")
            #expect(recorded.path == "/v1/chat/completions")
            #expect(recorded.query == ["api-version": "2024-10-21"])
            #expect(recorded.headers["authorization"] == "Bearer sk-recorded")
            #expect(recorded.headers["x-test-marker"] == "abc")
            #expect(recorded.body == Data(body.utf8))
            #expect(recorded.json?["model"] as? String == "fake-count")
            #expect(recorded.responseStatus == 200)
            #expect(!recorded.clientDisconnected)
            #expect(server.recorder.count(path: "/v1/chat/completions") == 1)

            server.recorder.reset()
            #expect(server.recorder.requests.isEmpty)
        }
    }

    @Test func shutdownEndsAStalledStreamPromptlyAndTwiceIsFine() async throws {
        let server = try await FakeOpenAIServer.start()
        let response = try await postToFake(server, "/responses", #"{"model":"fake-stall","stream":true,"input":"a b c"}"#)
        let collector = BodyCollector()
        let reader = Task { await collector.consume(response.body) }
        #expect(await collector.waitUntil(timeout: .seconds(2)) { $0.text.contains("response.output_text.delta") })
        let start = ContinuousClock.now
        await server.shutdown()
        await server.shutdown()
        #expect(ContinuousClock.now - start < .seconds(10), "not the 60 s a stalled stream otherwise lasts")
        await reader.value
        #expect(collector.snapshot.failed, "the stalled stream was closed, not completed")
    }
}

// MARK: - Helpers

/// Sends `request` on a new connection and returns everything received until the server closes
/// it (at most 10 s).
private func rawExchange(port: Int, _ request: String) async throws -> String {
    let channel = try await rawConnection(port: port)
    return try await withThrowingTaskGroup(of: String?.self) { group in
        group.addTask {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: request))
                var received = ""
                do {
                    for try await chunk in inbound { received += String(buffer: chunk) }
                } catch {
                    // Reset rather than closed: what came before still counts.
                }
                return received
            }
        }
        group.addTask {
            try await Task.sleep(for: .seconds(10))
            return nil
        }
        defer { group.cancelAll() }
        guard let received = try await group.next() ?? nil else {
            channel.channel.close(promise: nil)
            throw RawExchangeTimedOut()
        }
        return received
    }
}

private struct RawExchangeTimedOut: Error {}

/// Reads a streamed body in the background so a test can watch what has arrived and when.
private final class BodyCollector: Sendable {
    struct Snapshot: Sendable {
        var text = ""
        var byteCount = 0
        var finished = false
        var failed = false
    }

    private let state = Mutex(Snapshot())

    var snapshot: Snapshot { state.withLock { $0 } }

    func consume(_ body: HTTPClientResponse.Body) async {
        do {
            for try await buffer in body {
                state.withLock {
                    $0.text += String(buffer: buffer)
                    $0.byteCount += buffer.readableBytes
                }
            }
            state.withLock { $0.finished = true }
        } catch {
            state.withLock { $0.failed = true }
        }
    }

    func waitUntil(timeout: Duration, _ predicate: (Snapshot) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(snapshot) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return predicate(snapshot)
    }
}
