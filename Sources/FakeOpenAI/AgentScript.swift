/// A scripted Codex agent turn: answers each model request of the turn from what has happened
/// since the last user message (see ``AgentRequest``).
///
/// Requests that play one are checked as OpenAI checks them (``ToolCallPairing``; over chat also
/// ``ChatToolCheck``), so a client or bridge that garbles the conversation gets the `400` it would get
/// from the real API.
protocol AgentScript {
    /// What the model answers to this request: a tool call, or the turn's final message.
    func output(sequenceNumber: Int) -> Plan.Output
}

extension FakeModel {
    /// The agent turn this scenario plays for `request`, or nil when it plays none: `fake-codex`
    /// (``CodexTurn``), `fake-agent` (``AgentTurn``), and `fake-echo` or an unknown name asked for a
    /// hello function with an `apply_patch` tool on offer (``HelloFunctionTurn``).
    func agentScript(api: Exchange.API, request: JSON) -> (any AgentScript)? {
        switch self {
        case .codex: return CodexTurn(request: AgentRequest(api: api, request: request))
        case .agent: return AgentTurn(request: AgentRequest(api: api, request: request))
        case .echo:
            // Most echo requests offer no tools (every benchmark's): they skip reading the conversation twice.
            guard request["tools"]?.arrayValue?.isEmpty == false else { return nil }
            return HelloFunctionTurn(request: AgentRequest(api: api, request: request))
        default: return nil
        }
    }
}
