import GatewayRuntime

extension AppServer {
    /// `turn/start`: a user message on a thread. The overrides apply to this turn and the ones after
    /// it. Codex accepts a second `turn/start` while a turn runs and never runs it: do not send one.
    public struct TurnStartParams: ClientRequest, Hashable, Codable {
        public static let method = "turn/start"
        public typealias Response = TurnStartResponse

        public var threadId: String
        public var input: [UserInput]
        public var cwd: String?
        public var approvalPolicy: AskForApproval?
        public var sandboxPolicy: SandboxPolicy?
        public var model: String?
        /// A JSON Schema the final agent message must follow.
        public var outputSchema: JSONValue?
        /// Where this turn's (and the next turns') commands run; nil: the thread's.
        public var environments: [TurnEnvironment]?

        public init(
            threadId: String, input: [UserInput], cwd: String? = nil, approvalPolicy: AskForApproval? = nil,
            sandboxPolicy: SandboxPolicy? = nil, model: String? = nil, outputSchema: JSONValue? = nil,
            environments: [TurnEnvironment]? = nil
        ) {
            self.threadId = threadId
            self.input = input
            self.cwd = cwd
            self.approvalPolicy = approvalPolicy
            self.sandboxPolicy = sandboxPolicy
            self.model = model
            self.outputSchema = outputSchema
            self.environments = environments
        }
    }

    /// `turn/start`'s result: the turn, in progress.
    public struct TurnStartResponse: Hashable, Sendable, Codable {
        public var turn: Turn
    }
}
