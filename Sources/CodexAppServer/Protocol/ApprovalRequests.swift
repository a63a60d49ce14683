import GatewayRuntime

extension AppServer {
    /// `item/commandExecution/requestApproval`: the command of the `commandExecution` item `itemId`
    /// waits for a decision.
    public struct CommandExecutionRequestApprovalParams: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var itemId: String
        /// Unix milliseconds.
        public var startedAtMs: Int
        /// Set when one command asks more than once (e.g. for network access).
        public var approvalId: String?
        public var command: String?
        public var cwd: String?
        /// Why Codex asks (e.g. the sandbox refused the command).
        public var reason: String?
        /// The decisions Codex offers, when it says (`"accept"`, `{"acceptWithExecpolicyAmendment": …}` …).
        public var availableDecisions: [JSONValue]?
    }

    /// `item/fileChange/requestApproval`: the changes of the `fileChange` item `itemId` (already sent
    /// in its `item/started`) wait for a decision.
    public struct FileChangeRequestApprovalParams: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var itemId: String
        /// Unix milliseconds.
        public var startedAtMs: Int
        public var reason: String?
        /// A directory the agent asks to write in for the rest of the session.
        public var grantRoot: String?
    }

    /// The answer to both approval requests (the schema's `CommandExecutionRequestApprovalResponse`
    /// and `FileChangeRequestApprovalResponse`).
    public struct ApprovalResponse: Hashable, Sendable, Codable {
        public var decision: ApprovalDecision

        public init(decision: ApprovalDecision) {
            self.decision = decision
        }
    }

    /// What the user decided. Decline tells the model and the turn goes on; cancel also ends the turn.
    public enum ApprovalDecision: String, Hashable, Sendable, Codable, CaseIterable {
        case accept
        /// Accept, and do not ask again for the same thing in this session.
        case acceptForSession
        case decline
        case cancel
    }
}
