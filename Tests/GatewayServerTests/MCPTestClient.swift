import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A bare MCP Streamable HTTP client for the tests: POSTs one message and reads the answer as
/// JSON or server-sent events, so each wire detail can be checked.
struct MCPTestClient {
    var port: Int
    var key = TestGateway.apiKey
    var sessionID: String?
    var protocolVersion: String?

    struct Reply {
        var status: UInt
        var headers: HTTPHeaders
        /// The JSON body, or every `data:` message of an event stream, in order.
        var messages: [[String: Any]]
        var contentType: String { headers.first(name: "Content-Type") ?? "" }
        var first: [String: Any] { messages.first ?? [:] }
        /// The message answering request `id` (the last one of a stream).
        var response: [String: Any] { messages.last { $0["id"] != nil && $0["method"] == nil } ?? [:] }
    }

    func request(_ method: HTTPMethod = .POST, _ body: String?, accept: String = "application/json, text/event-stream", headers extra: [(String, String)] = [])
        -> HTTPClientRequest
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/mcp")
        request.method = method
        if !key.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.headers.add(name: "Accept", value: accept)
        if let sessionID { request.headers.add(name: "Mcp-Session-Id", value: sessionID) }
        if let protocolVersion { request.headers.add(name: "MCP-Protocol-Version", value: protocolVersion) }
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        return request
    }

    func send(_ method: HTTPMethod = .POST, _ body: String?, accept: String = "application/json, text/event-stream", headers: [(String, String)] = [])
        async throws -> Reply
    {
        let response = try await HTTPClient.shared.execute(request(method, body, accept: accept, headers: headers), timeout: .seconds(180))
        let text = String(buffer: try await response.body.collect(upTo: 8 << 20))
        let contentType = response.headers.first(name: "Content-Type") ?? ""
        let messages: [[String: Any]]
        if contentType.hasPrefix("text/event-stream") {
            messages = SSEMessages.parse(text)
        } else {
            messages = text.isEmpty ? [] : [(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? ["unparsed": text]]
        }
        return Reply(status: response.status.code, headers: response.headers, messages: messages)
    }

    /// A session: initialize (with `capabilities`), then `notifications/initialized`.
    static func initialized(port: Int, version: String = "2025-11-25", capabilities: String = "{}") async throws -> MCPTestClient {
        var client = MCPTestClient(port: port)
        let reply = try await client.send(
            .POST,
            #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"\#(version)","capabilities":\#(capabilities),"clientInfo":{"name":"tests","version":"1"}}}"#
        )
        client.sessionID = reply.headers.first(name: "Mcp-Session-Id")
        client.protocolVersion = version
        _ = try await client.send(.POST, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        return client
    }

    /// Stateless (2026-07-28) request text with its `_meta` envelope, and the headers that go with it.
    static func stateless(id: Int, method: String, params: String = "", version: String = "2026-07-28", meta extra: String? = nil)
        -> (body: String, headers: [(String, String)])
    {
        let meta =
            #""_meta":{\#(extra.map { $0 + "," } ?? "")"io.modelcontextprotocol/protocolVersion":"\#(version)","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"tests","version":"1"}}"#
        let body = #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{\#(params.isEmpty ? "" : params + ",")\#(meta)}}"#
        return (body, [("MCP-Protocol-Version", version), ("Mcp-Method", method)])
    }
}

/// Reads `data:` messages from an event stream as they arrive.
struct SSEMessages {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var pending = ""

    static func parse(_ text: String) -> [[String: Any]] {
        text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").compactMap(message)
    }

    static func message(_ event: String) -> [String: Any]? {
        let data = event.split(separator: "\n").filter { $0.hasPrefix("data:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
        guard !data.isEmpty else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
    }

    /// The next message; nil when the stream ends.
    mutating func next() async throws -> [String: Any]? {
        while true {
            if let end = pending.range(of: "\n\n") {
                let event = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                if let message = Self.message(event) { return message }
                continue
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += String(buffer: chunk).replacingOccurrences(of: "\r\n", with: "\n")
        }
    }
}
