import GatewayAPI
import GatewayRuntime

/// The results the gateway's MCP server answers with, in the spec's shapes. Stateless-version
/// results also carry `resultType` (and lists their cache hints); session versions omit them.
enum MCPResults {
    struct Implementation: Encodable, Sendable {
        var name = "codex-gateway"
        var title = "Codex Gateway"
        var version = GatewayVersion.current
    }

    struct Capabilities: Encodable, Sendable {
        struct Tools: Encodable, Sendable { var listChanged = false }
        var tools = Tools()
    }

    static let instructions =
        "Codex, the coding agent, in a workspace on this gateway. Call `codex` with a prompt to start a conversation; "
        + "it returns the agent's final message and its threadId. Call `codex-reply` with that threadId to continue it."

    struct Initialize: Encodable, Sendable {
        var protocolVersion: String
        var capabilities = Capabilities()
        var serverInfo = Implementation()
        var instructions = MCPResults.instructions
    }

    struct Discover: Encodable, Sendable {
        struct Meta: Encodable, Sendable {
            var serverInfo = Implementation()
            enum CodingKeys: String, CodingKey { case serverInfo = "io.modelcontextprotocol/serverInfo" }
        }

        var supportedVersions = MCPProtocol.allVersions
        var capabilities = Capabilities()
        var instructions = MCPResults.instructions
        var resultType = "complete"
        var cacheScope = "private"
        var ttlMs = 0
        var meta = Meta()

        enum CodingKeys: String, CodingKey {
            case supportedVersions, capabilities, instructions, resultType, cacheScope, ttlMs
            case meta = "_meta"
        }
    }

    struct ToolList: Encodable, Sendable {
        var tools: [JSONValue]
        var resultType: String?
        var cacheScope: String?
        var ttlMs: Int?
    }

    struct Empty: Encodable, Sendable {
        var resultType: String?
    }

    struct TextContent: Encodable, Sendable {
        var type = "text"
        var text: String
    }

    /// What `codex` and `codex-reply` return as `structuredContent` (their output schema).
    struct CodexOutput: Encodable, Sendable {
        var threadId: String
        var content: String
        var items: [ThreadItem]
        var usage: Usage?
    }

    struct CallTool: Encodable, Sendable {
        var content: [TextContent]
        var structuredContent: CodexOutput?
        var isError: Bool
        var resultType: String?
    }

    struct Progress: Encodable, Sendable {
        var progressToken: JSONValue
        var progress: Double
        var message: String?
    }

    /// `elicitation/create` (form mode) asking a person to answer an approval.
    struct Elicit: Encodable, Sendable {
        var mode: String?
        var message: String
        var requestedSchema: JSONValue
    }
}
