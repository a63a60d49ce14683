extension AppServer {
    /// `turn/interrupt`: ends the running turn `turnId` (`turn/completed` with status interrupted
    /// follows). The command it ran keeps running until `thread/backgroundTerminals/clean`.
    public struct TurnInterruptParams: ClientRequest, Hashable, Codable {
        public static let method = "turn/interrupt"
        public typealias Response = EmptyResponse

        public var threadId: String
        public var turnId: String

        public init(threadId: String, turnId: String) {
            self.threadId = threadId
            self.turnId = turnId
        }
    }
}
