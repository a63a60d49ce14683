import GatewayRuntime

extension AppServer.ThreadItem {
    /// The user's message that started the turn.
    public struct UserMessage: Hashable, Sendable, Codable {
        public var id: String
        public var content: [AppServer.UserInput]
    }

    /// Text from the model: commentary while it works, or the final answer.
    public struct AgentMessage: Hashable, Sendable, Codable {
        public var id: String
        public var text: String
        /// `commentary` or `final_answer` when the model says which.
        public var phase: String?
    }

    /// The model's reasoning: summary parts and, when the provider sends it, the raw text.
    public struct Reasoning: Hashable, Sendable, Codable {
        public var id: String
        public var summary: [String]
        public var content: [String]

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            summary = try container.decodeIfPresent([String].self, forKey: .summary) ?? []
            content = try container.decodeIfPresent([String].self, forKey: .content) ?? []
        }
    }

    /// A shell command the agent runs (in the sandbox, after an approval when the policy asks).
    public struct CommandExecution: Hashable, Sendable, Codable {
        public var id: String
        public var command: String
        public var cwd: String
        public var status: AppServer.ItemStatus
        /// stdout and stderr as they arrived; nil until the command produced any.
        public var aggregatedOutput: String?
        public var exitCode: Int?
        public var durationMs: Int?
        public var processId: String?
    }

    /// Edits the agent applies (`apply_patch`), one ``FileUpdateChange`` per file.
    public struct FileChange: Hashable, Sendable, Codable {
        public var id: String
        public var changes: [FileUpdateChange]
        public var status: AppServer.ItemStatus
    }

    /// One file of a ``FileChange``: its path, what happens to it, and the unified diff.
    public struct FileUpdateChange: Hashable, Sendable, Codable {
        public var path: String
        public var kind: PatchChangeKind
        public var diff: String
    }

    /// What a ``FileUpdateChange`` does to its file (`{"type": "add"|"delete"|"update"}`).
    public enum PatchChangeKind: Hashable, Sendable, Codable {
        case add
        case delete
        /// An edit, and a rename when `movePath` is set.
        case update(movePath: String?)
        case other(type: String)

        private enum CodingKeys: String, CodingKey {
            case type
            case movePath = "move_path"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            switch try container.decode(String.self, forKey: .type) {
            case "add": self = .add
            case "delete": self = .delete
            case "update": self = .update(movePath: try container.decodeIfPresent(String.self, forKey: .movePath))
            case let type: self = .other(type: type)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .add: try container.encode("add", forKey: .type)
            case .delete: try container.encode("delete", forKey: .type)
            case .update(let movePath):
                try container.encode("update", forKey: .type)
                try container.encodeIfPresent(movePath, forKey: .movePath)
            case .other(let type): try container.encode(type, forKey: .type)
            }
        }
    }

    /// The plan the model wrote as text (plan mode). The to-do list of a turn comes in
    /// `turn/plan/updated` instead.
    public struct Plan: Hashable, Sendable, Codable {
        public var id: String
        public var text: String
    }

    /// A web search the model made.
    public struct WebSearch: Hashable, Sendable, Codable {
        public var id: String
        public var query: String
        public var action: JSONValue?
    }

    /// A call of a tool of an MCP server.
    public struct McpToolCall: Hashable, Sendable, Codable {
        public var id: String
        public var server: String
        public var tool: String
        public var status: AppServer.ItemStatus
        public var arguments: JSONValue?
        /// `{"content": […], "structuredContent": …}` when it succeeded.
        public var result: JSONValue?
        public var error: McpToolCallError?
        public var durationMs: Int?
    }

    /// Why an MCP tool call failed.
    public struct McpToolCallError: Hashable, Sendable, Codable {
        public var message: String
    }

    /// Codex compacted the thread's context.
    public struct ContextCompaction: Hashable, Sendable, Codable {
        public var id: String
    }
}
