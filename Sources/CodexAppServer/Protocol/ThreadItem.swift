import GatewayRuntime

extension AppServer {
    /// One thing that happened in a turn (`{"type": …, "id": …}`), as `item/started`,
    /// `item/completed` and a turn's `items` carry it. The kinds the gateway maps have a case; any
    /// other kind, and a known kind whose members do not match the model, is ``unknown(type:_:)``
    /// with the item as sent.
    public enum ThreadItem: Hashable, Sendable, Codable {
        case userMessage(UserMessage)
        case agentMessage(AgentMessage)
        case reasoning(Reasoning)
        case commandExecution(CommandExecution)
        case fileChange(FileChange)
        case plan(Plan)
        case webSearch(WebSearch)
        case mcpToolCall(McpToolCall)
        case contextCompaction(ContextCompaction)
        case unknown(type: String, JSONValue)

        /// The item's id (`""` for an unknown item without one).
        public var id: String {
            switch self {
            case .userMessage(let item): item.id
            case .agentMessage(let item): item.id
            case .reasoning(let item): item.id
            case .commandExecution(let item): item.id
            case .fileChange(let item): item.id
            case .plan(let item): item.id
            case .webSearch(let item): item.id
            case .mcpToolCall(let item): item.id
            case .contextCompaction(let item): item.id
            case .unknown(_, let value): value["id"]?.stringValue ?? ""
            }
        }

        /// The schema's `type` of the item.
        public var type: String {
            switch self {
            case .userMessage: "userMessage"
            case .agentMessage: "agentMessage"
            case .reasoning: "reasoning"
            case .commandExecution: "commandExecution"
            case .fileChange: "fileChange"
            case .plan: "plan"
            case .webSearch: "webSearch"
            case .mcpToolCall: "mcpToolCall"
            case .contextCompaction: "contextCompaction"
            case .unknown(let type, _): type
            }
        }

        private enum TypeKey: String, CodingKey { case type }

        public init(from decoder: any Decoder) throws {
            let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
            do {
                switch type {
                case "userMessage": self = .userMessage(try UserMessage(from: decoder))
                case "agentMessage": self = .agentMessage(try AgentMessage(from: decoder))
                case "reasoning": self = .reasoning(try Reasoning(from: decoder))
                case "commandExecution": self = .commandExecution(try CommandExecution(from: decoder))
                case "fileChange": self = .fileChange(try FileChange(from: decoder))
                case "plan": self = .plan(try Plan(from: decoder))
                case "webSearch": self = .webSearch(try WebSearch(from: decoder))
                case "mcpToolCall": self = .mcpToolCall(try McpToolCall(from: decoder))
                case "contextCompaction": self = .contextCompaction(try ContextCompaction(from: decoder))
                default: self = .unknown(type: type, try JSONValue(from: decoder))
                }
            } catch is DecodingError {
                self = .unknown(type: type, try JSONValue(from: decoder))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .userMessage(let item): try item.encode(to: encoder)
            case .agentMessage(let item): try item.encode(to: encoder)
            case .reasoning(let item): try item.encode(to: encoder)
            case .commandExecution(let item): try item.encode(to: encoder)
            case .fileChange(let item): try item.encode(to: encoder)
            case .plan(let item): try item.encode(to: encoder)
            case .webSearch(let item): try item.encode(to: encoder)
            case .mcpToolCall(let item): try item.encode(to: encoder)
            case .contextCompaction(let item): try item.encode(to: encoder)
            case .unknown(_, let value):
                try value.encode(to: encoder)
                return
            }
            var container = encoder.container(keyedBy: TypeKey.self)
            try container.encode(type, forKey: .type)
        }
    }
}
