import Foundation
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Enforces the `security` of generated operations (PROTOCOLS.md §0).
///
/// `Authorization: Bearer` is checked when present (an OAuth access token or an API key);
/// otherwise `X-API-Key`. Failures are 401 with a `WWW-Authenticate` challenge naming the
/// resource's RFC 9728 metadata, and the envelope.
///
/// OAuth tokens are bound to their resource (RFC 8707, PROTOCOLS.md §11): at `/mcp` only a token
/// issued for `<PUBLIC_BASE_URL>/mcp` (or an API key) is accepted, and such a token is refused
/// everywhere else; a token issued without `resource` (GPT Actions) works everywhere but `/mcp`.
public struct GatewayAuthenticator: SecurityHandler {
    public typealias Context = GatewayRequestContext

    public static let realm = "codex-gateway"

    let apiKeys: any APIKeyStore
    /// Verifies access tokens issued by this gateway's OAuth server.
    let accessTokens: OAuthService?
    /// Admits each authenticated request; nil disables rate limiting.
    public let rateLimiter: RateLimiter?
    /// The Codex engine's tokens; nil when no engine runs.
    let engineCredentials: EngineCredentials?
    /// `PUBLIC_BASE_URL`: the base of the resources and of their metadata URLs; nil leaves
    /// `resource_metadata` out of challenges and admits no OAuth token at `/mcp`.
    let publicBaseURL: String?
    /// The browser console's sessions: its cookie is accepted wherever an API key header is; nil
    /// accepts no cookie.
    let console: ConsoleService?

    /// The one operation an engine token may call.
    static let engineOperationPath = "/v1/responses"

    public init(
        apiKeys: any APIKeyStore,
        accessTokens: OAuthService? = nil,
        rateLimiter: RateLimiter? = nil,
        engineCredentials: EngineCredentials? = nil,
        publicBaseURL: String? = nil,
        console: ConsoleService? = nil
    ) {
        self.apiKeys = apiKeys
        self.accessTokens = accessTokens
        self.rateLimiter = rateLimiter
        self.engineCredentials = engineCredentials
        self.publicBaseURL = publicBaseURL
        self.console = console
    }

    /// The RFC 8707 resource of the MCP endpoint.
    var mcpResource: String? { publicBaseURL.map { $0 + OAuthService.Settings.mcpPath } }

    /// Whether `path` is the MCP endpoint (or below it).
    static func isMCPPath(_ path: String) -> Bool {
        path == OAuthService.Settings.mcpPath || path.hasPrefix(OAuthService.Settings.mcpPath + "/")
    }

    /// The RFC 9728 metadata URL a 401 for `path` points to.
    func resourceMetadataURL(forPath path: String) -> String? {
        publicBaseURL.map { $0 + "/.well-known/oauth-protected-resource" + (Self.isMCPPath(path) ? OAuthService.Settings.mcpPath : "") }
    }

    /// Why `principal` may not call `path` because of its token's audience, or nil if it may.
    /// API keys may call everything; an OAuth token for the MCP resource only `/mcp`; any other
    /// OAuth token anything but `/mcp`.
    static func audienceRefusal(_ principal: Principal, path: String, mcpResource: String?) -> String? {
        guard principal.kind == .oauth else { return nil }
        let forMCP = principal.audience != nil && principal.audience == mcpResource
        if isMCPPath(path) {
            return forMCP ? nil : "the token was not issued for \(mcpResource ?? "the MCP endpoint") (authorize with resource=\(mcpResource ?? "<base>/mcp"))"
        }
        return forMCP ? "the token was issued for \(mcpResource ?? "the MCP endpoint") and works only there" : nil
    }

    /// Refuses `principal` with a 401 `invalid_token` if its audience does not cover `path`.
    func checkAudience(_ principal: Principal, path: String) throws {
        guard let reason = Self.audienceRefusal(principal, path: path, mcpResource: mcpResource) else { return }
        throw Self.unauthorized(
            code: "invalid_token",
            message: "The access token is not valid for this resource: \(reason).",
            challenge: "error=\"invalid_token\", error_description=\"the token is for another resource\""
        )
    }

    /// Adds `resource_metadata` (RFC 9728 §5.1) to a 401's Bearer challenge.
    func withResourceMetadata<T>(path: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch var error as GatewayError where error.status == .unauthorized {
            if let url = resourceMetadataURL(forPath: path), let challenge = error.headers[.wwwAuthenticate], !challenge.contains("resource_metadata=") {
                let realm = "Bearer realm=\"\(Self.realm)\""
                if challenge.hasPrefix(realm) {
                    error.headers[.wwwAuthenticate] = realm + ", resource_metadata=\"\(url)\"" + challenge.dropFirst(realm.count)
                }
            }
            throw error
        }
    }

    public func authenticate(_ request: Request, context: inout GatewayRequestContext, alternatives: [[SecurityRequirement]]) async throws {
        let path = request.uri.path
        if let asserted = context.replicaForward?.principal {
            // A turn, cancel or answer another replica runs for a principal it authenticated and
            // admitted (its signature verified, ReplicaOriginMiddleware): not admitted a second time.
            context.principal = asserted
            context.logger[metadataKey: "principal"] = .string(asserted.id)
            RequestLogScope.current?.authenticated(as: asserted)
            return
        }
        let principal = try await withResourceMetadata(path: path) { [context] in
            try await authenticatedPrincipal(request, context: context, alternatives: alternatives)
        }
        context.principal = principal.principal
        context.consoleSessionToken = principal.consoleSession
        context.logger[metadataKey: "principal"] = .string(principal.principal.id)
        RequestLogScope.current?.authenticated(as: principal.principal)
        if principal.admit { context.rateLimit.status = try await admit(principal.principal) }
    }

    /// The principal of a request, and whether it is admitted against its rate limits.
    private func authenticatedPrincipal(
        _ request: Request, context: GatewayRequestContext, alternatives: [[SecurityRequirement]]
    ) async throws -> (principal: Principal, admit: Bool, consoleSession: String?) {
        if let token = request.headers[.authorization].flatMap(Self.bearerToken), EngineCredentials.isEngineToken(token) {
            // The engine's model calls: the turn that makes them already counted against the
            // principal's limits, so they are not admitted again.
            return (try enginePrincipal(token, path: request.uri.path, remote: context.channel.remoteAddress), false, nil)
        }
        if let console, let token = Self.consoleSessionToken(request.headers, alternatives: alternatives) {
            return (try await consolePrincipal(request, token: token, console: console), true, token)
        }
        return (try await principal(for: request.headers, alternatives: alternatives, path: request.uri.path), true, nil)
    }

    /// The console session cookie's token when it is the request's only credential and the
    /// operation accepts an API key header (the session stands for a key).
    static func consoleSessionToken(_ headers: HTTPFields, alternatives: [[SecurityRequirement]]) -> String? {
        guard headers[.authorization] == nil else { return nil }
        let apiKeyHeaders = alternatives.flatMap { $0 }.compactMap { requirement -> String? in
            if case .apiKeyHeader(let name) = requirement.kind { return name }
            return nil
        }
        guard !apiKeyHeaders.isEmpty, !apiKeyHeaders.contains(where: { headers.parameter(named: $0) != nil }) else { return nil }
        return ConsoleService.sessionToken(in: headers)
    }

    /// The principal of a console session: only from the gateway's own origin, only with the
    /// session's CSRF token unless the method is GET or HEAD, only while the session and its key last.
    func consolePrincipal(_ request: Request, token: String, console: ConsoleService) async throws -> Principal {
        if let reason = console.crossSiteRefusal(request.headers, authority: request.head.authority) { throw ConsoleService.crossSite(reason) }
        if request.method != .get, request.method != .head,
            !ConsoleService.isValidCSRF(request.headers[ConsoleService.csrfHeader], sessionToken: token)
        {
            throw GatewayError(
                status: .forbidden, code: "csrf_token_invalid",
                message: "A request with the console session must send its CSRF token in X-CSRF-Token (from POST or GET /console/session)."
            )
        }
        guard let (_, principal) = try await console.resolve(token: token) else {
            throw Self.unauthorized(code: "session_expired", message: "The console session has expired or ended (signed out, or its key revoked); sign in again.", challenge: nil)
        }
        return principal
    }

    /// The principal an engine token acts for: only on ``engineOperationPath``, only from loopback,
    /// only while its thread runs a turn.
    func enginePrincipal(_ token: String, path: String, remote: SocketAddress?) throws -> Principal {
        guard let engineCredentials, path == Self.engineOperationPath, EngineCredentials.isLoopback(remote),
            let principal = engineCredentials.principal(forToken: token)
        else {
            throw Self.unauthorized(
                code: "invalid_token",
                message: "The bearer token is not a valid API key or access token.",
                challenge: "error=\"invalid_token\", error_description=\"the token is unknown, expired or revoked\""
            )
        }
        return principal
    }

    /// The token of an `Authorization: Bearer <token>` header value; nil for another scheme.
    static func bearerToken(_ authorization: String) -> String? {
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// Takes one request from the principal's budgets; throws the 429 (`rate_limited`, with
    /// `Retry-After` and the `X-RateLimit-*` headers) when one is exhausted. Returns what the
    /// `X-RateLimit-*` headers of the response should say.
    public func admit(_ principal: Principal) async throws -> RateLimitStatus? {
        guard let rateLimiter else { return nil }
        switch try await rateLimiter.decide(principal) {
        case .allowed(let status):
            return status
        case .refused(let status, let retryAfter):
            var headers = HTTPFields()
            headers[.retryAfter] = String(retryAfter)
            RateLimitHeadersMiddleware.apply(status, to: &headers)
            throw GatewayError(status: .tooManyRequests, code: "rate_limited", message: Self.rateLimitMessage(status, retryAfter: retryAfter), headers: headers)
        }
    }

    /// What a refused request is told: which budget is exhausted and when to retry.
    static func rateLimitMessage(_ status: RateLimitStatus, retryAfter: Int) -> String {
        "Rate limit exceeded: \(status.limit) requests per \(windowName(status)). Retry in \(retryAfter) s."
    }

    private static func windowName(_ status: RateLimitStatus) -> String {
        switch status.window {
        case 60: "minute"
        case 3600: "hour"
        case 86400: "day"
        default: "\(status.window) s"
        }
    }

    /// The principal that `headers` authenticate as, for an operation at `path` accepting
    /// `alternatives`; throws the 401 otherwise. Also used by `/ws`, whose handshake is not a
    /// generated route.
    public func principal(for headers: HTTPFields, alternatives: [[SecurityRequirement]], path: String = "/") async throws -> Principal {
        try await withResourceMetadata(path: path) {
            let principal = try await credentialPrincipal(for: headers, alternatives: alternatives)
            try checkAudience(principal, path: path)
            return principal
        }
    }

    private func credentialPrincipal(for headers: HTTPFields, alternatives: [[SecurityRequirement]]) async throws -> Principal {
        let kinds = Set(alternatives.flatMap { $0.map(\.kind) })
        let acceptsBearer = kinds.contains(.httpBearer) || kinds.contains(.oauth2)
        let apiKeyHeaders = kinds.compactMap { kind -> String? in
            if case .apiKeyHeader(let name) = kind { return name }
            return nil
        }

        let principal: Principal
        if acceptsBearer, let authorization = headers[.authorization] {
            principal = try await bearerPrincipal(authorization)
        } else if let header = apiKeyHeaders.sorted().first(where: { headers.parameter(named: $0) != nil }),
            let key = headers.parameter(named: header)
        {
            guard let found = try await apiKeys.principal(forKey: key) else {
                throw Self.unauthorized(code: "invalid_api_key", message: "The API key in \(header) is not valid.", challenge: nil)
            }
            principal = found
        } else {
            let ways = (apiKeyHeaders.sorted().map { "\($0): <key>" } + (acceptsBearer ? ["Authorization: Bearer <token>"] : []))
                .joined(separator: " or ")
            throw Self.unauthorized(code: "unauthorized", message: "Credentials are required: send \(ways).", challenge: nil)
        }
        return principal
    }

    private func bearerPrincipal(_ authorization: String) async throws -> Principal {
        guard let token = Self.bearerToken(authorization) else {
            throw Self.unauthorized(
                code: "invalid_authorization",
                message: "The Authorization header must be 'Bearer <token>'.",
                challenge: "error=\"invalid_request\", error_description=\"expected the Bearer scheme\""
            )
        }
        return try await tokenPrincipal(token)
    }

    /// The principal a bearer token (an API key or an access token) authenticates as at `path`;
    /// throws the 401 with `error="invalid_token"` otherwise. `/ws` calls it for the
    /// `bearer.<token>` subprotocol.
    public func principal(forBearerToken token: String, path: String = "/") async throws -> Principal {
        try await withResourceMetadata(path: path) {
            let principal = try await tokenPrincipal(token)
            try checkAudience(principal, path: path)
            return principal
        }
    }

    private func tokenPrincipal(_ token: String) async throws -> Principal {
        if let principal = try await apiKeys.principal(forKey: token) {
            return principal
        }
        if let accessTokens, let principal = try await accessTokens.principal(forAccessToken: token) {
            return principal
        }
        throw Self.unauthorized(
            code: "invalid_token",
            message: "The bearer token is not a valid API key or access token.",
            challenge: "error=\"invalid_token\", error_description=\"the token is unknown, expired or revoked\""
        )
    }

    /// Whether the credential `principal` was authenticated by still holds: the key not revoked,
    /// the access token neither revoked nor expired. A store that cannot answer counts as "still
    /// holds" (the next check asks again); `/ws` closes its sockets on a false.
    public func isCurrent(_ principal: Principal) async -> Bool {
        do {
            switch principal.credential {
            case .configuredKey: return true
            case .storedKey(let id): return try await apiKeys.isActive(id: id)
            case .accessToken(let hash): return try await accessTokens?.isCurrent(accessTokenHash: hash) ?? false
            case .engine: return true
            }
        } catch {
            return true
        }
    }

    /// A 401 with the RFC 6750 challenge.
    static func unauthorized(code: String, message: String, challenge: String?) -> GatewayError {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"\(realm)\"" + (challenge.map { ", " + $0 } ?? "")
        return GatewayError(status: .unauthorized, code: code, message: message, headers: headers)
    }
}
