import GatewayRuntime

extension AppServer {
    /// `thread/resume`: loads a thread from its rollout (after a restart of the server) with the
    /// same overrides as `thread/start`. The approval policy is not restored: send it again. A thread
    /// cannot be resumed before its first turn.
    public struct ThreadResumeParams: ClientRequest, Hashable, Codable {
        public static let method = "thread/resume"
        public typealias Response = ThreadStartResponse

        public var threadId: String
        public var cwd: String?
        public var approvalPolicy: AskForApproval?
        public var sandbox: SandboxMode?
        public var model: String?
        public var config: [String: JSONValue]?
        public var baseInstructions: String?
        public var developerInstructions: String?

        public init(
            threadId: String, cwd: String? = nil, approvalPolicy: AskForApproval? = nil, sandbox: SandboxMode? = nil,
            model: String? = nil, config: [String: JSONValue]? = nil, baseInstructions: String? = nil,
            developerInstructions: String? = nil
        ) {
            self.threadId = threadId
            self.cwd = cwd
            self.approvalPolicy = approvalPolicy
            self.sandbox = sandbox
            self.model = model
            self.config = config
            self.baseInstructions = baseInstructions
            self.developerInstructions = developerInstructions
        }
    }
}
