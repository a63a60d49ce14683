extension AppServer {
    /// Where a turn is (`Turn.status`).
    public struct TurnStatus: AppServerOpenString {
        public static let inProgress: Self = "inProgress"
        public static let completed: Self = "completed"
        public static let interrupted: Self = "interrupted"
        public static let failed: Self = "failed"

        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
    }
}
