import AsyncHTTPClient
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The Codex core's parts, built from configuration: conversation store, model client and the
/// conversation manager, plus the service that owns the outbound HTTP client's lifetime.
public struct CodexCore: Sendable {
    public let store: RolloutConversationStore
    public let manager: ConversationManager
    /// The configured provider's HTTP side, which the OpenAI-compatible relay uses directly.
    public let transport: ProviderTransport
    /// The configured model, for requests that name none.
    public let defaultModel: String
    /// Shuts the outbound HTTP client down when the application stops.
    public let httpClientService: HTTPClientService

    /// `tracing`: give each provider request a span for the bootstrapped tracer. Off, the client
    /// makes no spans at all (AsyncHTTPClient otherwise fills span attributes for the no-op tracer,
    /// about 3 % of a relayed request's CPU).
    public init(configuration: GatewayConfiguration, logger: Logger, turnLimiter: RateLimiter? = nil, tracing: Bool = false) throws {
        // The store first: an unwritable CODEX_HOME must stop startup before anything is opened.
        let store = try RolloutConversationStore(codexHome: configuration.codexHome, logger: logger, cacheBytes: configuration.conversationCacheBytes)
        let codex = configuration.codex
        let provider = codex.provider
        var clientConfiguration = HTTPClient.Configuration()
        // No read timeout: stream_idle_timeout_ms is kept by each request's UpstreamExchange,
        // which costs a clock read per chunk where the client's read timeout re-schedules a timer.
        // Getting a connection (connecting, or waiting for a free one) has up to 10 s, or the idle
        // timeout if shorter; then the request fails with the reason (refused, unreachable...).
        let idleTimeout = TimeAmount.milliseconds(Int64(provider.streamIdleTimeoutMilliseconds))
        clientConfiguration.timeout = .init(connect: min(.seconds(10), idleTimeout))
        // A connection that fails fails its request at once, instead of AsyncHTTPClient trying
        // again until the connect timeout: ProviderTransport decides what to retry, within the
        // request's retry budget, and a refused connection is not retried at all.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        if !tracing { clientConfiguration.tracing.tracer = nil }
        // UPSTREAM_MAX_CONNECTIONS in all, shared out between the event loops' pools.
        let clients = UpstreamHTTPClients(
            configuration: clientConfiguration, maximumConnections: configuration.upstreamMaxConnections, splice: configuration.upstreamSplice)
        let transport = ProviderTransport(provider: provider, clients: clients, environment: configuration.environment, logger: logger)
        let client: any ModelClient =
            switch provider.wireAPI {
            case .chat: ChatCompletionsClient(transport: transport, logger: logger)
            case .responses: ResponsesClient(transport: transport, logger: logger)
            }
        self.store = store
        self.transport = transport
        self.defaultModel = codex.model
        self.httpClientService = HTTPClientService(clients: clients)
        self.manager = ConversationManager(
            store: store,
            client: client,
            credentialsCheck: { try transport.checkCredentials() },
            defaultModel: codex.model,
            providerID: codex.modelProvider,
            streamMaxRetries: provider.streamMaxRetries,
            retryBudget: configuration.upstreamRetryBudget,
            logPrompts: configuration.logUserPrompts,
            logger: logger,
            turnLimiter: turnLimiter
        )
    }
}

/// Keeps the outbound HTTP clients alive while the application runs and shuts them down on the way out.
public struct HTTPClientService: Service {
    public let clients: UpstreamHTTPClients

    public func run() async throws {
        try? await gracefulShutdown()
        try await clients.shutdown()
    }
}
