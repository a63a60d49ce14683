import GatewayAPI
import GatewayRuntime
import Hummingbird
import Logging
import ModelProvider
import ServiceLifecycle
import UnixSignals

/// Builds the gateway application: router, middleware, generated routes and services.
///
/// - Parameters:
///   - configuration: validated configuration.
///   - logger: the root logger; requests get children of it.
///   - onServerRunning: called with the bound port once the server listens (tests bind port 0).
///   - tracing: add a span per request (`TracingMiddleware`) for the bootstrapped tracer.
public func buildApplication(
    configuration: GatewayConfiguration,
    logger: Logger,
    tracing: Bool = false,
    modelClient: (any ModelClient)? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    reportStartupWarnings(configuration: configuration, logger: logger)
    GatewayMetrics.bootstrap()
    let stores = try GatewayStores.open(configuration: configuration, logger: logger)
    let rateLimiter = RateLimiter(defaults: configuration.rateLimits, shared: stores.rateLimits)
    // With REPLICA_URL, conversations (and their approvals) are recorded as living here, and
    // requests for those living on another replica are sent there (PROTOCOLS.md §12).
    let placement = configuration.replicaURL.map { ReplicaPlacement(homes: stores.conversationHomes, replicaURL: $0, logger: logger) }
    let core: CodexCore
    do {
        core = try CodexCore(
            configuration: configuration, logger: logger, turnLimiter: rateLimiter, tracing: tracing, modelClient: modelClient, placement: placement)
    } catch {
        try? await stores.close()
        throw error
    }
    let router = Router(context: GatewayRequestContext.self)
    let activity = IdleMemoryTrimmer.Activity()
    router.add(middleware: ContentTypeOptionsMiddleware())
    router.add(middleware: RequestIDMiddleware(activity: activity))
    // Request counts and latency by route template (`http.route`); see RequestMetricsMiddleware.
    router.add(middleware: RequestMetricsMiddleware(operations: OperationTable.all))
    if tracing { router.add(middleware: TracingMiddleware()) }
    router.add(middleware: AccessLogMiddleware(operations: OperationTable.all))
    router.add(middleware: CORSMiddleware(policy: configuration.corsAllowedOrigins, excludedPaths: ["/oauth/authorize"]))
    router.add(middleware: RateLimitHeadersMiddleware())
    router.add(middleware: ErrorMiddleware(operations: OperationTable.all))
    let credentialThrottle = CredentialFailureThrottle(budgetPerMinute: configuration.authFailureBudgetPerMinute)
    let replicaSignature: @Sendable () throws -> ReplicaSignature = { ReplicaSignature(secret: try stores.replicaSecret()) }
    // Before the throttle: a sign-in forwarded by another replica counts against its client's address.
    if placement != nil { router.add(middleware: ReplicaOriginMiddleware(signature: replicaSignature)) }
    router.add(middleware: CredentialThrottleMiddleware(throttle: credentialThrottle))
    router.add(middleware: PageSecurityMiddleware())
    var replicaClient: ReplicaClient?
    if let placement {
        let client = ReplicaClient(signature: replicaSignature, logger: logger)
        let largestBody = OperationTable.all.compactMap(\.bodyLimit).reduce(configuration.defaultBodyLimit, max)
        router.add(middleware: ReplicaRoutingMiddleware(placement: placement, client: client, bodyLimit: largestBody))
        // What the WebSocket and MCP ask of conversations homed elsewhere is done there.
        core.manager.forwardElsewhere(with: RemoteConversations(placement: placement, client: client, logger: logger))
        replicaClient = client
    }

    var webhookSettings = WebhookService.Settings(secret: configuration.webhookSecret)
    webhookSettings.callbackMaxAttempts = configuration.webhookCallbackMaxAttempts
    webhookSettings.callbackRetryBase = .milliseconds(Int64(configuration.webhookCallbackRetrySeconds * 1000))
    webhookSettings.callbackConcurrency = configuration.webhookCallbackConcurrency
    webhookSettings.callbackPerHost = configuration.webhookCallbackPerHost
    webhookSettings.lease = configuration.webhookLease
    webhookSettings.home = configuration.replicaURL
    let webhookStore = stores.webhooks
    // Every URL fetched on a caller's behalf goes through this client and its policy.
    let outboundPolicy = OutboundPolicy(allowPrivate: configuration.outboundAllowPrivate)
    let outbound = OutboundHTTPClient(policy: outboundPolicy, logger: logger)
    let webhookService = WebhookService(
        store: webhookStore,
        conversations: core.manager,
        outbound: outbound,
        settings: webhookSettings,
        logger: logger
    )

    // API keys: GATEWAY_API_KEY, then those created with `codex-gateway keys create`.
    let apiKeys = CompositeAPIKeyStore([stores.configuredKeys, stores.apiKeys])
    // Usage per key, budgets and allowlists (PROTOCOLS.md §13): every model call is metered, by
    // the relay or, for the chat engine, by the conversation manager.
    let usage = UsageLedger(
        store: stores.usage,
        defaults: .init(
            tokensPerDay: configuration.tokenBudgetPerDay,
            tokensPerMonth: configuration.tokenBudgetPerMonth,
            isConfiguredKey: stores.isConfiguredKey(configuration.apiKeys)
        ),
        logger: logger
    )
    core.manager.meter(with: usage)
    let oauthStore = stores.oauth
    switch stores.backend {
    case .sqlite:
        try await registerConfiguredOAuthClient(configuration: configuration, store: oauthStore, logger: logger)
    case .postgres:
        // The database may not answer yet: registered as soon as it does.
        Task {
            while true {
                do {
                    try await stores.waitUntilReady(timeout: .seconds(3600))
                    try await registerConfiguredOAuthClient(configuration: configuration, store: oauthStore, logger: logger)
                    return
                } catch {
                    try? await Task.sleep(for: .seconds(2))
                }
            }
        }
    }
    let oauth = OAuthService(
        store: oauthStore, settings: configuration.oauthSettings, logger: logger,
        metadataDocuments: ClientMetadataDocumentClient(outbound: outbound, settings: configuration.clientMetadataDocuments, logger: logger)
    )
    let console = ConsoleService(store: stores.consoleSessions, apiKeys: apiKeys, publicBaseURL: configuration.publicBaseURL)
    router.add(middleware: ConsoleRequestMiddleware(service: console))
    let authenticator = GatewayAuthenticator(
        apiKeys: apiKeys, accessTokens: oauth, rateLimiter: rateLimiter, engineCredentials: core.engineCredentials,
        publicBaseURL: configuration.publicBaseURL, console: console
    )

    // WebSocket: GET /ws is upgraded by the server itself (WebSocketController.serverBuilder);
    // the route answers handshakes it refused. POST /ws/ticket issues the browser tickets.
    let webSocketTickets = stores.webSocketTickets
    var webSocketSettings = WebSocketController.Settings()
    webSocketSettings.idleTimeout = configuration.webSocketIdleTimeout
    webSocketSettings.credentialCheckInterval = configuration.webSocketCredentialCheckInterval
    webSocketSettings.activity = activity
    let webSocket = WebSocketController(conversations: core.manager, approvals: core.approvals, authenticator: authenticator, tickets: webSocketTickets, settings: webSocketSettings)
    webSocket.registerRoutes(on: router)

    let store = core.store
    let providerReachability = ProviderReachability(transport: core.transport)
    let providerCheck: ReadinessProbe.Check = { await providerReachability.check() }
    let backgroundTurns = BackgroundTurnService(manager: core.manager, logger: logger)
    let handlers = GatewayHandlers(
        spec: try PublishedSpec(publicBaseURL: configuration.publicBaseURL),
        readiness: ReadinessProbe(checks: [
            ("configuration", { nil }),
            ("conversation_store", { await store.isWritable() ? nil : "CODEX_HOME/sessions is not writable" }),
            ("database", { await stores.problem() }),
            ], advisory: [("provider", providerCheck)] + core.engineChecks,
            engine: core.manager.engine.name,
            sandbox: { [sandbox = core.sandboxSelfTest] in sandbox?.readinessValue ?? "not used: the chat engine runs no commands" }
        ),
        conversations: core.manager,
        approvals: core.approvals,
        webhooks: WebhookIntake(
            store: webhookStore,
            signatures: stores.webhookSignatures,
            service: webhookService,
            secret: configuration.webhookSecret,
            tolerance: configuration.webhookTolerance,
            outbound: outboundPolicy
        ),
        webSocketTickets: webSocketTickets,
        oauth: OAuthEndpoints(
            service: oauth, apiKeys: apiKeys, throttle: credentialThrottle,
            registrations: CredentialFailureThrottle(budgetPerMinute: configuration.oauthRegistrationsPerMinute)
        ),
        relay: OpenAIRelay(transport: core.transport, defaultModel: core.defaultModel, turnLimiter: rateLimiter, usage: usage),
        rateLimiter: rateLimiter,
        jsonRPCLimits: .init(maxBatch: configuration.jsonRPCMaxBatch, maxResponseBytes: configuration.jsonRPCMaxResponseBytes),
        conversationTurns: ConversationTurns(service: backgroundTurns, wait: configuration.agent.gptTurnWait),
        mcpMaxSessions: configuration.mcpMaxSessions,
        mcpSessionIdleTimeout: configuration.mcpSessionIdleTimeout,
        console: ConsoleEndpoints(service: console, throttle: credentialThrottle),
        logger: logger
    )
    handlers.registerRoutes(
        on: router,
        security: authenticator,
        options: RouteOptions(defaultBodyLimit: configuration.defaultBodyLimit)
    )
    // Stopped in reverse order: the webhook worker, then the database, then the HTTP clients.
    var services: [any Service] = [core.httpClientService, outbound]
    if let replicaClient { services.append(replicaClient) }
    services.append(stores.service)
    if let engine = core.engineService { services.append(engine) }
    if let sandbox = core.sandboxSelfTest { services.append(sandbox) }
    services += [webhookService, backgroundTurns, IdleMemoryTrimmer(activity: activity)]
    return Application(
        router: router,
        server: webSocket.serverBuilder(timeouts: configuration.httpTimeouts),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "codex-gateway"),
        services: services,
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            core.listeningPort.set(port)
            logger.info("codex-gateway started", metadata: configuration.startupMetadata(listeningPort: port))
            await onServerRunning(port)
        },
        logger: logger
    )
}

/// `OAUTH_CLIENT_ID`/`OAUTH_CLIENT_SECRET` (the seed's ChatGPT client) become a registered client,
/// with `OAUTH_REDIRECT_URIS` as its exact redirect URIs.
func registerConfiguredOAuthClient(configuration: GatewayConfiguration, store: any OAuthStore, logger: Logger) async throws {
    guard let clientID = configuration.oauthClientID, let secret = configuration.oauthClientSecret else { return }
    try await store.upsertClient(
        clientID: clientID,
        secret: secret,
        name: "ChatGPT",
        redirectURIs: configuration.oauthRedirectURIs,
        source: "environment"
    )
    logger.info("OAuth client registered from the environment", metadata: ["oauth.client_id": .string(clientID)])
}

/// Things that are allowed but that an operator should know about at once.
func reportStartupWarnings(configuration: GatewayConfiguration, logger: Logger) {
    if configuration.apiKeys.isEmpty {
        logger.warning("GATEWAY_API_KEY is not set: every authenticated operation will answer 401 until a key is configured")
    }
    let provider = configuration.codex.provider
    if let envKey = provider.envKey, (configuration.environmentValue(envKey) ?? "").isEmpty {
        logger.warning(
            "the model provider's API key is not set; model calls will fail until it is",
            metadata: ["provider": .string(configuration.codex.modelProvider), "variable": .string(envKey)]
        )
    }
}

/// Runs the gateway until SIGTERM or SIGINT, then drains in-flight requests.
///
/// `services` run beside it and stop after it (telemetry exporters flush what the shutdown logged).
public func runGateway(configuration: GatewayConfiguration, logger: Logger, tracing: Bool = false, services: [any Service] = []) async throws {
    let app = try await buildApplication(configuration: configuration, logger: logger, tracing: tracing)
    var groupConfiguration = ServiceGroupConfiguration(services: services + [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGracePeriod
    let group = ServiceGroup(configuration: groupConfiguration)
    // Every task of the server (connections, handlers, relayed bodies) then runs on the event loop
    // that does its I/O, without hand-offs to the global pool: see EventLoopTaskExecutor.
    try await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) {
        try await group.run()
    }
}
