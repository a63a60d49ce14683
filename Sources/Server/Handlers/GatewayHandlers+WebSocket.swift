import GatewayAPI
import GatewayRuntime

extension GatewayHandlers {
    /// A single-use ticket that opens `/ws` as the caller, for browsers (which cannot send headers
    /// on a WebSocket handshake). The WebSocket itself is served by ``WebSocketController``.
    public func createWebSocketTicket(_ input: Operations.CreateWebSocketTicket.Input, context: Context) async throws
        -> Operations.CreateWebSocketTicket.Output
    {
        guard let principal = context.principal else {
            // The generated route authenticates first, so this does not happen.
            throw GatewayAuthenticator.unauthorized(code: "unauthorized", message: "Credentials are required.", challenge: nil)
        }
        let ticket = try await webSocketTickets.issue(for: principal)
        return .created(.json(WebSocketTicket(ticket: ticket, expiresIn: webSocketTickets.lifetimeSeconds)))
    }
}
