import CodexAppServer
import Foundation
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
    /// The Codex engine's child process, when the engine is `codex`.
    public let engineService: (any Service)?
    /// The startup self-test of Codex's sandbox, when the engine is `codex`.
    let sandboxSelfTest: SandboxSelfTest?
    /// The tokens of the Codex engine's model calls (none when the engine is `chat`).
    public let engineCredentials: EngineCredentials
    /// The agent's pending approvals (none when the engine is `chat`).
    public let approvals: ApprovalCenter
    /// Set once the server listens: Codex's provider URL needs the port.
    let listeningPort = CodexEngineSetup.ListeningPort()

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
        modelClient: (any ModelClient)? = nil,
        placement: ReplicaPlacement? = nil
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
        let credentials = EngineCredentials()
        let approvals = ApprovalCenter(timeout: configuration.agent.approvalTimeout, placement: placement)
        self.approvals = approvals
        let engine: any AgentEngine
        if modelClient == nil, let setup = Self.codexEngineSetup(configuration) {
            let codex = try setup.makeEngine(port: listeningPort, credentials: credentials, approvals: approvals, logger: logger)
            engine = codex
            engineService = codex.supervisor
            sandboxSelfTest = setup.sandboxSelfTest(logger: logger)
            logger.info(
                "agent engine: codex",
                metadata: ["engine.binary": .string(setup.binary.path), "engine.workspaces": .string(setup.workspacesRoot), "engine.reason": .string(configuration.agent.engineReason)]
            )
        } else {
            engine = ChatAgentEngine(
                client: client,
                streamMaxRetries: provider.streamMaxRetries,
                retryBudget: configuration.upstreamRetryBudget,
                logger: logger
            )
            engineService = nil
            sandboxSelfTest = nil
            logger.info("agent engine: chat (the model without tools)", metadata: ["engine.reason": .string(configuration.agent.engineReason)])
        }
        self.engineCredentials = credentials
        self.manager = ConversationManager(
            store: store,
            engine: engine,
            credentialsCheck: { if modelClient == nil { try transport.checkCredentials() } },
            defaultModel: codex.model,
            providerID: codex.modelProvider,
            logPrompts: configuration.logUserPrompts,
            logger: logger,
            turnLimiter: turnLimiter,
            maxConcurrentTurns: configuration.agent.maxConcurrentTurns,
            turnTimeout: configuration.agent.turnTimeout,
            placement: placement
        )
    }
}

extension CodexCore {
    /// `/ready`'s advisory checks of the Codex engine: its child runs, its sandbox works.
    var engineChecks: [(name: String, check: ReadinessProbe.Check)] {
        guard let codex = manager.engine as? CodexAgentEngine, let sandbox = sandboxSelfTest else { return [] }
        return [
            ("engine", { await codex.status() }),
            ("sandbox", { sandbox.isWorking ? nil : sandbox.readinessValue }),
        ]
    }

    /// The `codex` engine's setup, or nil for the `chat` engine (configuration's `agent.engine`).
    static func codexEngineSetup(_ configuration: GatewayConfiguration) -> CodexEngineSetup? {
        let agent = configuration.agent
        guard agent.engine == .codex, let binary = agent.codexBinary else { return nil }
        return CodexEngineSetup(binary: binary, gatewayHome: configuration.codexHome, agent: agent, gatewayEnvironment: configuration.environment)
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
