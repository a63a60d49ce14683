extension AppServer {
    /// `thread/read`: a thread, with its turns and their items when `includeTurns` (Codex refuses
    /// that before the thread's first turn).
    public struct ThreadReadParams: ClientRequest, Hashable, Codable {
        public static let method = "thread/read"
        public typealias Response = ThreadReadResponse

        public var threadId: String
        public var includeTurns: Bool

        public init(threadId: String, includeTurns: Bool) {
            self.threadId = threadId
            self.includeTurns = includeTurns
        }
    }

    /// `thread/read`'s result.
    public struct ThreadReadResponse: Hashable, Sendable, Codable {
        public var thread: Thread
    }
}
