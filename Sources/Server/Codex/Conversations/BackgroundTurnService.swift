import Logging
import ServiceLifecycle
import Synchronization

/// Runs turns that outlive the request that started them (`POST /conversations` answers `202` and
/// the turn goes on; its end is read with `GET /conversations/{id}`).
///
/// A turn runs here exactly as on every protocol (``ConversationManager/streamTurn(_:consume:)``:
/// owners, limits, metering); the request holds a ``TurnTicket`` to wait on for a while. On
/// graceful shutdown running turns are cancelled (they end as failed, recorded in the
/// conversation), and turns not yet begun end at once as cancelled.
public final class BackgroundTurnService: Service, Sendable {
    private struct Job: Sendable {
        var plan: ConversationManager.TurnPlan
        var ticket: TurnTicket
    }

    let manager: ConversationManager
    let logger: Logger
    private let jobs: AsyncStream<Job>
    private let submissions: AsyncStream<Job>.Continuation
    /// Jobs accepted and not yet begun, by ticket; nil once the service stopped.
    private let waiting = Mutex<[ObjectIdentifier: Job]?>([:])

    public init(manager: ConversationManager, logger: Logger) {
        self.manager = manager
        self.logger = logger
        (jobs, submissions) = AsyncStream.makeStream(of: Job.self)
    }

    /// Starts `plan`'s turn; the ticket names its conversation and tells its outcome.
    public func start(_ plan: ConversationManager.TurnPlan) -> TurnTicket {
        let ticket = TurnTicket()
        let job = Job(plan: plan, ticket: ticket)
        let accepted = waiting.withLock { waiting -> Bool in
            guard waiting != nil else { return false }
            waiting?[ObjectIdentifier(ticket)] = job
            return true
        }
        if accepted { submissions.yield(job) } else { Self.refuse(job) }
        return ticket
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await job in self.jobs {
                    group.addTask { await self.execute(job) }
                }
            }
        }
        submissions.finish()
        // Accepted before the shutdown but never begun: their waiters hear so at once.
        let left = waiting.withLock { waiting in
            defer { waiting = nil }
            return waiting.map { Array($0.values) } ?? []
        }
        for job in left { Self.refuse(job) }
    }

    private func execute(_ job: Job) async {
        let ticket = job.ticket
        guard waiting.withLock({ $0?.removeValue(forKey: ObjectIdentifier(ticket)) }) != nil else { return }
        do {
            let outcome = try await manager.streamTurn(job.plan) { event in
                if case .threadStarted(let id) = event { ticket.started(id) }
            }
            ticket.finished(outcome)
        } catch {
            ticket.finished(.failed(conversationID: ticket.conversationID ?? "", reason: .cancelled))
        }
        if case .failed(let id, let reason)? = ticket.outcome {
            logger.info("background turn ended without an answer", metadata: ["conversation.id": .string(id), "reason": .string(reason.description)])
        }
    }

    private static func refuse(_ job: Job) {
        job.plan.permit?.release()
        job.ticket.finished(.failed(conversationID: job.plan.conversationID ?? "", reason: .model("The gateway is shutting down; the turn did not run.")))
    }
}
