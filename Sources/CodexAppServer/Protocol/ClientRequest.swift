import Foundation
import GatewayRuntime

extension AppServer {
    /// The params of a request the gateway sends; the type names the method and its result. Send it
    /// as an ``OutgoingRequest``; decode the ``Message/response(id:result:)`` that answers it with
    /// ``decodeResponse(_:)``.
    public protocol ClientRequest: Encodable, Sendable {
        associatedtype Response: Decodable & Sendable
        static var method: String { get }
    }

    /// The result of a request that returns nothing (`{}`).
    public struct EmptyResponse: Hashable, Sendable, Codable {
        public init() {}
    }
}

extension AppServer.ClientRequest {
    /// The typed result of this request from the `result` of its response.
    public static func decodeResponse(_ result: JSONValue) throws -> Response {
        try JSONDecoder().decode(Response.self, from: JSONEncoder().encode(result))
    }
}
