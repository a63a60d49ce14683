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
    let supervisor: AppServerSupervisor
    let credentials: EngineCredentials
    /// Where the turns' approvals wait for their answers.
    public let approvals: ApprovalCenter
    let router: CodexThreadRouter
    let settings: Settings
    let logger: Logger
    /// Threads loaded in the running child.
    private let loaded: LoadedThreads

    /// What the engine needs besides the child.
    public struct Settings: Sendable {
        /// Where every principal's workspaces live.
        public var workspacesRoot: String
        /// The gateway's own base URL for Codex (`http://127.0.0.1:<port>/v1`), read when a thread starts.
        public var providerBaseURL: @Sendable () -> String
        /// The sandbox and approval policy of a turn that names none.
        public var defaultSandbox: String
        public var defaultApprovalPolicy: String
        /// The most a request may ask for.
        public var maxSandbox: String
        /// How long a request waits for a child that is (re)starting.
        public var startWait: Duration = .seconds(30)
        /// The longest any request to the child may take.
        public var requestTimeout: Duration = .seconds(60)
        /// The longest a turn may run.
        public var turnTimeout: Duration = .seconds(1800)

        public init(
            workspacesRoot: String,
            providerBaseURL: @escaping @Sendable () -> String,
            defaultSandbox: String = "workspace-write",
            defaultApprovalPolicy: String = "on-request",
            maxSandbox: String = "workspace-write"
        ) {
            self.workspacesRoot = workspacesRoot
            self.providerBaseURL = providerBaseURL
            self.defaultSandbox = defaultSandbox
            self.defaultApprovalPolicy = defaultApprovalPolicy
            self.maxSandbox = maxSandbox
        }
    }

    /// The engine and the service that runs its child (add it to the application's services).
    public init(launch: AppServerLaunch, settings: Settings, credentials: EngineCredentials, approvals: ApprovalCenter, logger: Logger) {
        let router = CodexThreadRouter(logger: logger)
        let loaded = LoadedThreads()
        self.loaded = loaded
        self.router = router
        self.credentials = credentials
        self.approvals = approvals
        self.settings = settings
        self.logger = logger
        self.supervisor = AppServerSupervisor(launch: launch, logger: logger) { session in
            await router.serve(session)
            credentials.forget(generation: session.generation)
            loaded.forget(generation: session.generation)
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

    static let sandboxOrder = ["read-only", "workspace-write", "danger-full-access"]
    static let approvalPolicies = ["never", "on-request", "on-failure", "untrusted"]

    public func check(_ options: TurnOptions, isNewConversation: Bool) throws {
        if let sandbox = options.sandbox {
            guard let rank = Self.sandboxOrder.firstIndex(of: sandbox) else {
                throw ConversationError.invalidPrompt("sandbox must be one of \(Self.sandboxOrder.joined(separator: ", ")).")
            }
            guard rank <= Self.sandboxOrder.firstIndex(of: settings.maxSandbox) ?? 1 else {
                throw ConversationError.invalidPrompt("sandbox '\(sandbox)' is above what this gateway allows (\(settings.maxSandbox)).")
            }
        }
        if let policy = options.approvalPolicy, !Self.approvalPolicies.contains(policy) {
            throw ConversationError.invalidPrompt("approval_policy must be one of \(Self.approvalPolicies.joined(separator: ", ")).")
        }
        if let workspace = options.workspace {
            _ = try WorkspaceName(workspace)
        }
    }

    public func startConversation(_ plan: ConversationManager.TurnPlan) async throws -> EngineConversation? {
        let session = try await supervisor.session(waitingUpTo: settings.startWait)
        let home = try principalDirectory(plan.owner)
        let token = credentials.issue(for: plan.principal, generation: session.generation)
        let started = try await session.request(
            "thread/start",
            params: ThreadStartParams(
                cwd: home,
                approvalPolicy: Self.wireApprovalPolicy(plan.options.approvalPolicy ?? settings.defaultApprovalPolicy),
                sandbox: plan.options.sandbox ?? settings.defaultSandbox,
                model: plan.model,
                config: threadConfig(token: token)
            ),
            as: ThreadResult.self,
            timeout: settings.requestTimeout
        )
        let id = started.thread.id.lowercased()
        credentials.bind(token, to: id)
        loaded.add(id, generation: session.generation)
        let name = try WorkspaceName(plan.options.workspace ?? id)
        let workspace = (home as NSString).appendingPathComponent(name.relativePath)
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let resolved = (workspace as NSString).resolvingSymlinksInPath
        guard resolved.hasPrefix((home as NSString).resolvingSymlinksInPath + "/") else {
            throw ConversationError.invalidPrompt("workspace '\(name.relativePath)' leads outside your workspaces.")
        }
        logger.info("codex.thread_starts", metadata: ["conversation.id": .string(id), "workspace": .string(resolved)])
        return EngineConversation(id: id, workspace: resolved)
    }

    public func runTurn(_ turn: AgentTurn, emit: @escaping @Sendable (TurnEvent) -> Void) async throws -> AgentTurnResult {
        guard let workspace = turn.workspace else {
            throw AgentTurnError("This conversation was started by the chat engine and has no workspace; start a new one.")
        }
        let id = turn.conversationID
        let session = try await supervisor.session(waitingUpTo: settings.startWait)
        try await load(id, in: session, plan: turn.plan, workspace: workspace)
        let messages = router.open(threadID: id, session: session)
        defer { router.close(threadID: id) }
        credentials.turnStarted(threadID: id)
        defer { credentials.turnEnded(threadID: id) }

        let started = try await session.request(
            "turn/start",
            params: TurnStartParams(
                threadId: id,
                input: [.init(text: turn.plan.prompt)],
                cwd: workspace,
                approvalPolicy: Self.wireApprovalPolicy(turn.plan.options.approvalPolicy ?? settings.defaultApprovalPolicy),
                sandboxPolicy: Self.sandboxPolicy(turn.plan.options.sandbox ?? settings.defaultSandbox),
                model: turn.plan.model
            ),
            as: TurnResult.self,
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
                _ = try await session.request("turn/interrupt", params: TurnInterruptParams(threadId: threadID, turnId: turnID), as: JSONValue.self, timeout: timeout)
                _ = try await session.request("thread/backgroundTerminals/clean", params: ThreadReference(threadId: threadID), as: JSONValue.self, timeout: timeout)
            } catch {
                logger.warning("interrupting a Codex turn failed", metadata: ["conversation.id": .string(threadID), "error.message": .string(String(describing: error))])
            }
        }
    }

    /// Resumes thread `id` in `session`'s child unless it is loaded there (a child that restarted
    /// has none loaded), with a new token and the turn's policy (resume does not restore it).
    private func load(_ id: String, in session: AppServerSession, plan: ConversationManager.TurnPlan, workspace: String) async throws {
        if loaded.contains(id, generation: session.generation) { return }
        let token = credentials.issue(for: plan.principal, generation: session.generation)
        credentials.bind(token, to: id)
        _ = try await session.request(
            "thread/resume",
            params: ThreadResumeParams(
                threadId: id,
                cwd: workspace,
                approvalPolicy: Self.wireApprovalPolicy(plan.options.approvalPolicy ?? settings.defaultApprovalPolicy),
                sandbox: plan.options.sandbox ?? settings.defaultSandbox,
                model: plan.model,
                config: threadConfig(token: token)
            ),
            as: ThreadResult.self,
            timeout: settings.requestTimeout
        )
        loaded.add(id, generation: session.generation)
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

    /// `WORKSPACES_ROOT/<owner>`, created private to the gateway.
    private func principalDirectory(_ owner: String?) throws -> String {
        let name = Self.directoryName(owner: owner ?? "gateway")
        let path = (settings.workspacesRoot as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }

    /// A principal's directory name: its owner id where that is a safe file name, else its SHA-256 prefix.
    static func directoryName(owner: String) -> String {
        let safe = owner.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        return safe && !owner.isEmpty ? owner : "p-" + String(SecretToken.hash(owner).prefix(32))
    }

    /// Codex 0.147 has no `on-failure` (it asks on request instead).
    static func wireApprovalPolicy(_ policy: String) -> String {
        policy == "on-failure" ? "on-request" : policy
    }

    static func sandboxPolicy(_ mode: String) -> JSONValue {
        switch mode {
        case "read-only": .object(["type": .string("readOnly")])
        case "danger-full-access": .object(["type": .string("dangerFullAccess")])
        default: .object(["type": .string("workspaceWrite")])
        }
    }
}

/// A workspace name as a request may give it: relative, no `..`, no empty or hidden tricks.
struct WorkspaceName {
    let relativePath: String

    init(_ text: String) throws {
        let components = text.split(separator: "/", omittingEmptySubsequences: true)
        guard !text.isEmpty, !text.hasPrefix("/"), text.utf8.count <= 255, !text.contains("\0"),
            !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." })
        else {
            throw ConversationError.invalidPrompt("workspace must be a relative name (no leading /, no . or .. parts, at most 255 bytes).")
        }
        relativePath = components.joined(separator: "/")
    }
}

/// Which threads each child has loaded (thread id → the child's generation): a child that
/// restarted has none, and a thread must be resumed before its next turn.
final class LoadedThreads: Sendable {
    private let threads = Mutex<[String: Int]>([:])

    func add(_ id: String, generation: Int) {
        threads.withLock { $0[id] = generation }
    }

    func contains(_ id: String, generation: Int) -> Bool {
        threads.withLock { $0[id] == generation }
    }

    func forget(generation: Int) {
        threads.withLock { $0 = $0.filter { $0.value != generation } }
    }
}
