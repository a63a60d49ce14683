import FakeOpenAI
import Foundation
import Testing

/// A Codex turn starts while the gateway records it (``TurnEventGate``): the turn's events are held
/// until the record is written, and a record that cannot be written stops the turn before anything
/// of it is told or done. The real Codex binary against fake-openai, with the gateway's own
/// conversation files made unwritable in the middle of the test.
@Suite("A Codex turn whose record cannot be written", .serialized)
struct CodexTurnRecordTests {
    /// The workspace file the turn's command would make, if the command ran.
    static func made(_ name: String, under home: String) -> [String] {
        let workspaces = home + "/workspaces"
        return ((try? FileManager.default.subpathsOfDirectory(atPath: workspaces)) ?? []).filter { $0.hasSuffix("/" + name) }
    }

    @Test func aNewConversationThatCannotBeRecordedFailsBeforeItsCommandRuns() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "responses")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await setup.gateway.withLiveServer { client in
                // The first of the day's directories (sessions/YYYY) is a file: the record cannot be made.
                let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
                let blocker = "\(setup.codexHome)/sessions/\(year)"
                #expect(FileManager.default.createFile(atPath: blocker, contents: Data("not a directory".utf8)))
                let (response, lines) = try await client.exec(##"{"prompt":"#fake-agent:command:touch unrecorded.txt"}"##)
                #expect(response.status == .ok)
                #expect(lines.compactMap { $0["type"] as? String } == ["thread.started", "turn.failed"], "\(lines)")
                #expect(lines.first?["thread_id"] as? String == "", "no id of a conversation that does not exist")
                let message = try #require((lines.last?["error"] as? [String: Any])?["message"] as? String, "\(lines)")
                #expect(message.hasPrefix("The conversation could not be saved"), "\(message)")
                // The turn was stopped before Codex's model call came back with the command.
                try await Task.sleep(for: .seconds(1))
                #expect(Self.made("unrecorded.txt", under: setup.codexHome).isEmpty)

                // The files writable again, the next conversation works.
                try FileManager.default.removeItem(atPath: blocker)
                let (_, next) = try await client.exec(##"{"prompt":"#fake-agent:command:touch recorded.txt"}"##)
                #expect(next.last?["type"] as? String == "turn.completed", "\(next.suffix(2))")
                #expect(Self.made("recorded.txt", under: setup.codexHome).count == 1)
            }
        }
    }

    @Test func aTurnWhoseMessageCannotBeRecordedFailsBeforeItsCommandRuns() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexEngineTests.setup(fake: fake, wireAPI: "responses")
            defer { try? FileManager.default.removeItem(atPath: setup.codexHome) }
            try await setup.gateway.withLiveServer { client in
                let (_, first) = try await client.exec(##"{"prompt":"#fake-agent:command:touch first.txt"}"##)
                #expect(first.last?["type"] as? String == "turn.completed", "\(first.suffix(2))")
                let conversation = try #require(first.first?["thread_id"] as? String)
                // Its rollout file becomes a directory: the next message cannot be appended.
                let sessions = setup.codexHome + "/sessions"
                let rollout = try #require(
                    FileManager.default.subpathsOfDirectory(atPath: sessions).first { $0.hasSuffix("-\(conversation).jsonl") })
                try FileManager.default.removeItem(atPath: sessions + "/" + rollout)
                try FileManager.default.createDirectory(atPath: sessions + "/" + rollout, withIntermediateDirectories: false)

                let (_, second) = try await client.exec(
                    ##"{"prompt":"#fake-agent:command:touch second.txt","conversation_id":"\##(conversation)"}"##)
                #expect(second.compactMap { $0["type"] as? String } == ["thread.started", "turn.failed"], "\(second)")
                #expect(second.first?["thread_id"] as? String == conversation)
                let message = try #require((second.last?["error"] as? [String: Any])?["message"] as? String, "\(second)")
                #expect(message.hasPrefix("The conversation could not be saved"), "\(message)")
                try await Task.sleep(for: .seconds(1))
                #expect(Self.made("second.txt", under: setup.codexHome).isEmpty)
                // Not left running: the conversation takes its next turn (which fails to record the same way).
                let (_, third) = try await client.exec(##"{"prompt":"#fake-agent:command:true","conversation_id":"\##(conversation)"}"##)
                #expect(third.last?["type"] as? String == "turn.failed", "\(third)")
                #expect(!(((third.last?["error"] as? [String: Any])?["message"] as? String)?.contains("busy") ?? true))
            }
        }
    }
}
