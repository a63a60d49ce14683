import GatewayRuntime
import HTTPTypes
import Hummingbird
import NIOCore

/// What a forwarding replica vouched for about a request (``ReplicaSignature/Assertions``), once
/// its signature verified.
struct ReplicaForward: Sendable {
    /// The address its client connected from; nil when it did not say.
    var clientAddress: SocketAddress?
    /// Who the request acts for when it carries no credential; nil when it carries the client's.
    var principal: Principal?
}

/// Checks the signature of requests another replica forwarded here (PROTOCOLS.md §12) and, when
/// it verifies, records what that replica vouched for in ``GatewayRequestContext/replicaForward``.
///
/// It runs before the failed-credential throttle (which then counts a forwarded sign-in against
/// the client's own address, not the forwarding replica's) and before routing (a forwarded request
/// is answered here, never forwarded again). A request that carries the signature header, or either
/// asserted header, without a valid signature is refused with 403: an unsigned claim to be someone
/// or somewhere is never believed.
struct ReplicaOriginMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let signature: @Sendable () throws -> ReplicaSignature

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let assertions = ReplicaSignature.Assertions(request.headers)
        guard let signed = request.headers[ReplicaSignature.headerName] else {
            if assertions != .init() { throw Self.invalid }
            return try await next(request, context)
        }
        guard try signature().verify(signed, method: request.method, target: request.uri.description, assertions: assertions) else {
            throw Self.invalid
        }
        var principal: Principal?
        if let value = assertions.principal {
            guard let asserted = AssertedPrincipal.principal(headerValue: value) else { throw Self.invalid }
            principal = asserted
        }
        var context = context
        context.replicaForward = ReplicaForward(
            clientAddress: assertions.clientAddress.flatMap { try? SocketAddress(ipAddress: $0, port: 0) },
            principal: principal
        )
        return try await next(request, context)
    }

    static let invalid = GatewayError(
        status: .forbidden, code: "replica_signature_invalid",
        message:
            "The request carries a Codex-Gateway-Replica signature (or a header only a replica may send) that does not verify (another database's replica, or clocks more than a minute apart)."
    )
}
