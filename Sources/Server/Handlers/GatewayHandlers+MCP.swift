import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import NIOCore

extension GatewayHandlers {
    /// `POST /mcp`: one MCP message (``MCPDispatcher``).
    public func mcp(_ input: Operations.MCP.Input, context: Context) async throws -> Operations.MCP.Output {
        let post = MCPDispatcher.Post(
            body: input.body,
            sessionID: input.headers.mcpSessionID,
            protocolVersion: input.headers.mcpProtocolVersion,
            methodHeader: input.headers.mcpMethod,
            nameHeader: input.headers.mcpName,
            accept: input.accept,
            principal: context.principal,
            connectionClosed: context.channel.closeFuture
        )
        switch await mcpDispatcher.post(post) {
        case .json(let status, let body, let sessionID):
            let raw = RawResponseBody(body: ResponseBody(byteBuffer: body))
            switch status {
            case 400: return .badRequest(.json(raw))
            case 404: return .notFound(.json(raw))
            case 503: return .serviceUnavailable(.json(raw))
            default: return .ok(.json(raw), headers: .init(mcpSessionID: sessionID))
            }
        case .notAcceptable(let body):
            return .notAcceptable(.json(RawResponseBody(body: ResponseBody(byteBuffer: body))))
        case .accepted, .ended:
            return .accepted
        case .stream(let body):
            var headers = HTTPFields()
            headers[.cacheControl] = "no-cache"
            headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
            return .ok(.eventStream(RawResponseBody(body: body, headers: headers)), headers: .init())
        }
    }

    /// `GET /mcp`: no standalone server stream; server messages come on each POST's stream.
    public func mcpStream(_ input: Operations.MCPStream.Input, context: Context) async throws -> Operations.MCPStream.Output {
        .methodNotAllowed(headers: .init(allow: "POST, DELETE"))
    }

    /// `DELETE /mcp`: ends the session and the calls it runs.
    public func mcpEndSession(_ input: Operations.MCPEndSession.Input, context: Context) async throws -> Operations.MCPEndSession.Output {
        switch await mcpDispatcher.delete(sessionID: input.headers.mcpSessionID, principal: context.principal) {
        case .json(400, let body, _): return .badRequest(.json(RawResponseBody(body: ResponseBody(byteBuffer: body))))
        case .json(_, let body, _): return .notFound(.json(RawResponseBody(body: ResponseBody(byteBuffer: body))))
        default: return .noContent
        }
    }
}
