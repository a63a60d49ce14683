import Foundation
import GatewayAPI
import Hummingbird

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
    let jsonRPCDispatcher: JSONRPCDispatcher
    let webhooks: WebhookIntake
    let webSocketTickets: WebSocketTicketStore
    let oauth: OAuthEndpoints
    let relay: OpenAIRelay
    /// For `/whoami`'s `rate_limits`; nil when rate limiting is off.
    let rateLimiter: RateLimiter?

    public init(
        spec: PublishedSpec,
        readiness: ReadinessProbe,
        conversations: ConversationManager,
        webhooks: WebhookIntake,
        webSocketTickets: WebSocketTicketStore,
        oauth: OAuthEndpoints,
        relay: OpenAIRelay,
        rateLimiter: RateLimiter? = nil,
        jsonRPCLimits: JSONRPCDispatcher.Limits = .init()
    ) {
        self.spec = spec
        self.startedAt = .now
        self.readiness = readiness
        self.conversations = conversations
        self.jsonRPCDispatcher = JSONRPCDispatcher(manager: conversations, limits: jsonRPCLimits, rateLimiter: rateLimiter)
        self.webhooks = webhooks
        self.webSocketTickets = webSocketTickets
        self.oauth = oauth
        self.relay = relay
        self.rateLimiter = rateLimiter
    }
}

/// Checks `/ready` runs: each named check answers nil when healthy or a sentence when not.
public struct ReadinessProbe: Sendable {
    public typealias Check = @Sendable () async -> String?

    var checks: [(name: String, check: Check)]

    public init(checks: [(name: String, check: Check)] = []) {
        self.checks = checks
    }

    public func run() async -> [String: String?] {
        var results: [String: String?] = [:]
        for (name, check) in checks { results[name] = await check() }
        return results
    }
}
