import GatewayAPI
import GatewayRuntime
import Hummingbird

extension GatewayHandlers {
    /// `GET /approvals`: the caller's pending approvals.
    public func listApprovals(_ input: Operations.ListApprovals.Input, context: Context) async throws -> Operations.ListApprovals.Output {
        let pending = approvals.pending(owner: context.principal?.owner, conversationID: input.query.conversationID)
        return .ok(.json(ApprovalList(approvals: pending.map(Approval.init))))
    }

    /// `POST /approvals/{approval_id}`: the first answer wins; an unknown or foreign id is 404, a
    /// second answer 409.
    public func answerApproval(_ input: Operations.AnswerApproval.Input, context: Context) async throws -> Operations.AnswerApproval.Output {
        let decision = ApprovalDecision(rawValue: input.body.decision.rawValue) ?? .decline
        do {
            try approvals.answer(input.path.approvalID, decision: decision, owner: context.principal?.owner)
            return .ok(.json(ApprovalAnswer(id: input.path.approvalID, decision: input.body.decision)))
        } catch ApprovalCenter.AnswerError.unknown {
            return .notFound(.json(envelope(context, 404, "approval_not_found", "No pending approval with id '\(input.path.approvalID)'.")))
        } catch ApprovalCenter.AnswerError.alreadyAnswered(let earlier) {
            return .conflict(
                .json(envelope(context, 409, "approval_already_answered", "The approval '\(input.path.approvalID)' was already answered: \(earlier.rawValue).")))
        }
    }
}
