extension AppServer {
    /// `thread/list`: stored threads, newest first, a page at a time. Without `modelProviders` Codex
    /// lists only the current provider's threads; `[]` lists all.
    public struct ThreadListParams: ClientRequest, Hashable, Codable {
        public static let method = "thread/list"
        public typealias Response = ThreadListResponse

        public var modelProviders: [String]?
        public var cursor: String?
        public var limit: Int?

        public init(modelProviders: [String]? = [], cursor: String? = nil, limit: Int? = nil) {
            self.modelProviders = modelProviders
            self.cursor = cursor
            self.limit = limit
        }
    }

    /// `thread/list`'s result: a page, and the cursor of the next one when there is one.
    public struct ThreadListResponse: Hashable, Sendable, Codable {
        public var data: [Thread]
        public var nextCursor: String?
    }
}
