/// The original README's example prompt, `Write a hello function`, played as a Codex agent turn:
/// when the last user message asks for a "hello function" (any case) and the request offers an
/// `apply_patch` tool, a `fake-echo` (or unknown) model writes the function instead of echoing.
/// A request without `apply_patch` (a plain chat client) still gets the echo.
///
/// Steps, by the number of tool outputs after the last user message (see ``AgentRequest``):
/// 0. a call to `apply_patch` that adds ``fileName`` holding ``fileText``;
/// 1. a final message: ``successMessage`` when the tool output says `Success`; else
///    ``declinedPrefix`` when it says the user rejected the patch, ``failedPrefix`` otherwise, each
///    followed by the tool output.
struct HelloFunctionTurn: AgentScript {
    static let fileName = "hello.py"
    static let fileText = "def hello():\n    print(\"Hello, world!\")\n"
    static let patch = "*** Begin Patch\n*** Add File: \(fileName)\n+def hello():\n+    print(\"Hello, world!\")\n*** End Patch\n"
    static let successMessage = "Created \(fileName) with a hello() function that prints \"Hello, world!\"."
    static let declinedPrefix = "fake-agent: the patch adding \(fileName) was declined:\n"
    static let failedPrefix = "fake-agent: the patch adding \(fileName) failed:\n"

    let request: AgentRequest

    /// The turn, or nil when the request does not ask for a hello function or offers no `apply_patch`.
    init?(request: AgentRequest) {
        guard request.offersApplyPatch, request.lastUserText.lowercased().contains("hello function") else { return nil }
        self.request = request
    }

    func output(sequenceNumber: Int) -> Plan.Output {
        guard let last = request.toolOutputs.last else {
            guard let call = request.applyPatchCall(Self.patch, sequenceNumber: sequenceNumber) else {
                return .text(Plan.words("fake-agent: the request offers no apply_patch tool"))
            }
            return .toolCalls([call])
        }
        if AgentRequest.saysDeclined(last) { return .text(Plan.words(Self.declinedPrefix + AgentRequest.quoted(last))) }
        if last.contains("Success") { return .text(Plan.words(Self.successMessage)) }
        return .text(Plan.words(Self.failedPrefix + AgentRequest.quoted(last)))
    }
}
