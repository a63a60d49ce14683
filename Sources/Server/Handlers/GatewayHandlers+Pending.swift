// TEMPORARY (work in progress, replaced before commit): lets the package build while the
// webhook and WebSocket ticket handlers are written.
import GatewayAPI
import GatewayRuntime
import HTTPTypes

extension GatewayHandlers {


    public func createWebSocketTicket(_ input: Operations.CreateWebSocketTicket.Input, context: Context) async throws -> Operations.CreateWebSocketTicket.Output {
        throw GatewayError(status: .notImplemented, code: "not_implemented", message: "work in progress")
    }
}
