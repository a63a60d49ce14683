import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import WSCore

/// Serves `GET /ws` (PROTOCOLS.md §4; operation `webSocket` in openapi.yaml).
///
/// The handshake is authenticated before anything is switched: by `X-API-Key` or `Authorization`
/// like every operation, or, for browsers, which cannot set headers on a handshake, by the
/// subprotocol `bearer.<token>` or a single-use `?ticket=` from `POST /ws/ticket`. Accepted
/// handshakes become a ``WebSocketConnection``. Everything else (no or bad credentials, a plain
/// `GET`) is answered by the route ``registerRoutes(on:)`` adds, with the error envelope.
public struct WebSocketController: Sendable {
    public struct Settings: Sendable {
        /// A connection that sends nothing and runs no turn for this long is closed with 1001
        /// (`WS_IDLE_TIMEOUT_SECONDS`).
        public var idleTimeout: Duration = .seconds(300)
        /// The largest message, and frame, accepted; a bigger one closes the connection with 1009.
        public var maxMessageSize = 1 << 20
        /// Protocol-level pings; a peer that misses a pong is closed with 1001.
        public var pingInterval: Duration = .seconds(30)
        /// How often a connection checks that the key or token it was opened with is still valid
        /// (`WS_CREDENTIAL_CHECK_SECONDS`); revoked or expired, the connection is closed with 1008.
        public var credentialCheckInterval: Duration = .seconds(5)
        /// How long a close handshake may take before the connection is dropped.
        public var closeTimeout: Duration = .seconds(10)
        /// Told about every message received, so memory is not trimmed while WebSockets are busy
        /// (`IdleMemoryTrimmer`).
        public var activity: IdleMemoryTrimmer.Activity?

        public init() {}
    }

    static let operation = Operations.WebSocket.descriptor
    static let subprotocolPrefix = "bearer."

    let conversations: ConversationManager
    let approvals: ApprovalCenter
    let authenticator: GatewayAuthenticator
    let tickets: any WebSocketTicketStore
    let settings: Settings

    public init(
        conversations: ConversationManager,
        approvals: ApprovalCenter = ApprovalCenter(),
        authenticator: GatewayAuthenticator,
        tickets: any WebSocketTicketStore,
        settings: Settings = .init()
    )
    {
        self.conversations = conversations
        self.approvals = approvals
        self.authenticator = authenticator
        self.tickets = tickets
        self.settings = settings
    }

    /// The server: HTTP/1.1 for the router, with `/ws` handshakes decided here.
    public func serverBuilder(http1: HTTP1Channel.Configuration = .init(), timeouts: HTTPTimeouts = .defaults) -> HTTPServerBuilder {
        .http1WithWebSockets(
            configuration: .init(
                http1: http1,
                maxFrameSize: settings.maxMessageSize,
                autoPing: .enabled(timePeriod: settings.pingInterval),
                closeTimeout: settings.closeTimeout,
                timeouts: timeouts
            ),
            shouldUpgrade: { request, logger in await self.shouldUpgrade(request, logger: logger) }
        )
    }

    /// Answers `GET /ws` requests that were not upgraded: `401` when the credentials are why,
    /// else `400 websocket_upgrade_required`.
    public func registerRoutes(on router: some RouterMethods<GatewayRequestContext>) {
        router.on(RouterPath(Self.operation.path), method: Self.operation.method) { request, _ -> Response in
            let (principal, _) = try await self.authenticate(request)
            _ = try await self.authenticator.admit(principal)
            var headers = HTTPFields()
            headers[.secWebSocketVersion] = "13"
            throw GatewayError(
                status: .badRequest,
                code: "websocket_upgrade_required",
                message:
                    "GET /ws is a WebSocket endpoint: send a WebSocket handshake (Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Version: 13).",
                headers: headers
            )
        }
    }

    func shouldUpgrade(_ request: Request, logger: Logger) async -> WebSocketUpgradeChannel.UpgradeDecision {
        guard request.method == Self.operation.method, request.uri.path == Self.operation.path else { return .refuse }
        let credentials: (principal: Principal, subprotocol: String?)
        do {
            credentials = try await authenticate(request)
        } catch {
            return .refuse  // the route answers: 401 with the envelope
        }
        let rateLimit: RateLimitStatus?
        do {
            rateLimit = try await authenticator.admit(credentials.principal)
        } catch {
            return .refuse  // the route answers: 429 with the envelope
        }
        let requestID = request.headers[RequestIDMiddleware.header].flatMap(RequestIDMiddleware.accept) ?? RequestIDMiddleware.generate()
        var headers = HTTPFields()
        headers[RequestIDMiddleware.header] = requestID
        if let rateLimit { RateLimitHeadersMiddleware.apply(rateLimit, to: &headers) }
        if let subprotocol = credentials.subprotocol {
            headers[.secWebSocketProtocol] = subprotocol  // browsers fail a handshake that selects none
        }
        var logger = logger
        logger[metadataKey: "request_id"] = .string(requestID)
        logger[metadataKey: "principal"] = .string(credentials.principal.id)
        let connection = WebSocketConnection(
            conversations: conversations,
            approvals: approvals,
            principal: credentials.principal,
            authenticator: authenticator,
            settings: settings,
            logger: logger
        )
        GatewayMetrics.recordWebSocketUpgrade()
        let scope = RequestLogScope(requestID: requestID, principal: credentials.principal)
        return .upgrade(headers: headers) { inbound, outbound, context in
            // The connection's turns log under its handshake's request ID.
            try await RequestLogScope.$current.withValue(scope) {
                try await connection.run(inbound: inbound, outbound: outbound, context: context)
            }
        }
    }

    /// Who the handshake authenticates as, and the subprotocol to select when that is how.
    ///
    /// Headers win when present (an `Authorization` header is always the one checked, as on every
    /// route), then the `bearer.<token>` subprotocol, then a ticket. Throws the 401.
    func authenticate(_ request: Request) async throws -> (principal: Principal, subprotocol: String?) {
        try await authenticator.withResourceMetadata(path: request.uri.path) { try await credentials(request) }
    }

    private func credentials(_ request: Request) async throws -> (principal: Principal, subprotocol: String?) {
        let security = Self.operation.security
        if Self.carriesHeaderCredentials(request.headers, security: security) {
            return (try await authenticator.principal(for: request.headers, alternatives: security), nil)
        }
        if let subprotocol = Self.bearerSubprotocol(request.headers) {
            let token = String(subprotocol.dropFirst(Self.subprotocolPrefix.count))
            return (try await authenticator.principal(forBearerToken: token), subprotocol)
        }
        if let ticket = request.uri.queryParameters["ticket"].map(String.init) {
            guard let principal = try await tickets.redeem(ticket) else {
                throw GatewayAuthenticator.unauthorized(
                    code: "invalid_ticket",
                    message: "The ticket is unknown, used or expired; get a new one from POST /ws/ticket.",
                    challenge: "error=\"invalid_token\", error_description=\"the ticket is unknown, used or expired\""
                )
            }
            return (principal, nil)
        }
        throw GatewayAuthenticator.unauthorized(
            code: "unauthorized",
            message: "Credentials are required: send X-API-Key: <key> or Authorization: Bearer <token> with the handshake, "
                + "or (from a browser) the subprotocol bearer.<token> or ?ticket= from POST /ws/ticket.",
            challenge: nil
        )
    }

    static func carriesHeaderCredentials(_ headers: HTTPFields, security: [[SecurityRequirement]]) -> Bool {
        let apiKeyHeaders = security.joined().compactMap { requirement -> String? in
            if case .apiKeyHeader(let name) = requirement.kind { return name }
            return nil
        }
        return headers[.authorization] != nil || apiKeyHeaders.contains { headers.parameter(named: $0) != nil }
    }

    /// The first offered subprotocol of the form `bearer.<token>`.
    static func bearerSubprotocol(_ headers: HTTPFields) -> String? {
        headers[values: .secWebSocketProtocol]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix(subprotocolPrefix) && $0.count > subprotocolPrefix.count }
    }
}
