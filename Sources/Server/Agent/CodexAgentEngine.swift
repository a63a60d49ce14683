import CodexAppServer
import Foundation
import GatewayRuntime
import Logging
import ModelProvider
import Synchronization

/// The `codex` engine: each conversation is a thread of the gateway's `codex app-server` child
/// (``AppServerSupervisor``), in a workspace of its own, and each turn is Codex's own agent loop
/// (commands in its sandbox, file edits, approvals), its items streamed in `codex exec --json` shapes.
///
/// Codex's model provider is the gateway's own `/v1/responses` on loopback, with a token from
/// ``EngineCredentials`` that acts for the conversation's owner while its turn runs.
public final class CodexAgentEngine: AgentEngine {
    public var name: String { "codex" }
    /// Codex calls the gateway's `/v1/responses` on loopback (``EngineCredentials``).
    public var modelCallsAreRelayed: Bool { true }
    public var keepsHistory: Bool { true }
    let supervisor: AppServerSupervisor
    let credentials: EngineCredentials
    /// Where the turns' approvals wait for their answers.
    public let approvals: ApprovalCenter
    let router: CodexThreadRouter
    let settings: Settings
    /// Every principal's workspaces (`WORKSPACES_ROOT/<principal>/<name>`).
    let workspaces: WorkspaceResolver
    let logger: Logger
    /// Threads loaded and turns running in each child; decides when one is recycled.
    private let occupancy: EngineOccupancy
    /// The pending recycle of an idle child, replaced whenever a child turns idle again.
    private let idleRecycle = Mutex<Task<Void, Never>?>(nil)

    /// What the engine needs besides the child.
    public struct Settings: Sendable {
        /// The gateway's own base URL for Codex (`http://127.0.0.1:<port>/v1`), read when a thread starts.
        public var providerBaseURL: @Sendable () -> String
        /// The sandbox and approval policy of a turn that names none, and the most a request may ask.
        public var defaultSandbox: SandboxMode
        public var defaultApprovalPolicy: ApprovalPolicy
        public var maxSandbox: SandboxMode
        /// How long a request waits for a child that is (re)starting.
        public var startWait: Duration = .seconds(30)
        /// The longest any request to the child may take.
        public var requestTimeout: Duration = .seconds(60)
        /// `ENGINE_MAX_LOADED_THREADS`: an idle child with more threads loaded is recycled.
        public var maxLoadedThreads = 64
        /// `ENGINE_IDLE_RECYCLE_SECONDS`: a child idle this long with threads loaded is recycled; nil never.
        public var idleRecycle: Duration? = .seconds(900)

        public init(providerBaseURL: @escaping @Sendable () -> String, defaultSandbox: SandboxMode, defaultApprovalPolicy: ApprovalPolicy, maxSandbox: SandboxMode) {
            self.providerBaseURL = providerBaseURL
            self.defaultSandbox = defaultSandbox
            self.defaultApprovalPolicy = defaultApprovalPolicy
            self.maxSandbox = maxSandbox
        }
    }

    /// The engine and the service that runs its child (add it to the application's services).
    public init(
        launch: AppServerLaunch,
        settings: Settings,
        workspaces: WorkspaceResolver,
        credentials: EngineCredentials,
        approvals: ApprovalCenter,
        logger: Logger
    ) {
        self.workspaces = workspaces
        let router = CodexThreadRouter(logger: logger)
        let occupancy = EngineOccupancy(limits: .init(maxLoadedThreads: settings.maxLoadedThreads, idleRecycle: settings.idleRecycle))
        self.occupancy = occupancy
        self.router = router
        self.credentials = credentials
        self.approvals = approvals
        self.settings = settings
        self.logger = logger
        self.supervisor = AppServerSupervisor(launch: launch, logger: logger) { session in
            await router.serve(session)
            credentials.forget(generation: session.generation)
            occupancy.forget(generation: session.generation)
        }
    }

    /// nil when a child runs, else why not (for `/ready`).
    func status() async -> String? {
        do {
            _ = try await supervisor.session(waitingUpTo: .milliseconds(100))
            return nil
        } catch {
            return String(describing: error)
        }
    }

    public func check(_ options: TurnOptions, isNewConversation: Bool) throws {
        _ = try policy(options)
        if let workspace = options.workspace { _ = try refused { () throws(TurnPolicyError) in try WorkspaceResolver.components(ofName: workspace) } }
    }

    /// The sandbox and approval policy a turn runs with: what it asked (checked), else the defaults.
    private func policy(_ options: TurnOptions) throws -> TurnPolicy {
        let sandbox = try refused { () throws(TurnPolicyError) in
            try AgentPolicy.checkSandbox(options.sandbox, default: settings.defaultSandbox, cap: settings.maxSandbox)
        }
        return TurnPolicy(sandbox: sandbox, approval: options.approvalPolicy ?? settings.defaultApprovalPolicy)
    }

    private struct TurnPolicy {
        var sandbox: SandboxMode
        var approval: ApprovalPolicy
    }

    /// `body`'s value, its refusal as the ``ConversationError`` every front end answers.
    private func refused<T>(_ body: () throws(TurnPolicyError) -> T) throws(ConversationError) -> T {
        do {
            return try body()
        } catch {
            throw .policy(error)
        }
    }

    public func startConversation(_ plan: ConversationManager.TurnPlan) async throws -> EngineConversation? {
        let policy = try policy(plan.options)
        let owner = plan.owner ?? "gateway"
        // A workspace the request names is the thread's `cwd` from the start; one named after the
        // thread can only be made once the thread exists, so that thread starts in the principal's
        // directory. Either way it starts with no environment: Codex snapshots the login shell of
        // each environment's directory (a `bash -lc` running the profile), and the first turn names
        // the workspace's, so a new conversation pays one snapshot, as a client that knew its
        // directory beforehand would (bench/RESULTS.md, "Agent turns").
        let named = try plan.options.workspace.map { name in
            try refused { () throws(TurnPolicyError) in try workspaces.resolve(workspace: name, conversationID: "", owner: owner) }
        }
        let home = try named ?? refused { () throws(TurnPolicyError) in try workspaces.principalDirectory(owner: owner) }
        // The child is held from here until the thread's first turn ends: Codex cannot resume a
        // thread that has had no turn, so it must not be recycled in between.
        let session = try await self.session { occupancy.hold($0.generation) }
        let token = credentials.issue(for: plan.principal, generation: session.generation)
        let started: AppServer.ThreadStartResponse
        do {
            started = try await session.send(
                AppServer.ThreadStartParams(
                    cwd: home,
                    approvalPolicy: Self.wire(policy.approval),
                    sandbox: Self.wire(policy.sandbox),
                    model: plan.model,
                    config: threadConfig(token: token),
                    environments: []
                ),
                timeout: settings.requestTimeout
            )
        } catch {
            release(session.generation)
            throw error
        }
        let id = started.thread.id.lowercased()
        credentials.bind(token, to: id)
        occupancy.awaitFirstTurn(id, generation: session.generation)
        let workspace = try named ?? refused { () throws(TurnPolicyError) in
            try workspaces.resolve(workspace: nil, conversationID: id, owner: owner)
        }
        logger.info("codex.thread_starts", metadata: ["conversation.id": .string(id), "workspace": .string(workspace)])
        return EngineConversation(id: id, workspace: workspace)
    }

    public func runTurn(_ turn: AgentTurn, emit: @escaping @Sendable (TurnEvent) -> Void) async throws -> AgentTurnResult {
        guard let workspace = turn.workspace else {
            throw AgentTurnError("This conversation was started by the chat engine and has no workspace; start a new one.")
        }
        let id = turn.conversationID
        let policy = try policy(turn.plan.options)
        let session = try await self.session { occupancy.enter(id, generation: $0.generation) }
        defer { release(session.generation) }
        try await load(id, in: session, plan: turn.plan, workspace: workspace, policy: policy)
        let messages = router.open(threadID: id, session: session)
        defer { router.close(threadID: id) }
        credentials.turnStarted(threadID: id)
        defer { credentials.turnEnded(threadID: id) }

        let started = try await session.send(
            AppServer.TurnStartParams(
                threadId: id,
                input: [.text(turn.plan.prompt)],
                cwd: workspace,
                approvalPolicy: Self.wire(policy.approval),
                sandboxPolicy: Self.sandboxPolicy(policy.sandbox),
                model: turn.plan.model,
                outputSchema: turn.plan.outputSchema,
                environments: [AppServer.TurnEnvironment(cwd: workspace)]
            ),
            timeout: settings.requestTimeout
        )
        let turnID = started.turn.id
        let reader = try await turn.signal.race { [messages] in
            try await withTaskCancellationHandler {
                var reader = CodexTurnReader(threadID: id, turnID: turnID, approvals: self.approvals, owner: turn.plan.owner, emit: emit)
                for await message in messages {
                    if try await reader.read(message, session: session) { return reader }
                }
                throw AgentTurnError("The Codex engine stopped during the turn; the next turn resumes the conversation.")
            } onCancel: {
                self.interrupt(threadID: id, turnID: turnID, session: session)
            }
        }
        return try reader.result()
    }

    /// Asks the child to stop the turn and whatever it runs; bounded, never awaited by the caller.
    func interrupt(threadID: String, turnID: String, session: AppServerSession) {
        let timeout = settings.requestTimeout
        let logger = logger
        Task {
            do {
                _ = try await session.send(AppServer.TurnInterruptParams(threadId: threadID, turnId: turnID), timeout: timeout)
                _ = try await session.send(AppServer.ThreadBackgroundTerminalsCleanParams(threadId: threadID), timeout: timeout)
            } catch {
                logger.warning("interrupting a Codex turn failed", metadata: ["conversation.id": .string(threadID), "error.message": .string(String(describing: error))])
            }
        }
    }

    /// Resumes thread `id` in `session`'s child unless it is loaded there (a child that restarted
    /// has none loaded), with a new token and the turn's policy (resume does not restore it).
    private func load(
        _ id: String,
        in session: AppServerSession,
        plan: ConversationManager.TurnPlan,
        workspace: String,
        policy: TurnPolicy
    ) async throws {
        if occupancy.contains(id, generation: session.generation) { return }
        let token = credentials.issue(for: plan.principal, generation: session.generation)
        credentials.bind(token, to: id)
        _ = try await session.send(
            AppServer.ThreadResumeParams(
                threadId: id,
                overrides: AppServer.ThreadStartParams(
                    cwd: workspace,
                    approvalPolicy: Self.wire(policy.approval),
                    sandbox: Self.wire(policy.sandbox),
                    model: plan.model,
                    config: threadConfig(token: token)
                )
            ),
            timeout: settings.requestTimeout
        )
        occupancy.add(id, generation: session.generation)
    }

    /// The running child, once `admit` lets the caller in: a child being recycled is skipped for
    /// its successor. Waits at most `startWait` in all.
    private func session(admittedBy admit: (AppServerSession) -> Bool) async throws -> AppServerSession {
        let deadline = ContinuousClock.now + settings.startWait
        while true {
            let session = try await supervisor.session(waitingUpTo: max(.zero, deadline - .now))
            if admit(session) { return session }
            guard ContinuousClock.now < deadline else {
                throw AppServerError.unavailable("the Codex engine is restarting; try again")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A turn (or a thread start) let go of the child of `generation`: recycles it when it is
    /// idle and holds too many threads, or once it has stayed idle for `idleRecycle`.
    private func release(_ generation: Int) {
        switch occupancy.leave(generation) {
        case .keep:
            break
        case .recycle:
            logger.info("codex.engine_recycles", metadata: ["engine.generation": .stringConvertible(generation), "engine.reason": .string("too many loaded threads")])
            supervisor.recycle(generation: generation)
        case .recycleIfIdle(let delay, let epoch):
            let timer = Task { [occupancy, supervisor, logger] in
                guard (try? await Task.sleep(for: delay)) != nil, occupancy.stillIdle(generation: generation, epoch: epoch) else { return }
                logger.info("codex.engine_recycles", metadata: ["engine.generation": .stringConvertible(generation), "engine.reason": .string("idle")])
                supervisor.recycle(generation: generation)
            }
            idleRecycle.withLock { $0?.cancel(); $0 = timer }
        }
    }

    private func threadConfig(token: String) -> [String: JSONValue] {
        [
            "model_provider": .string("codex-gateway"),
            "model_providers.codex-gateway.name": .string("Codex Gateway"),
            "model_providers.codex-gateway.base_url": .string(settings.providerBaseURL()),
            "model_providers.codex-gateway.wire_api": .string("responses"),
            "model_providers.codex-gateway.experimental_bearer_token": .string(token),
        ]
    }

    /// Codex 0.147 has no `on-failure` (it refuses the word): it asks when a command fails to run
    /// sandboxed either way, as `on-request` does.
    static func wire(_ policy: ApprovalPolicy) -> AppServer.AskForApproval {
        switch policy {
        case .never: .never
        case .onRequest, .onFailure: .onRequest
        case .untrusted: .untrusted
        }
    }

    static func wire(_ mode: SandboxMode) -> AppServer.SandboxMode {
        switch mode {
        case .readOnly: .readOnly
        case .workspaceWrite: .workspaceWrite
        case .dangerFullAccess: .dangerFullAccess
        }
    }

    static func sandboxPolicy(_ mode: SandboxMode) -> AppServer.SandboxPolicy {
        switch mode {
        case .readOnly: .readOnly(networkAccess: false)
        case .dangerFullAccess: .dangerFullAccess
        case .workspaceWrite: .workspaceWrite(.init())
        }
    }
}
