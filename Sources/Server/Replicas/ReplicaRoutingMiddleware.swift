import Foundation
import GatewayRuntime
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// Sends a request about a conversation that lives on another replica to that replica, before
/// any route here runs (PROTOCOLS.md §12). Requests other replicas forwarded here (checked by
/// ``ReplicaOriginMiddleware``) are answered here.
///
/// What it routes: `/conversations/{id}…`, `GET /approvals?conversation_id=`, `POST /approvals/{id}`,
/// and the bodies of `POST /exec` (`conversation_id`/`session_id`), `POST /webhook`
/// (`data.conversation_id`: stored by the home, whose worker alone claims it) and of a single `POST /jsonrpc`
/// request (`conversation.*` by `conversation_id`/`session_id`, `approval.respond` by
/// `approval_id`, `approval.list` by `conversation_id`), and `POST`/`GET`/`DELETE /mcp` by
/// `Mcp-Session-Id` (the session's home; `GET`'s event stream streams back). Everything else, and every request without
/// credentials (nothing to forward for it but a 401), is answered here.
struct ReplicaRoutingMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let placement: ReplicaPlacement
    let client: ReplicaClient
    /// The largest body any operation accepts: a forwarded body is collected first.
    let bodyLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Forwarded here by another replica (its signature checked by ReplicaOriginMiddleware): answered here.
        if context.replicaForward != nil { return try await next(request, context) }
        guard Self.hasCredentials(request.headers) else { return try await next(request, context) }
        var request = request
        var body = ByteBuffer()
        let key: String?
        if request.uri.path == "/mcp", let session = request.headers[Self.mcpSessionID] {
            // An MCP session lives where it was initialized (its calls and elicitations are there).
            key = session
        } else if Self.routesByBody(request) {
            body = try await request.collectBody(upTo: bodyLimit)
            key = ReplicaRouteKey.key(path: request.uri.path, query: request.uri.queryParameters, body: body)
        } else {
            key = ReplicaRouteKey.key(path: request.uri.path, query: request.uri.queryParameters, body: nil)
        }
        guard let key, let home = try await placement.remoteHome(of: key) else { return try await next(request, context) }
        if !Self.routesByBody(request) {
            body = try await request.collectBody(upTo: bodyLimit)
        }
        return try await client.forward(request, body: body, to: home, context: context)
    }

    static let mcpSessionID = HTTPField.Name("Mcp-Session-Id")!

    private static func routesByBody(_ request: Request) -> Bool {
        request.method == .post && ["/exec", "/jsonrpc", "/webhook"].contains(request.uri.path)
    }

    /// An API key, a bearer token or a cookie: something the home replica can authenticate.
    private static func hasCredentials(_ headers: HTTPFields) -> Bool {
        headers[.authorization] != nil || headers[HTTPField.Name("X-API-Key")!] != nil || headers[.cookie] != nil
    }
}

/// The conversation or approval id a request is about, read where a replica can see it before
/// routing (the path, the query, a JSON body); nil when it names none.
enum ReplicaRouteKey {
    static func key(path: String, query: Hummingbird.Parameters, body: ByteBuffer?) -> String? {
        let parts = path.split(separator: "/").map(String.init)
        switch parts.first {
        case "conversations" where parts.count >= 2:
            return parts[1]
        case "approvals" where parts.count == 2:
            return parts[1]
        case "approvals" where parts.count == 1:
            return query["conversation_id"].map(String.init)
        case "exec":
            return body.flatMap { try? JSONDecoder().decode(ExecKeys.self, from: $0) }.flatMap { $0.conversation_id ?? $0.session_id }
        case "webhook" where parts.count == 1:
            return body.flatMap { try? JSONDecoder().decode(WebhookKeys.self, from: $0) }?.data?.conversation_id
        case "jsonrpc":
            guard let call = body.flatMap({ try? JSONDecoder().decode(RPCKeys.self, from: $0) }), let params = call.params else { return nil }
            switch call.method {
            case "conversation.prompt", "conversation.status", "conversation.cancel", "conversation.history":
                return params.conversation_id ?? params.session_id
            case "approval.respond":
                return params.approval_id
            case "approval.list":
                return params.conversation_id
            default:
                return nil
            }
        default:
            return nil
        }
    }

    private struct ExecKeys: Decodable {
        var conversation_id: String?
        var session_id: String?
    }

    private struct WebhookKeys: Decodable {
        struct Payload: Decodable {
            var conversation_id: String?
        }
        var data: Payload?
    }

    private struct RPCKeys: Decodable {
        struct Params: Decodable {
            var conversation_id: String?
            var session_id: String?
            var approval_id: String?
        }
        var method: String?
        var params: Params?
    }
}
