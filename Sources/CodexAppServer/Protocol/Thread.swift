extension AppServer {
    /// A Codex thread (a conversation), as `thread/start`, `thread/resume`, `thread/read`,
    /// `thread/list` and `thread/started` return it. `turns` is empty unless `thread/read` asked for
    /// them (`includeTurns`).
    public struct Thread: Hashable, Sendable, Codable {
        public var id: String
        public var sessionId: String
        /// The first user message, shortened; empty before the first turn.
        public var preview: String
        public var ephemeral: Bool
        public var modelProvider: String
        /// Unix seconds.
        public var createdAt: Int
        /// Unix seconds.
        public var updatedAt: Int
        public var status: ThreadStatus
        /// The rollout file that holds the thread's history.
        public var path: String?
        public var cwd: String
        public var cliVersion: String
        public var name: String?
        public var turns: [Turn]
    }
}
