import Foundation
import GatewayRuntime

/// The tools the MCP server offers, named as Codex's own former `mcp-server` named them, and the
/// reading of their arguments into a turn.
enum MCPTools {
    /// A `tools/call` read and checked: a new conversation (`codex`) or the next turn of one (`codex-reply`).
    struct Call: Sendable {
        var conversationID: String?
        var prompt: String
        var model: String?
        var options: TurnOptions
    }

    static let codex = "codex"
    static let codexReply = "codex-reply"

    /// Both tools' `tools/list` entries: input and output schemas, and every annotation ChatGPT
    /// asks for set explicitly (a turn runs commands and edits files: destructive, not read-only;
    /// its commands may reach the network when the sandbox allows it: open world).
    static let definitions: [JSONValue] = {
        let output = """
            {"type":"object","required":["threadId","content","items"],"properties":{
              "threadId":{"type":"string","description":"The conversation; pass it to codex-reply to continue."},
              "content":{"type":"string","description":"The agent's final message."},
              "items":{"type":"array","description":"The turn's completed items (commands, file changes, messages), as codex exec --json shows them.","items":{"type":"object"}},
              "usage":{"type":"object","description":"This turn's tokens.","properties":{"input_tokens":{"type":"integer"},"cached_input_tokens":{"type":"integer"},"output_tokens":{"type":"integer"}}}}}
            """
        let text = """
            [{"name":"codex","title":"Codex: start a conversation",
              "description":"Run a Codex agent turn on a new conversation: the agent reads and edits files and runs commands in its workspace on the gateway, then answers. Returns its final message and the threadId to continue with codex-reply.",
              "inputSchema":{"type":"object","required":["prompt"],"additionalProperties":false,"properties":{
                "prompt":{"type":"string","minLength":1,"description":"What to ask the agent."},
                "workspace":{"type":"string","description":"A workspace name of yours on the gateway (relative; default: a new one named after the conversation)."},
                "sandbox":{"type":"string","enum":["read-only","workspace-write","danger-full-access"],"description":"How far the agent's commands may reach (at most the gateway's GATEWAY_MAX_SANDBOX)."},
                "approval-policy":{"type":"string","enum":["never","on-request","on-failure","untrusted"],"description":"When the agent asks before it acts; asked through elicitation when the client supports it."},
                "model":{"type":"string","minLength":1,"description":"The model for this conversation (default: the gateway's)."}}},
              "outputSchema":\(output),
              "annotations":{"title":"Codex","readOnlyHint":false,"destructiveHint":true,"idempotentHint":false,"openWorldHint":true}},
             {"name":"codex-reply","title":"Codex: continue a conversation",
              "description":"Run the next Codex agent turn of a conversation that codex started, in the same workspace. Returns the agent's final message.",
              "inputSchema":{"type":"object","required":["prompt"],"additionalProperties":false,"properties":{
                "threadId":{"type":"string","description":"The threadId a codex call returned."},
                "conversationId":{"type":"string","description":"Alias of threadId, as Codex's former MCP server named it."},
                "prompt":{"type":"string","minLength":1,"description":"What to ask the agent next."}}},
              "outputSchema":\(output),
              "annotations":{"title":"Codex reply","readOnlyHint":false,"destructiveHint":true,"idempotentHint":false,"openWorldHint":true}}]
            """
        guard case .array(let tools) = try! JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return [] }
        return tools
    }()

    /// Reads `tools/call` params; throws `-32602` for an unknown tool or a bad argument.
    static func call(_ params: JSONValue?) throws(MCPError) -> Call {
        guard case .string(let name)? = params?["name"] else { throw .invalidParams("tools/call needs the tool's name.") }
        var arguments: [String: JSONValue] = [:]
        switch params?["arguments"] {
        case nil, .null?: break
        case .object(let object)?: arguments = object
        default: throw .invalidParams("arguments must be an object.")
        }
        let allowed: Set<String>
        switch name {
        case codex: allowed = ["prompt", "workspace", "sandbox", "approval-policy", "model"]
        case codexReply: allowed = ["threadId", "conversationId", "prompt"]
        default: throw .invalidParams("Unknown tool '\(name)'; this server offers 'codex' and 'codex-reply'.")
        }
        if let unknown = arguments.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalidParams("\(name) takes no argument '\(unknown)'; it takes \(allowed.sorted().joined(separator: ", ")).")
        }
        func string(_ key: String) throws(MCPError) -> String? {
            switch arguments[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw .invalidParams("\(key) must be a string.")
            }
        }
        guard let prompt = try string("prompt"), !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .invalidParams("\(name) needs a non-empty prompt.")
        }
        if name == codexReply {
            let thread = try string("threadId")
            let alias = try string("conversationId")
            if let thread, let alias, thread.lowercased() != alias.lowercased() {
                throw .invalidParams("threadId and conversationId name different conversations; send one of them.")
            }
            guard let id = thread ?? alias, !id.isEmpty else { throw .invalidParams("codex-reply needs the threadId a codex call returned.") }
            return Call(conversationID: id, prompt: prompt, model: nil, options: TurnOptions())
        }
        let sandbox: SandboxMode?
        let approval: ApprovalPolicy?
        do {
            sandbox = try AgentPolicy.sandbox(try string("sandbox"))
            approval = try AgentPolicy.approvalPolicy(try string("approval-policy"))
        } catch let error as TurnPolicyError {
            throw .invalidParams(error.message.replacingOccurrences(of: "approval_policy", with: "approval-policy"))
        } catch let error as MCPError {
            throw error
        } catch {
            throw .invalidParams(String(describing: error))
        }
        let model = try string("model")
        if let model, model.isEmpty { throw .invalidParams("model must not be empty.") }
        return Call(conversationID: nil, prompt: prompt, model: model, options: TurnOptions(workspace: try string("workspace"), sandbox: sandbox, approvalPolicy: approval))
    }
}
