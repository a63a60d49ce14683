import Foundation
import GatewayAPI
import Hummingbird

extension GatewayHandlers {
    /// `GET /usage`: the caller's usage by day and model, its budgets and its allowlist.
    public func getUsage(_ input: Operations.GetUsage.Input, context: Context) async throws -> Operations.GetUsage.Output {
        guard let principal = context.principal else {
            throw GatewayAuthenticator.unauthorized(code: "unauthorized", message: "Credentials are required.", challenge: nil)
        }
        let range: UsageRange
        switch UsageRange.parse(from: input.query.from, to: input.query.to) {
        case .success(let parsed): range = parsed
        case .failure(let error): return .badRequest(.json(envelope(context, 400, error.code, error.message)))
        }
        guard let ledger = relay.usage else {
            throw GatewayError(status: .serviceUnavailable, code: "usage_unavailable", message: "Usage is not metered by this gateway.")
        }
        return .ok(.json(try await ledger.report(account: principal.owner, range: range)))
    }
}
