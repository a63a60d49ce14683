import Foundation
import GatewayRuntime
import Hummingbird
import Logging
import NIOCore

/// The MCP server of `/mcp` (Streamable HTTP; PROTOCOLS.md §11): one JSON-RPC message per POST,
/// routed by era. With `Mcp-Session-Id`, or an `initialize`, it is a session of 2025-06-18 or
/// 2025-11-25; with `MCP-Protocol-Version: 2026-07-28` (or a `server/discover`), a stateless
/// request whose envelope is in `params._meta`. Tool calls stream server-sent events (progress,
/// elicitation) when the client accepts them, else answer one JSON object.
struct MCPDispatcher: Sendable {
    /// A POST as the route read it.
    struct Post: Sendable {
        var body: Result<JSONValue, GatewayError>
        var sessionID: String?
        var protocolVersion: String?
        var methodHeader: String?
        var nameHeader: String?
        var accept: AcceptHeader
        var principal: Principal?
        /// Completes when the client's connection closes: the call it runs is cancelled.
        var connectionClosed: EventLoopFuture<Void>?
    }

    /// What to answer, in terms the handler maps to the documented responses.
    enum Answer: Sendable {
        case json(status: Int, ByteBuffer, sessionID: String? = nil)
        case accepted
        case notAcceptable(ByteBuffer)
        /// A `text/event-stream` body, written event by event as the call runs.
        case stream(ResponseBody)
        /// DELETE: the session ended.
        case ended
    }

    let sessions: MCPSessionStore
    let runner: MCPToolRunner
    let logger: Logger
    /// How often a silent event stream gets a comment line, so proxies keep it open.
    let keepAlive: Duration

    init(manager: ConversationManager, approvals: ApprovalCenter, limits: MCPSessionStore.Limits = .init(), keepAlive: Duration = .seconds(15), logger: Logger) {
        self.sessions = MCPSessionStore(limits: limits)
        self.runner = MCPToolRunner(manager: manager, approvals: approvals)
        self.keepAlive = keepAlive
        self.logger = logger
    }

    // MARK: POST

    func post(_ post: Post) async -> Answer {
        let value: JSONValue
        switch post.body {
        case .success(let decoded): value = decoded
        case .failure:
            return Self.error(status: 400, id: nil, MCPError(code: MCPProtocol.ErrorCode.parseError, message: "Parse error: the body is not valid JSON."))
        }
        if case .array = value {
            return Self.error(
                status: 400, id: nil,
                MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: batches are not supported; send one JSON-RPC message per POST.")
            )
        }
        let message: MCPIncoming
        do {
            message = try MCPIncoming(value)
        } catch {
            return Self.error(status: 400, id: value["id"].flatMap { Self.isValidID($0) ? $0 : nil }, error)
        }
        if case .request = message, post.accept.preferred(among: ["application/json", "text/event-stream"]) == nil {
            return .notAcceptable(
                Self.encode(MCPOutgoing.ErrorResponse(id: nil, MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Not Acceptable: accept application/json or text/event-stream.")))
            )
        }
        if let sessionID = post.sessionID {
            return await inSession(sessionID, message, post)
        }
        let stateless = post.protocolVersion.map(MCPProtocol.statelessVersions.contains) ?? false
        switch message {
        case .request(let id, "initialize", let params) where !stateless:
            return await initialize(id: id, params: params, post)
        case .request(let id, let method, let params) where stateless || method == "server/discover":
            return await statelessRequest(id: id, method: method, params: params, post)
        case .notification where stateless:
            return .accepted
        case .response where stateless:
            return Self.error(status: 400, id: nil, MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: 2026-07-28 has no server requests to answer."))
        case .request(let id, _, _):
            return Self.missingSession(id: id)
        case .notification, .response:
            return Self.missingSession(id: nil)
        }
    }

    static func missingSession(id: JSONValue?) -> Answer {
        error(
            status: 400, id: id,
            MCPError(
                code: MCPProtocol.ErrorCode.invalidRequest,
                message: "Bad Request: no Mcp-Session-Id. Send initialize first (2025-06-18, 2025-11-25), or MCP-Protocol-Version: 2026-07-28 with the request's _meta envelope."
            )
        )
    }

    // MARK: Sessions (2025-06-18, 2025-11-25)

    func initialize(id: JSONValue, params: JSONValue?, _ post: Post) async -> Answer {
        guard case .string(let requested)? = params?["protocolVersion"] else {
            return Self.result(id: id, error: MCPError.invalidParams("initialize needs protocolVersion."), session: true)
        }
        // The client's version when it is one of ours, else our newest with a handshake.
        let version = MCPProtocol.sessionVersions.contains(requested) ? requested : MCPProtocol.sessionVersions.last!
        let elicitation = params?["capabilities"]?["elicitation"] != nil
        guard let session = sessions.create(owner: post.principal?.owner, protocolVersion: version, elicitation: elicitation) else {
            let limit = sessions.limits.maxSessions
            return Self.error(
                status: 503, id: id,
                MCPError(code: MCPProtocol.ErrorCode.tooManySessions, message: "The gateway holds as many MCP sessions as it may (MCP_MAX_SESSIONS = \(limit)); retry later.")
            )
        }
        // Recorded before the client learns the id: its next request may land on another replica,
        // which forwards it here (ReplicaRoutingMiddleware).
        await runner.manager.placement?.recordHere(session.id)
        logger.info("mcp.session_started", metadata: ["mcp.session_id": .string(session.id), "mcp.protocol_version": .string(version)])
        let body = Self.encode(MCPOutgoing.Response(id: id, result: MCPResults.Initialize(protocolVersion: version)))
        return .json(status: 200, body, sessionID: session.id)
    }

    func inSession(_ sessionID: String, _ message: MCPIncoming, _ post: Post) async -> Answer {
        guard let session = sessions.session(sessionID, owner: post.principal?.owner) else {
            let id: JSONValue? = if case .request(let id, _, _) = message { id } else { nil }
            return Self.error(
                status: 404, id: id,
                MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Session not found: it is unknown, expired or ended; send initialize for a new one.")
            )
        }
        if let version = post.protocolVersion, version != session.protocolVersion {
            return Self.error(
                status: 400, id: nil,
                MCPError(
                    code: MCPProtocol.ErrorCode.invalidRequest,
                    message: "Bad Request: MCP-Protocol-Version '\(version)' is not this session's ('\(session.protocolVersion)')."
                )
            )
        }
        switch message {
        case .notification("notifications/cancelled", let params):
            if let requestID = params?["requestId"], let call = session.call(requestID: requestID) {
                logger.info("mcp.call_cancelled", metadata: ["mcp.session_id": .string(session.id)])
                await call.cancel()
            }
            return .accepted
        case .notification:
            return .accepted
        case .response(let id, let result, let error):
            if let approvalID = session.takeElicitation(id: id) {
                let decision = error == nil ? MCPToolRunner.decision(fromElicitationResult: result) : .decline
                // Here, or on the replica whose turn asked it (`codex-reply` on a conversation homed there).
                try? await runner.approvals.answer(approvalID, decision: decision, for: post.principal, elsewhere: runner.manager.remote)
            }
            return .accepted
        case .request(let id, "initialize", _):
            return Self.error(status: 400, id: id, MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: this session is already initialized."))
        case .request(let id, "ping", _):
            return Self.result(id: id, MCPResults.Empty(), session: true, post)
        case .request(let id, "tools/list", _):
            return Self.result(id: id, MCPResults.ToolList(tools: MCPTools.definitions), session: true, post)
        case .request(let id, "tools/call", let params):
            let elicitation = session.elicitation ? MCPToolRunner.Elicitation(session: session, namesMode: session.protocolVersion >= "2025-11-25") : nil
            return await callTool(id: id, params: params, post, session: session, elicitation: elicitation)
        case .request(let id, let method, _):
            return Self.result(id: id, error: MCPError(code: MCPProtocol.ErrorCode.methodNotFound, message: "Method not found: '\(method)'."), session: true)
        }
    }

    func delete(sessionID: String?, principal: Principal?) async -> Answer {
        guard let sessionID else {
            return Self.error(status: 400, id: nil, MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Bad Request: DELETE /mcp needs the Mcp-Session-Id header."))
        }
        guard let calls = sessions.end(sessionID, owner: principal?.owner) else {
            return Self.error(status: 404, id: nil, MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Session not found: it is unknown, expired or already ended."))
        }
        for call in calls { await call.cancel() }
        logger.info("mcp.session_ended", metadata: ["mcp.session_id": .string(sessionID)])
        return .ended
    }

    // MARK: Stateless (2026-07-28)

    func statelessRequest(id: JSONValue, method: String, params: JSONValue?, _ post: Post) async -> Answer {
        if let refusal = Self.checkEnvelope(method: method, params: params, post) {
            return Self.error(status: MCPProtocol.statelessStatus(for: refusal.code), id: id, refusal)
        }
        switch method {
        case "server/discover":
            return Self.result(id: id, MCPResults.Discover(), session: false, post)
        case "ping":
            return Self.result(id: id, MCPResults.Empty(resultType: "complete"), session: false, post)
        case "tools/list":
            return Self.result(id: id, MCPResults.ToolList(tools: MCPTools.definitions, resultType: "complete", cacheScope: "public", ttlMs: 0), session: false, post)
        case "tools/call":
            return await callTool(id: id, params: params, post, session: nil, elicitation: nil)
        default:
            return Self.error(status: 404, id: id, MCPError(code: MCPProtocol.ErrorCode.methodNotFound, message: "Method not found: '\(method)'."))
        }
    }

    /// The stateless version's checks, in the spec's order: the `_meta` envelope, the routing
    /// headers against the body, then the version.
    static func checkEnvelope(method: String, params: JSONValue?, _ post: Post) -> MCPError? {
        guard case .object(let meta)? = params?["_meta"], let version = meta[MCPProtocol.MetaKey.protocolVersion], meta[MCPProtocol.MetaKey.clientCapabilities] != nil
        else {
            return .invalidParams(
                "params._meta must carry '\(MCPProtocol.MetaKey.protocolVersion)' and '\(MCPProtocol.MetaKey.clientCapabilities)' (2026-07-28 has no initialize)."
            )
        }
        guard let header = post.protocolVersion, JSONValue.string(header) == version else {
            return MCPError(code: MCPProtocol.ErrorCode.headerMismatch, message: "The MCP-Protocol-Version header does not match params._meta's protocol version.")
        }
        guard post.methodHeader == method else {
            return MCPError(code: MCPProtocol.ErrorCode.headerMismatch, message: "The Mcp-Method header does not match the request's method.")
        }
        if method == "tools/call", case .string(let name)? = params?["name"], decodeHeaderValue(post.nameHeader) != name {
            return MCPError(code: MCPProtocol.ErrorCode.headerMismatch, message: "The Mcp-Name header does not match the tool's name.")
        }
        guard MCPProtocol.statelessVersions.contains(header) else {
            return MCPError(
                code: MCPProtocol.ErrorCode.unsupportedProtocolVersion,
                message: "Unsupported protocol version",
                data: .object(["supported": .array(MCPProtocol.allVersions.map(JSONValue.string)), "requested": .string(header)])
            )
        }
        return nil
    }

    /// A header value as sent, or the text of its `=?base64?…?=` form.
    static func decodeHeaderValue(_ value: String?) -> String? {
        guard let value, value.hasPrefix("=?base64?"), value.hasSuffix("?=") else { return value }
        let payload = value.dropFirst("=?base64?".count).dropLast(2)
        return Data(base64Encoded: String(payload)).flatMap { String(data: $0, encoding: .utf8) }
    }

    // MARK: tools/call

    func callTool(id: JSONValue, params: JSONValue?, _ post: Post, session: MCPSession?, elicitation: MCPToolRunner.Elicitation?) async -> Answer {
        let stateless = session == nil
        let call: MCPTools.Call
        let prepared: MCPToolRunner.Prepared
        do {
            call = try MCPTools.call(params)
            prepared = try await runner.prepare(call, principal: post.principal)
        } catch {
            return Self.result(id: id, error: error, session: !stateless)
        }
        let plan: ConversationManager.TurnPlan
        switch prepared {
        case .refused(let message):
            let refused = MCPResults.CallTool(content: [.init(text: message)], isError: true, resultType: stateless ? "complete" : nil)
            return Self.result(id: id, refused, session: !stateless, post)
        case .plan(let ready): plan = ready
        }
        let handle = MCPToolCallHandle(manager: runner.manager, principal: post.principal)
        if let session, !session.register(handle, requestID: id) {
            return Self.result(id: id, error: MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: a call with this id is already running."), session: true)
        }
        post.connectionClosed?.whenComplete { _ in handle.signal.cancel() }
        let progressToken = params?["_meta"]?["progressToken"]
        let runner = runner
        let sessions = sessions
        let logger = logger
        @Sendable func finished() { session?.finish(requestID: id, now: sessions.now()) }

        if post.accept.preferred(among: ["text/event-stream", "application/json"]) == "text/event-stream" {
            let keepAlive = keepAlive
            return .stream(ResponseBody { writer in
                defer { finished() }
                let (chunks, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { continuation.finish() }
                        do {
                            if let result = try await runner.run(
                                plan, handle: handle, progressToken: progressToken, elicitation: elicitation, stateless: stateless,
                                send: { continuation.yield($0) }
                            ) {
                                continuation.yield(try MCPToolRunner.message(MCPOutgoing.Response(id: id, result: result)))
                            }
                        } catch {
                            logger.error("mcp.call_failed", metadata: ["error.message": .string(String(describing: error))])
                            let failure = MCPError(code: MCPProtocol.ErrorCode.internalError, message: "Internal error.")
                            continuation.yield(try MCPToolRunner.message(MCPOutgoing.ErrorResponse(id: id, failure)))
                        }
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: keepAlive)
                            continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    do {
                        for await chunk in chunks { try await writer.write(chunk) }
                    } catch {
                        // The client went away: the turn stops with its request.
                        handle.signal.cancel()
                        group.cancelAll()
                        throw error
                    }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
        }
        defer { finished() }
        do {
            guard let result = try await runner.run(plan, handle: handle, progressToken: nil, elicitation: nil, stateless: stateless, send: { _ in }) else {
                return Self.result(id: id, error: MCPError(code: MCPProtocol.ErrorCode.requestCancelled, message: "The call was cancelled."), session: !stateless)
            }
            return Self.result(id: id, result, session: !stateless, post)
        } catch {
            logger.error("mcp.call_failed", metadata: ["error.message": .string(String(describing: error))])
            return Self.result(id: id, error: MCPError(code: MCPProtocol.ErrorCode.internalError, message: "Internal error."), session: !stateless)
        }
    }

    // MARK: Encoding

    static func encode(_ value: some Encodable) -> ByteBuffer {
        (try? ResponseEncoding.encodeJSON(value)) ?? ByteBuffer(string: #"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error."}}"#)
    }

    static func isValidID(_ id: JSONValue) -> Bool {
        switch id {
        case .string, .integer: true
        default: false
        }
    }

    static func error(status: Int, id: JSONValue?, _ error: MCPError) -> Answer {
        .json(status: status, encode(MCPOutgoing.ErrorResponse(id: id, error)))
    }

    /// A request's result, as JSON or, for a client that accepts only server-sent events, one event.
    static func result(id: JSONValue, _ result: some Encodable & Sendable, session: Bool, _ post: Post) -> Answer {
        let response = MCPOutgoing.Response(id: id, result: result)
        if post.accept.preferred(among: ["application/json", "text/event-stream"]) == "text/event-stream" {
            let event = (try? MCPToolRunner.message(response)) ?? ByteBuffer()
            return .stream(ResponseBody(byteBuffer: event))
        }
        return .json(status: 200, encode(response))
    }

    /// A request's error: 200 in a session (the JSON-RPC error is the answer), the spec's table's
    /// status in the stateless version.
    static func result(id: JSONValue, error: any Error, session: Bool) -> Answer {
        let failure = error as? MCPError ?? MCPError(code: MCPProtocol.ErrorCode.internalError, message: "Internal error.")
        return Self.error(status: session ? 200 : MCPProtocol.statelessStatus(for: failure.code), id: id, failure)
    }
}
