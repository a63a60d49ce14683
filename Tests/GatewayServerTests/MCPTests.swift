import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// `/mcp` (PROTOCOLS.md §11) through a live gateway on loopback: each protocol version's
/// handshake or envelope, the tools and their schemas, the wire's refusals, bounded sessions,
/// and — with the real Codex against fake-openai — tool calls that write files, continue,
/// report progress, ask approvals through elicitation and are cancelled.
@Suite("MCP: Codex as a remote MCP server", .serialized)
struct MCPTests {
    /// A gateway with the chat engine: the protocol tests run no turn.
    static func protocolGateway(_ extra: [String: String] = [:]) -> TestGateway {
        TestGateway(["GATEWAY_ENGINE": "chat"].merging(extra) { _, new in new })
    }

    // MARK: Handshakes

    @Test(arguments: [("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"), ("2024-11-05", "2025-11-25")])
    func initializeNegotiatesTheVersionAndOpensASession(requested: String, negotiated: String) async throws {
        try await withLiveGateway(Self.protocolGateway()) { port in
            var client = MCPTestClient(port: port)
            let reply = try await client.send(
                .POST, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"\#(requested)","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            )
            #expect(reply.status == 200)
            #expect(reply.response[path: "result.protocolVersion"] as? String == negotiated, "\(reply.messages)")
            #expect(reply.response[path: "result.serverInfo.name"] as? String == "codex-gateway")
            #expect(reply.response[path: "result.capabilities.tools"] != nil)
            let session = try #require(reply.headers.first(name: "Mcp-Session-Id"))
            client.sessionID = session
            client.protocolVersion = negotiated
            #expect(try await client.send(.POST, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).status == 202)
            let ping = try await client.send(.POST, #"{"jsonrpc":"2.0","id":"p","method":"ping"}"#, accept: "application/json")
            #expect(ping.status == 200 && ping.response["id"] as? String == "p" && ping.response["result"] != nil, "\(ping.messages)")

            // Another key does not get into this session.
            var other = client
            other.key = "another-key-that-is-not-valid"
            #expect(try await other.send(.POST, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#).status == 401)

            // A version header that is not the session's is refused.
            var wrongVersion = client
            wrongVersion.protocolVersion = negotiated == "2025-06-18" ? "2025-11-25" : "2025-06-18"
            #expect(try await wrongVersion.send(.POST, #"{"jsonrpc":"2.0","id":3,"method":"ping"}"#).status == 400)

            #expect(try await client.send(.DELETE, nil).status == 204)
            let after = try await client.send(.POST, #"{"jsonrpc":"2.0","id":4,"method":"ping"}"#)
            #expect(after.status == 404, "an ended session is unknown")
            #expect(try await client.send(.DELETE, nil).status == 404)
        }
    }

    @Test func toolsListNamesCodexAndCodexReplyWithSchemasAndAnnotations() async throws {
        try await withLiveGateway(Self.protocolGateway()) { port in
            let client = try await MCPTestClient.initialized(port: port)
            let reply = try await client.send(.POST, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, accept: "application/json")
            let tools = try #require(reply.response[path: "result.tools"] as? [[String: Any]], "\(reply.messages)")
            #expect(tools.compactMap { $0["name"] as? String } == ["codex", "codex-reply"])
            for tool in tools {
                let annotations = try #require(tool["annotations"] as? [String: Any])
                for hint in ["readOnlyHint", "destructiveHint", "openWorldHint"] {
                    #expect(annotations[hint] is Bool, "\(tool["name"] ?? "") sets \(hint)")
                }
                #expect(tool["title"] is String)
                #expect(tool[path: "inputSchema.type"] as? String == "object")
                #expect((tool[path: "outputSchema.required"] as? [String])?.contains("threadId") == true)
            }
            let codex = try #require(tools.first)
            let properties = (codex[path: "inputSchema.properties"] as? [String: Any])?.keys.sorted()
            #expect(properties == ["approval-policy", "model", "prompt", "sandbox", "workspace"])
            let reply2 = try #require(tools.last)
            #expect((reply2[path: "inputSchema.properties"] as? [String: Any])?.keys.sorted() == ["conversationId", "prompt", "threadId"])
        }
    }

    @Test func theStatelessVersionDiscoversAndListsWithoutASession() async throws {
        try await withLiveGateway(Self.protocolGateway()) { port in
            let client = MCPTestClient(port: port)
            let discover = MCPTestClient.stateless(id: 1, method: "server/discover")
            let found = try await client.send(.POST, discover.body, headers: discover.headers)
            #expect(found.status == 200)
            #expect(found.headers.first(name: "Mcp-Session-Id") == nil)
            #expect(found.response[path: "result.supportedVersions"] as? [String] == ["2025-06-18", "2025-11-25", "2026-07-28"], "\(found.messages)")
            #expect(found.response[path: "result.resultType"] as? String == "complete")
            let list = MCPTestClient.stateless(id: 2, method: "tools/list")
            let listed = try await client.send(.POST, list.body, headers: list.headers)
            #expect((listed.response[path: "result.tools"] as? [Any])?.count == 2)
            #expect(listed.response[path: "result.resultType"] as? String == "complete")
            #expect(try await client.send(.POST, #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#, headers: list.headers).status == 202)
        }
    }

    // MARK: Refusals

    @Test func theStatelessEnvelopeAndItsHeadersAreChecked() async throws {
        try await withLiveGateway(Self.protocolGateway()) { port in
            let client = MCPTestClient(port: port)
            func error(_ body: String, _ headers: [(String, String)]) async throws -> (UInt, Int?) {
                let reply = try await client.send(.POST, body, accept: "application/json", headers: headers)
                return (reply.status, reply.response[path: "error.code"] as? Int)
            }
            let list = MCPTestClient.stateless(id: 1, method: "tools/list")
            let noMeta = try await error(#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#, list.headers)
            #expect(noMeta == (400, -32602))
            let wrongMethod = try await error(list.body, [("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call")])
            #expect(wrongMethod == (400, -32020))
            let call = MCPTestClient.stateless(id: 2, method: "tools/call", params: #""name":"codex","arguments":{"prompt":"hi"}"#)
            let wrongName = try await error(call.body, call.headers + [("Mcp-Name", "codex-reply")])
            #expect(wrongName == (400, -32020))
            let future = MCPTestClient.stateless(id: 3, method: "server/discover", version: "2099-01-01")
            let reply = try await client.send(.POST, future.body, accept: "application/json", headers: future.headers)
            #expect(reply.status == 400 && reply.response[path: "error.code"] as? Int == -32022)
            #expect((reply.response[path: "error.data.supported"] as? [String])?.contains("2026-07-28") == true)
            let unknown = MCPTestClient.stateless(id: 4, method: "resources/list")
            #expect(try await error(unknown.body, unknown.headers) == (404, -32601))
        }
    }

    @Test func malformedBatchedUnknownAndSessionlessMessagesGetJSONRPCErrors() async throws {
        try await withLiveGateway(Self.protocolGateway()) { port in
            var client = MCPTestClient(port: port)
            func check(_ body: String, status: UInt, code: Int, _ what: String) async throws {
                let reply = try await client.send(.POST, body, accept: "application/json")
                #expect(reply.status == status, "\(what): \(reply.messages)")
                #expect(reply.response[path: "error.code"] as? Int == code, "\(what): \(reply.messages)")
            }
            try await check("{not json", status: 400, code: -32700, "malformed JSON")
            try await check(#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, status: 400, code: -32600, "a batch")
            try await check(#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, status: 400, code: -32600, "not JSON-RPC 2.0")
            try await check(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, status: 400, code: -32600, "no session")

            client = try await MCPTestClient.initialized(port: port)
            try await check(#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#, status: 200, code: -32601, "unknown method")
            try await check(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#, status: 200, code: -32602, "unknown tool")
            try await check(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"codex","arguments":{}}}"#, status: 200, code: -32602, "no prompt")
            try await check(
                #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"codex","arguments":{"prompt":"x","cwd":"/"}}}"#, status: 200, code: -32602, "unknown argument")
            try await check(
                #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"codex","arguments":{"prompt":"x","sandbox":"everything"}}}"#, status: 200, code: -32602, "bad sandbox")
            try await check(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"codex-reply","arguments":{"prompt":"x"}}}"#, status: 200, code: -32602, "no threadId")
            try await check(
                #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"codex-reply","arguments":{"prompt":"x","threadId":"0190aaaa-0000-7000-8000-000000000000"}}}"#,
                status: 200, code: -32602, "unknown thread")

            client.sessionID = "mcp_00000000000000000000000000000000"
            try await check(#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#, status: 404, code: -32600, "unknown session")

            let big = String(repeating: "a", count: 1_100_000)
            let oversized = try await client.send(.POST, #"{"jsonrpc":"2.0","id":10,"method":"ping","params":{"pad":"\#(big)"}}"#)
            #expect(oversized.status == 413)
            #expect(try await client.send(.GET, nil, accept: "text/event-stream").status == 405)
            #expect(try await client.send(.POST, #"{"jsonrpc":"2.0","id":11,"method":"ping"}"#, accept: "text/html").status == 406)
            var anonymous = client
            anonymous.key = ""
            let refused = try await anonymous.send(.POST, #"{"jsonrpc":"2.0","id":12,"method":"ping"}"#)
            #expect(refused.status == 401 && refused.headers.first(name: "WWW-Authenticate") != nil)
        }
    }

    @Test func sessionsAreBoundedAndExpireWhenIdle() async throws {
        try await withLiveGateway(Self.protocolGateway(["MCP_MAX_SESSIONS": "1", "MCP_SESSION_IDLE_SECONDS": "0.3"])) { port in
            let first = try await MCPTestClient.initialized(port: port)
            let refused = try await MCPTestClient(port: port).send(
                .POST, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            )
            #expect(refused.status == 503, "\(refused.messages)")
            #expect(refused.response[path: "error.code"] as? Int == -32000)
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await first.send(.POST, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#).status == 404, "the idle session expired")
            let second = try await MCPTestClient.initialized(port: port)
            #expect(second.sessionID != nil && second.sessionID != first.sessionID, "its place is free again")
        }
    }
}
