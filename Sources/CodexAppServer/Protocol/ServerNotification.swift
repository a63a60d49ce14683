import GatewayRuntime

extension AppServer {
    /// A notification from the server (`{"method": …, "params": …}`, no id). The methods the engine
    /// uses have a case; any other method, and a known one whose params do not match the model, is
    /// ``unknown(method:params:)`` (``knownMethods`` tells the two apart), never a decoding error.
    public enum ServerNotification: Hashable, Sendable, Codable {
        /// A turn hit an error; `willRetry` says whether Codex tries again (else the turn fails).
        case error(ErrorNotification)
        case threadStarted(ThreadStartedNotification)
        /// Idle, active, waiting on an approval …
        case threadStatusChanged(ThreadStatusChangedNotification)
        /// The thread's totals and the latest call's usage.
        case threadTokenUsageUpdated(ThreadTokenUsageUpdatedNotification)
        case turnStarted(TurnNotification)
        /// The turn ended: `turn.status` completed, interrupted or failed (with `turn.error`).
        case turnCompleted(TurnNotification)
        /// The turn's whole diff so far.
        case turnDiffUpdated(TurnDiffUpdatedNotification)
        /// The turn's to-do list.
        case turnPlanUpdated(TurnPlanUpdatedNotification)
        case itemStarted(ItemNotification)
        case itemCompleted(ItemNotification)
        case agentMessageDelta(ItemDeltaNotification)
        case planDelta(ItemDeltaNotification)
        case commandExecutionOutputDelta(ItemDeltaNotification)
        case reasoningSummaryTextDelta(ReasoningDeltaNotification)
        case reasoningSummaryPartAdded(ReasoningDeltaNotification)
        case reasoningTextDelta(ReasoningDeltaNotification)
        /// A server request was answered or withdrawn (an approval the turn no longer waits for).
        case serverRequestResolved(ServerRequestResolvedNotification)
        case unknown(method: String, params: JSONValue)

        /// The methods that have a case of their own.
        public static let knownMethods: Set<String> = [
            "error", "thread/started", "thread/status/changed", "thread/tokenUsage/updated", "turn/started",
            "turn/completed", "turn/diff/updated", "turn/plan/updated", "item/started", "item/completed",
            "item/agentMessage/delta", "item/plan/delta", "item/commandExecution/outputDelta",
            "item/reasoning/summaryTextDelta", "item/reasoning/summaryPartAdded", "item/reasoning/textDelta",
            "serverRequest/resolved",
        ]

        public var method: String {
            switch self {
            case .error: "error"
            case .threadStarted: "thread/started"
            case .threadStatusChanged: "thread/status/changed"
            case .threadTokenUsageUpdated: "thread/tokenUsage/updated"
            case .turnStarted: "turn/started"
            case .turnCompleted: "turn/completed"
            case .turnDiffUpdated: "turn/diff/updated"
            case .turnPlanUpdated: "turn/plan/updated"
            case .itemStarted: "item/started"
            case .itemCompleted: "item/completed"
            case .agentMessageDelta: "item/agentMessage/delta"
            case .planDelta: "item/plan/delta"
            case .commandExecutionOutputDelta: "item/commandExecution/outputDelta"
            case .reasoningSummaryTextDelta: "item/reasoning/summaryTextDelta"
            case .reasoningSummaryPartAdded: "item/reasoning/summaryPartAdded"
            case .reasoningTextDelta: "item/reasoning/textDelta"
            case .serverRequestResolved: "serverRequest/resolved"
            case .unknown(let method, _): method
            }
        }

        /// The thread the notification is about, when it names one.
        public var threadID: String? {
            switch self {
            case .error(let params): params.threadId
            case .threadStarted(let params): params.thread.id
            case .threadStatusChanged(let params): params.threadId
            case .threadTokenUsageUpdated(let params): params.threadId
            case .turnStarted(let params), .turnCompleted(let params): params.threadId
            case .turnDiffUpdated(let params): params.threadId
            case .turnPlanUpdated(let params): params.threadId
            case .itemStarted(let params), .itemCompleted(let params): params.threadId
            case .agentMessageDelta(let params), .planDelta(let params), .commandExecutionOutputDelta(let params): params.threadId
            case .reasoningSummaryTextDelta(let params), .reasoningSummaryPartAdded(let params), .reasoningTextDelta(let params):
                params.threadId
            case .serverRequestResolved(let params): params.threadId
            case .unknown(_, let params): params["threadId"]?.stringValue
            }
        }

        private enum CodingKeys: String, CodingKey { case method, params }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let method = try container.decode(String.self, forKey: .method)
            func params<T: Decodable>(_: T.Type = T.self) throws -> T { try container.decode(T.self, forKey: .params) }
            do {
                switch method {
                case "error": self = .error(try params())
                case "thread/started": self = .threadStarted(try params())
                case "thread/status/changed": self = .threadStatusChanged(try params())
                case "thread/tokenUsage/updated": self = .threadTokenUsageUpdated(try params())
                case "turn/started": self = .turnStarted(try params())
                case "turn/completed": self = .turnCompleted(try params())
                case "turn/diff/updated": self = .turnDiffUpdated(try params())
                case "turn/plan/updated": self = .turnPlanUpdated(try params())
                case "item/started": self = .itemStarted(try params())
                case "item/completed": self = .itemCompleted(try params())
                case "item/agentMessage/delta": self = .agentMessageDelta(try params())
                case "item/plan/delta": self = .planDelta(try params())
                case "item/commandExecution/outputDelta": self = .commandExecutionOutputDelta(try params())
                case "item/reasoning/summaryTextDelta": self = .reasoningSummaryTextDelta(try params())
                case "item/reasoning/summaryPartAdded": self = .reasoningSummaryPartAdded(try params())
                case "item/reasoning/textDelta": self = .reasoningTextDelta(try params())
                case "serverRequest/resolved": self = .serverRequestResolved(try params())
                default: self = .unknown(method: method, params: try container.decodeIfPresent(JSONValue.self, forKey: .params) ?? .null)
                }
            } catch is DecodingError {
                self = .unknown(method: method, params: try container.decodeIfPresent(JSONValue.self, forKey: .params) ?? .null)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(method, forKey: .method)
            switch self {
            case .error(let params): try container.encode(params, forKey: .params)
            case .threadStarted(let params): try container.encode(params, forKey: .params)
            case .threadStatusChanged(let params): try container.encode(params, forKey: .params)
            case .threadTokenUsageUpdated(let params): try container.encode(params, forKey: .params)
            case .turnStarted(let params), .turnCompleted(let params): try container.encode(params, forKey: .params)
            case .turnDiffUpdated(let params): try container.encode(params, forKey: .params)
            case .turnPlanUpdated(let params): try container.encode(params, forKey: .params)
            case .itemStarted(let params), .itemCompleted(let params): try container.encode(params, forKey: .params)
            case .agentMessageDelta(let params), .planDelta(let params), .commandExecutionOutputDelta(let params):
                try container.encode(params, forKey: .params)
            case .reasoningSummaryTextDelta(let params), .reasoningSummaryPartAdded(let params), .reasoningTextDelta(let params):
                try container.encode(params, forKey: .params)
            case .serverRequestResolved(let params): try container.encode(params, forKey: .params)
            case .unknown(_, let params): try container.encode(params, forKey: .params)
            }
        }
    }
}
