extension AppServer {
    /// `error`: a turn hit an error. With `willRetry` Codex tries again; without, `turn/completed`
    /// follows with status failed.
    public struct ErrorNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var error: TurnError
        public var willRetry: Bool
    }

    /// `thread/started`.
    public struct ThreadStartedNotification: Hashable, Sendable, Codable {
        public var thread: Thread
    }

    /// `thread/status/changed`.
    public struct ThreadStatusChangedNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var status: ThreadStatus
    }

    /// `thread/tokenUsage/updated`.
    public struct ThreadTokenUsageUpdatedNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var tokenUsage: ThreadTokenUsage
    }

    /// `turn/started` and `turn/completed` (the schema's `TurnStartedNotification` and
    /// `TurnCompletedNotification`, which have the same members).
    public struct TurnNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turn: Turn
    }

    /// `turn/diff/updated`: the unified diff of everything the turn changed so far.
    public struct TurnDiffUpdatedNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var diff: String
    }

    /// `turn/plan/updated`: the turn's to-do list, whole each time.
    public struct TurnPlanUpdatedNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var explanation: String?
        public var plan: [TurnPlanStep]
    }

    /// One entry of a to-do list.
    public struct TurnPlanStep: Hashable, Sendable, Codable {
        public var step: String
        public var status: Status

        /// `pending`, `inProgress` or `completed`.
        public struct Status: AppServerOpenString {
            public static let pending: Self = "pending"
            public static let inProgress: Self = "inProgress"
            public static let completed: Self = "completed"

            public let rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }
        }
    }

    /// `item/started` and `item/completed` (the schema's `ItemStartedNotification` and
    /// `ItemCompletedNotification`): `startedAtMs` is set on the first, `completedAtMs` on the second.
    public struct ItemNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var item: ThreadItem
        public var startedAtMs: Int?
        public var completedAtMs: Int?
    }

    /// Streamed text of an item: `item/agentMessage/delta`, `item/plan/delta` and
    /// `item/commandExecution/outputDelta` (the schema's `AgentMessageDeltaNotification`,
    /// `PlanDeltaNotification` and `CommandExecutionOutputDeltaNotification`).
    public struct ItemDeltaNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var itemId: String
        public var delta: String
    }

    /// Streamed reasoning: `item/reasoning/summaryTextDelta` (`delta`, `summaryIndex`),
    /// `item/reasoning/summaryPartAdded` (`summaryIndex`) and `item/reasoning/textDelta` (`delta`,
    /// `contentIndex`).
    public struct ReasoningDeltaNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var turnId: String
        public var itemId: String
        public var delta: String?
        public var summaryIndex: Int?
        public var contentIndex: Int?
    }

    /// `serverRequest/resolved`: the server request `requestId` no longer waits for an answer.
    public struct ServerRequestResolvedNotification: Hashable, Sendable, Codable {
        public var threadId: String
        public var requestId: RequestID
    }
}
