import GatewayRuntime

extension AppServer {
    /// `thread/start`: a new thread. Every member left nil takes Codex's config (`config.toml` and
    /// `config`'s overrides).
    public struct ThreadStartParams: ClientRequest, Hashable, Codable {
        public static let method = "thread/start"
        public typealias Response = ThreadStartResponse

        /// The working directory (the conversation's workspace); absolute.
        public var cwd: String?
        public var approvalPolicy: AskForApproval?
        public var sandbox: SandboxMode?
        public var model: String?
        /// Overrides of config.toml keys for this thread (dotted keys or nested objects).
        public var config: [String: JSONValue]?
        /// Replaces Codex's own instructions.
        public var baseInstructions: String?
        /// Added to the instructions as a developer message.
        public var developerInstructions: String?
        /// The thread's sticky environments (where its commands run). Empty: none until a turn names
        /// one, so Codex takes no login-shell snapshot at `thread/start`; nil: the default one in `cwd`.
        public var environments: [TurnEnvironment]?

        public init(
            cwd: String? = nil, approvalPolicy: AskForApproval? = nil, sandbox: SandboxMode? = nil, model: String? = nil,
            config: [String: JSONValue]? = nil, baseInstructions: String? = nil, developerInstructions: String? = nil,
            environments: [TurnEnvironment]? = nil
        ) {
            self.cwd = cwd
            self.approvalPolicy = approvalPolicy
            self.sandbox = sandbox
            self.model = model
            self.config = config
            self.baseInstructions = baseInstructions
            self.developerInstructions = developerInstructions
            self.environments = environments
        }
    }

    /// An environment a thread's commands run in (the schema's `TurnEnvironmentParams`).
    public struct TurnEnvironment: Hashable, Sendable, Codable {
        /// The environment Codex always has: this machine, through the sandbox.
        public static let localID = "local"

        public var environmentId: String
        /// Where its commands run; its runtime workspace root too.
        public var cwd: String

        public init(environmentId: String = Self.localID, cwd: String) {
            self.environmentId = environmentId
            self.cwd = cwd
        }
    }

    /// The result of `thread/start` and `thread/resume` (the schema's `ThreadStartResponse` and
    /// `ThreadResumeResponse`): the thread and the settings it runs with.
    public struct ThreadStartResponse: Hashable, Sendable, Codable {
        public var thread: Thread
        public var model: String
        public var modelProvider: String
        public var cwd: String
        public var approvalPolicy: AskForApproval
        public var sandbox: SandboxPolicy
        public var reasoningEffort: String?
    }
}
