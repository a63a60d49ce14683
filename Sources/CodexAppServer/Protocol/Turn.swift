extension AppServer {
    /// One turn of a thread: `turn/start`'s result, `turn/started` and `turn/completed`. Its `items`
    /// are filled only where Codex has them (`turn/completed`, `thread/read` with turns); while a turn
    /// runs they arrive as `item/started` and `item/completed`.
    public struct Turn: Hashable, Sendable, Codable {
        public var id: String
        public var items: [ThreadItem]
        public var status: TurnStatus
        /// Why the turn failed (status ``TurnStatus/failed``).
        public var error: TurnError?
        /// Unix seconds.
        public var startedAt: Int?
        /// Unix seconds.
        public var completedAt: Int?
        public var durationMs: Int?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            items = try container.decodeIfPresent([ThreadItem].self, forKey: .items) ?? []
            status = try container.decode(TurnStatus.self, forKey: .status)
            error = try container.decodeIfPresent(TurnError.self, forKey: .error)
            startedAt = try container.decodeIfPresent(Int.self, forKey: .startedAt)
            completedAt = try container.decodeIfPresent(Int.self, forKey: .completedAt)
            durationMs = try container.decodeIfPresent(Int.self, forKey: .durationMs)
        }
    }
}
