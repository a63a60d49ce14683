import CodexAppServer
import Foundation
import GatewayRuntime
import Testing

/// Lines the real codex app-server 0.147.0 wrote during a turn (Fixtures/: fake-openai played the
/// model; approval policy untrusted, so apply_patch asked for a file-change approval, answered
/// accept in one file and decline in the other; paths renamed to /srv/…).
@Suite("Decoding the lines of a real app-server turn")
struct AppServerTurnLinesTests {
    @Test(arguments: ["turn-accept-file-change.jsonl", "turn-decline-file-change.jsonl"])
    func everyLineDecodesAndOnlyTheUnmodelledMethodsAreUnknown(fixture: String) throws {
        let messages = try fixtureLines(fixture).map(decodeMessage)
        var unknown: Set<String> = []
        for case .notification(.unknown(let method, _)) in messages {
            #expect(!AppServer.ServerNotification.knownMethods.contains(method), "the known method \(method) fell back to unknown")
            unknown.insert(method)
        }
        #expect(unknown == ["remoteControl/status/changed", "account/rateLimits/updated"])
        for case .request(_, .unknown(let method, _)) in messages {
            Issue.record("server request \(method) did not decode as an approval")
        }
    }

    @Test func anAcceptedFileChangeTurnReadsAsItsItemsApprovalAndCompletion() throws {
        let messages = try fixtureLines("turn-accept-file-change.jsonl").map(decodeMessage)

        guard case .response(let id, let result) = messages[2] else { Issue.record("expected thread/start's response, got \(messages[2])"); return }
        #expect(id == 2)
        let started = try AppServer.ThreadStartParams.decodeResponse(result)
        #expect(started.thread.cwd == "/srv/workspaces/demo")
        #expect(started.thread.status == .idle)
        #expect(started.approvalPolicy == .untrusted)
        #expect(started.sandbox == .readOnly(networkAccess: false))
        #expect(started.model == "gpt-5.4")

        guard case .response(_, let turnResult) = messages[4] else { Issue.record("expected turn/start's response"); return }
        let turn = try AppServer.TurnStartParams.decodeResponse(turnResult).turn
        #expect(turn.status == .inProgress)
        #expect(turn.items.isEmpty)

        let approvals = messages.compactMap { message -> (AppServer.RequestID, AppServer.FileChangeRequestApprovalParams)? in
            guard case .request(let id, .fileChangeApproval(let params)) = message else { return nil }
            return (id, params)
        }
        let approval = try #require(approvals.first)
        #expect(approvals.count == 1)
        #expect(approval.0 == 0)
        #expect(approval.1.itemId == "call_fake_patch2")
        #expect(approval.1.turnId == turn.id)
        #expect(messages.contains {
            if case .notification(.threadStatusChanged(let change)) = $0 { change.status == .active(activeFlags: [.waitingOnApproval]) } else { false }
        })
        #expect(messages.contains { if case .notification(.serverRequestResolved(let resolved)) = $0 { resolved.requestId == 0 } else { false } })

        let completed = messages.compactMap { message -> AppServer.ThreadItem? in
            guard case .notification(.itemCompleted(let params)) = message else { return nil }
            return params.item
        }
        #expect(completed.map(\.type) == ["userMessage", "fileChange", "commandExecution", "agentMessage"])
        guard case .userMessage(let user) = completed[0] else { return }
        #expect(user.content == [.text("write hello #fake-codex")])
        guard case .fileChange(let change) = completed[1] else { return }
        #expect(change.status == .completed)
        #expect(change.changes.map(\.path) == ["/srv/workspaces/demo/hello.txt"])
        #expect(change.changes.first?.kind == .add)
        #expect(change.changes.first?.diff == "hello from fake-openai\n")
        guard case .commandExecution(let command) = completed[2] else { return }
        #expect(command.command == "/bin/bash -lc 'cat hello.txt'")
        #expect(command.cwd == "/srv/workspaces/demo")
        #expect(command.status == .completed)
        #expect(command.exitCode == 0)
        #expect(command.aggregatedOutput?.hasSuffix("hello from fake-openai\n") == true)
        #expect(command.durationMs != nil)
        guard case .agentMessage(let answer) = completed[3] else { return }
        #expect(answer.text == "Done: hello.txt says \"hello from fake-openai\".")

        let deltas = messages.compactMap { message -> String? in
            guard case .notification(.agentMessageDelta(let delta)) = message, delta.itemId == answer.id else { return nil }
            return delta.delta
        }
        #expect(deltas.joined() == answer.text)
        let output = messages.compactMap { message -> String? in
            guard case .notification(.commandExecutionOutputDelta(let delta)) = message, delta.itemId == command.id else { return nil }
            return delta.delta
        }
        #expect(output.joined() == command.aggregatedOutput)

        let usage = messages.compactMap { message -> AppServer.ThreadTokenUsage? in
            guard case .notification(.threadTokenUsageUpdated(let params)) = message else { return nil }
            return params.tokenUsage
        }
        #expect(usage.count == 3)
        #expect(usage.last?.total.totalTokens == 192)
        #expect(messages.contains { if case .notification(.turnDiffUpdated(let diff)) = $0 { diff.diff.contains("+hello from fake-openai") } else { false } })

        guard case .notification(.turnCompleted(let end)) = messages.last(where: { if case .notification(.turnCompleted) = $0 { true } else { false } })
        else { Issue.record("no turn/completed"); return }
        #expect(end.turn.id == turn.id)
        #expect(end.turn.status == .completed)
        #expect(end.turn.error == nil)
        #expect(end.turn.durationMs != nil)
        // turn/completed carries a summary (the final message), not the turn's items: collect those
        // from item/completed.
        #expect(end.turn.items.map(\.type) == ["agentMessage"])

        guard case .response(let readID, let readResult) = messages.last else { Issue.record("expected thread/read's response last"); return }
        #expect(readID == 4)
        let read = try AppServer.ThreadReadParams.decodeResponse(readResult).thread
        #expect(read.turns.map(\.id) == [turn.id])
        // The stored history has no command executions, and its own ids for messages.
        #expect(read.turns.first?.items.map(\.type) == ["userMessage", "fileChange", "agentMessage"])
        #expect(read.turns.first?.items.map(\.id) == ["item-1", change.id, "item-2"])
    }

    @Test func aDeclinedFileChangeIsDeclinedAndTheTurnGoesOn() throws {
        let messages = try fixtureLines("turn-decline-file-change.jsonl").map(decodeMessage)
        let completed = messages.compactMap { message -> AppServer.ThreadItem? in
            guard case .notification(.itemCompleted(let params)) = message else { return nil }
            return params.item
        }
        guard case .fileChange(let change) = completed[1], case .commandExecution(let command) = completed[2] else {
            Issue.record("expected a file change then a command, got \(completed.map(\.type))")
            return
        }
        #expect(change.status == .declined)
        #expect(command.status == .failed)
        #expect(command.exitCode == 1)
        #expect(messages.contains { if case .notification(.turnCompleted(let end)) = $0 { end.turn.status == .completed } else { false } })
    }
}
