import Logging
import ModelProvider
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
    ///
    /// `modelClient`: the model turns talk to, instead of the configured provider's (tests use
    /// ``InMemoryModelClient``); the relay still uses the provider.
    public init(
        configuration: GatewayConfiguration,
        logger: Logger,
        turnLimiter: RateLimiter? = nil,
        tracing: Bool = false,
        modelClient: (any ModelClient)? = nil
    ) throws {
        // The store first: an unwritable CODEX_HOME must stop startup before anything is opened.
        let store = try RolloutConversationStore(codexHome: configuration.codexHome, logger: logger, cacheBytes: configuration.conversationCacheBytes)
        let codex = configuration.codex
        let provider = codex.provider
        // Getting a connection (connecting, or waiting for a free one) has up to 10 s, or the
        // idle timeout if shorter; then the request fails with the reason (refused, unreachable...).
        let http = ProviderHTTPClient(
            connectTimeout: min(.seconds(10), .milliseconds(Int64(provider.streamIdleTimeoutMilliseconds))),
            maximumConnections: configuration.upstreamMaxConnections,
            trust: configuration.providerTrust,
            tracing: tracing
        )
        let transport = ProviderTransport(provider: provider, http: http, environment: configuration.environment, logger: logger)
        let client: any ModelClient =
            if let modelClient { modelClient } else {
                switch provider.wireAPI {
                case .chat: ChatCompletionsClient(transport: transport, logger: logger)
                case .responses: ResponsesClient(transport: transport, logger: logger)
                }
            }
        self.store = store
        self.transport = transport
        self.defaultModel = codex.model
        self.httpClientService = HTTPClientService(http: http)
        self.manager = ConversationManager(
            store: store,
            client: client,
            credentialsCheck: { if modelClient == nil { try transport.checkCredentials() } },
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
    public let http: ProviderHTTPClient

    public func run() async throws {
        try? await gracefulShutdown()
        try await http.shutdown()
    }
}
