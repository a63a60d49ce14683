import Foundation
import GatewayAPI
import Hummingbird
import Logging

/// The implementation of `APIProtocol`: thin adapters from typed input to services and back.
///
/// One extension per area (`GatewayHandlers+Meta.swift`, …). Every method returns a case of its
/// operation's `Output`, so it cannot answer anything `openapi.yaml` does not document.
public struct GatewayHandlers: APIProtocol {
    public typealias Context = GatewayRequestContext

    let spec: PublishedSpec
    let startedAt: ContinuousClock.Instant
    let readiness: ReadinessProbe
    let conversations: ConversationManager
    /// The agent's pending approvals.
    let approvals: ApprovalCenter
    let jsonRPCDispatcher: JSONRPCDispatcher
    let webhooks: WebhookIntake
    let webSocketTickets: any WebSocketTicketStore
    let oauth: OAuthEndpoints
    let relay: OpenAIRelay
    /// For `/whoami`'s `rate_limits`; nil when rate limiting is off.
    let rateLimiter: RateLimiter?
    /// `/mcp`: the MCP server and its sessions.
    let mcpDispatcher: MCPDispatcher
    /// Turns of the named conversation operations, which may outlive their request.
    let conversationTurns: ConversationTurns
    /// The browser console's sessions; nil answers its session endpoints 404 (tests without a database).
    let console: ConsoleEndpoints?

    public init(
        spec: PublishedSpec,
        readiness: ReadinessProbe,
        conversations: ConversationManager,
        approvals: ApprovalCenter = ApprovalCenter(),
        webhooks: WebhookIntake,
        webSocketTickets: any WebSocketTicketStore,
        oauth: OAuthEndpoints,
        relay: OpenAIRelay,
        rateLimiter: RateLimiter? = nil,
        jsonRPCLimits: JSONRPCDispatcher.Limits = .init(),
        conversationTurns: ConversationTurns,
        mcpMaxSessions: Int = 1000,
        mcpSessionIdleTimeout: Duration = .seconds(3600),
        console: ConsoleEndpoints? = nil,
        logger: Logger = Logger(label: "codex-gateway")
    ) {
        self.spec = spec
        self.startedAt = .now
        self.readiness = readiness
        self.conversations = conversations
        self.approvals = approvals
        self.jsonRPCDispatcher = JSONRPCDispatcher(manager: conversations, approvals: approvals, limits: jsonRPCLimits, rateLimiter: rateLimiter)
        self.webhooks = webhooks
        self.webSocketTickets = webSocketTickets
        self.oauth = oauth
        self.relay = relay
        self.rateLimiter = rateLimiter
        self.mcpDispatcher = MCPDispatcher(manager: conversations, approvals: approvals, limits: .init(maxSessions: mcpMaxSessions, idleTimeout: mcpSessionIdleTimeout), logger: logger)
        self.conversationTurns = conversationTurns
        self.console = console
    }
}

/// Checks `/ready` runs: each named check answers nil when healthy or a sentence when not.
///
/// A failed `required` check makes the gateway not ready (503); a failed `advisory` check (the
/// model provider) only makes it degraded (200): taking every replica out of a load balancer
/// because their shared provider is down helps no caller.
public struct ReadinessProbe: Sendable {
    public typealias Check = @Sendable () async -> String?

    var checks: [(name: String, check: Check)]
    var advisory: [(name: String, check: Check)]
    /// The agent engine's name (`codex` or `chat`).
    var engine: String
    /// What `/ready` says of the command sandbox.
    var sandbox: @Sendable () -> String

    public init(
        checks: [(name: String, check: Check)] = [],
        advisory: [(name: String, check: Check)] = [],
        engine: String = "chat",
        sandbox: @escaping @Sendable () -> String = { "not used: the chat engine runs no commands" }
    ) {
        self.checks = checks
        self.advisory = advisory
        self.engine = engine
        self.sandbox = sandbox
    }

    /// Every check's outcome by name: nil when it passed, else what failed.
    public struct Results: Sendable {
        public var required: [String: String?]
        public var advisory: [String: String?]
    }

    public func run() async -> Results {
        async let advisoryResults = Self.run(advisory)
        return Results(required: await Self.run(checks), advisory: await advisoryResults)
    }

    private static func run(_ checks: [(name: String, check: Check)]) async -> [String: String?] {
        var results: [String: String?] = [:]
        for (name, check) in checks { results[name] = await check() }
        return results
    }
}
