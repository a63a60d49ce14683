extension AppServer {
    /// Where a command execution, a file change or an MCP tool call is (the schema's
    /// `CommandExecutionStatus`, `PatchApplyStatus` and `McpToolCallStatus`; the last has no
    /// `declined`).
    public struct ItemStatus: AppServerOpenString {
        public static let inProgress: Self = "inProgress"
        public static let completed: Self = "completed"
        public static let failed: Self = "failed"
        /// The user (or the approval timeout) declined it.
        public static let declined: Self = "declined"

        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
    }
}
