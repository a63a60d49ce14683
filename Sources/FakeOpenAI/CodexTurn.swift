/// `fake-codex`: one Codex agent turn that edits a file and runs a command, played across the
/// requests of that turn as a real model would answer Codex.
///
/// Steps, by the number of tool outputs after the last user message (see ``AgentRequest``, which
/// also says how each call is shaped for the tools offered):
/// 0. a call to `apply_patch` that adds ``fileName`` holding ``fileText``;
/// 1. a call to the shell tool, reading the file back (`cat hello.txt`);
/// 2. a final message: ``successMessage`` when the last tool output shows ``fileText``, else one that
///    starts with `fake-codex:` and says what was missing.
/// A request that does not offer the tool a step needs gets a final message starting `fake-codex:`
/// that names the tool.
struct CodexTurn: AgentScript {
    static let fileName = "hello.txt"
    static let fileText = "hello from fake-openai"
    static let patch = "*** Begin Patch\n*** Add File: \(fileName)\n+\(fileText)\n*** End Patch\n"
    static let command = "cat \(fileName)"
    static let successMessage = "Done: \(fileName) says \"\(fileText)\"."

    let request: AgentRequest

    func output(sequenceNumber: Int) -> Plan.Output {
        switch request.toolOutputs.count {
        case 0:
            guard let call = request.applyPatchCall(Self.patch, sequenceNumber: sequenceNumber) else {
                return .text(Plan.words("fake-codex: the request offers no apply_patch tool"))
            }
            return .toolCalls([call])
        case 1:
            guard let call = request.shellCall(Self.command, sequenceNumber: sequenceNumber) else {
                return .text(Plan.words("fake-codex: the request offers no exec_command, shell_command or shell tool"))
            }
            return .toolCalls([call])
        default:
            let last = request.toolOutputs.last ?? ""
            if last.contains(Self.fileText) { return .text(Plan.words(Self.successMessage)) }
            return .text(Plan.words("fake-codex: the last tool output does not show \(Self.fileName)'s text: \(last.prefix(300))"))
        }
    }
}
