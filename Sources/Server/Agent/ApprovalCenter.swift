import Foundation
import Synchronization

/// A question the agent asks before it runs a command or changes files (PROTOCOLS §10).
public struct PendingApproval: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case commandExecution = "command_execution"
        case fileChange = "file_change"
    }

    public var id: String
    public var conversationID: String
    /// The conversation's owner: the only principal that sees and answers it.
    public var owner: String?
    public var kind: Kind
    public var command: String?
    public var cwd: String?
    public var changes: [AgentItem.FileChange]?
    public var reason: String?
    /// When it is declined if nobody answers.
    public var expiresAt: Date

    public init(
        id: String, conversationID: String, owner: String?, kind: Kind, command: String?, cwd: String?,
        changes: [AgentItem.FileChange]?, reason: String?, expiresAt: Date
    ) {
        self.id = id
        self.conversationID = conversationID
        self.owner = owner
        self.kind = kind
        self.command = command
        self.cwd = cwd
        self.changes = changes
        self.reason = reason
        self.expiresAt = expiresAt
    }
}

/// How an approval was answered.
public enum ApprovalDecision: String, Sendable, Hashable, CaseIterable {
    case accept
    case acceptForSession = "accept_for_session"
    case decline
    case cancel

    /// Codex's word for it.
    var wire: String {
        switch self {
        case .accept: "accept"
        case .acceptForSession: "acceptForSession"
        case .decline: "decline"
        case .cancel: "cancel"
        }
    }
}

/// What happened to an approval, for those who watch its conversation from elsewhere.
public enum ApprovalNotice: Sendable, Hashable {
    case requested(PendingApproval)
    case resolved(PendingApproval, ApprovalDecision)

    public var approval: PendingApproval {
        switch self {
        case .requested(let approval), .resolved(let approval, _): approval
        }
    }
}

/// Every pending approval of the gateway, answered from wherever its owner is (exec, REST,
/// JSON-RPC, WebSocket): the first answer wins; one not answered in time is declined. Every
/// approval asked and answered is also told to its owner's ``notices(owner:)`` subscribers.
public final class ApprovalCenter: Sendable {
    public enum AnswerError: Error, Sendable, Equatable {
        /// No such approval, or someone else's.
        case unknown
        /// Already answered (or declined when it expired).
        case alreadyAnswered(ApprovalDecision)
    }

    private struct Waiting {
        var approval: PendingApproval
        var continuation: CheckedContinuation<ApprovalDecision, Never>
    }

    private struct State {
        var waiting: [String: Waiting] = [:]
        /// Recent answers by id, so a second answer is told it came too late (409), not "unknown" (404).
        var answered: [String: (owner: String?, decision: ApprovalDecision, at: Date)] = [:]
        var subscribers: [UUID: (owner: String?, continuation: AsyncStream<ApprovalNotice>.Continuation)] = [:]
    }

    /// How many notices a subscriber that does not keep up may have waiting; older ones are dropped.
    static let noticeBuffer = 64

    private let state = Mutex(State())
    /// How long an unanswered approval waits before it is declined.
    public let timeout: Duration

    /// Records each approval as living on this replica, for replicas that answer it elsewhere.
    let placement: ReplicaPlacement?

    public init(timeout: Duration = .seconds(600), placement: ReplicaPlacement? = nil) {
        self.timeout = timeout
        self.placement = placement
    }

    /// Makes `approval` findable from other replicas; called before anyone is told about it.
    func announce(_ approval: PendingApproval) async {
        await placement?.recordHere(approval.id)
    }

    /// A new approval's id and deadline.
    public func makeID() -> String {
        "apr_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    public func deadline() -> Date {
        Date().addingTimeInterval(Double(timeout.components.seconds))
    }

    /// Waits for the answer to `approval`: the first ``answer(_:decision:owner:)``, `decline` when
    /// it expires, `cancel` when the waiting task is cancelled (the turn was interrupted).
    public func ask(_ approval: PendingApproval) async -> ApprovalDecision {
        let timer = Task { [weak self, timeout] in
            try await Task.sleep(for: timeout)
            self?.resolve(approval.id, with: .decline)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.waiting[approval.id] = Waiting(approval: approval, continuation: continuation)
                    Self.publish(.requested(approval), in: state)
                    return false
                }
                if cancelled { continuation.resume(returning: .cancel) }
            }
        } onCancel: {
            resolve(approval.id, with: .cancel)
        }
    }

    /// Answers approval `id` for `owner`. Throws ``AnswerError/unknown`` for an id that is not
    /// `owner`'s (or does not exist), ``AnswerError/alreadyAnswered(_:)`` when it was answered.
    @discardableResult
    public func answer(_ id: String, decision: ApprovalDecision, owner: String?) throws -> PendingApproval {
        let outcome: Result<PendingApproval, AnswerError> = state.withLock { state in
            if let waiting = state.waiting[id] {
                guard waiting.approval.owner == owner else { return .failure(.unknown) }
                return .success(waiting.approval)
            }
            if let done = state.answered[id], done.owner == owner { return .failure(.alreadyAnswered(done.decision)) }
            return .failure(.unknown)
        }
        let approval = try outcome.get()
        guard resolve(id, with: decision) else {
            throw AnswerError.alreadyAnswered(state.withLock { $0.answered[id]?.decision } ?? decision)
        }
        return approval
    }

    /// `owner`'s pending approvals, oldest first, of one conversation when given.
    public func pending(owner: String?, conversationID: String? = nil) -> [PendingApproval] {
        state.withLock { state in
            state.waiting.values.map(\.approval)
                .filter { $0.owner == owner && (conversationID == nil || $0.conversationID == conversationID?.lowercased()) }
                .sorted { ($0.expiresAt, $0.id) < ($1.expiresAt, $1.id) }
        }
    }

    /// What happens to `owner`'s approvals from now on, until the stream is dropped or the
    /// consuming task ends. A consumer that falls behind loses the oldest notices, never blocks an
    /// approval.
    public func notices(owner: String?) -> AsyncStream<ApprovalNotice> {
        let (stream, continuation) = AsyncStream.makeStream(of: ApprovalNotice.self, bufferingPolicy: .bufferingNewest(Self.noticeBuffer))
        let key = UUID()
        state.withLock { $0.subscribers[key] = (owner, continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    private static func publish(_ notice: ApprovalNotice, in state: State) {
        for subscriber in state.subscribers.values where subscriber.owner == notice.approval.owner {
            subscriber.continuation.yield(notice)
        }
    }

    /// Ends the wait on `id` with `decision`; false when it was no longer waiting.
    @discardableResult
    private func resolve(_ id: String, with decision: ApprovalDecision) -> Bool {
        let now = Date()
        let waiting: Waiting? = state.withLock { state in
            guard let waiting = state.waiting.removeValue(forKey: id) else { return nil }
            state.answered = state.answered.filter { now.timeIntervalSince($0.value.at) < 3600 }
            state.answered[id] = (waiting.approval.owner, decision, now)
            Self.publish(.resolved(waiting.approval, decision), in: state)
            return waiting
        }
        guard let waiting else { return false }
        waiting.continuation.resume(returning: decision)
        return true
    }
}
