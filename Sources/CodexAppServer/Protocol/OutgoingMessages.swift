import GatewayRuntime

extension AppServer {
    /// A request to the server: `{"id", "method", "params"}` (no `"jsonrpc"`, which Codex does not need).
    public struct OutgoingRequest<Params: ClientRequest>: Encodable, Sendable {
        public var id: RequestID
        public var params: Params

        public init(id: RequestID, params: Params) {
            self.id = id
            self.params = params
        }

        private enum CodingKeys: String, CodingKey { case id, method, params }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(Params.method, forKey: .method)
            try container.encode(params, forKey: .params)
        }
    }

    /// A notification to the server: `{"method", "params"?}`.
    public struct OutgoingNotification: Encodable, Hashable, Sendable {
        /// Sent once after the `initialize` response, before any other request.
        public static let initialized = OutgoingNotification(method: "initialized")

        public var method: String
        public var params: JSONValue?

        public init(method: String, params: JSONValue? = nil) {
            self.method = method
            self.params = params
        }
    }

    /// The answer to a ``ServerRequest``: `{"id", "result"}`.
    public struct OutgoingResponse<Result: Encodable & Sendable>: Encodable, Sendable {
        public var id: RequestID
        public var result: Result

        public init(id: RequestID, result: Result) {
            self.id = id
            self.result = result
        }
    }

    /// A ``ServerRequest`` the gateway refuses (an unknown method): `{"id", "error"}`.
    public struct OutgoingErrorResponse: Encodable, Hashable, Sendable {
        public var id: RequestID
        public var error: ResponseError

        public init(id: RequestID, error: ResponseError) {
            self.id = id
            self.error = error
        }
    }
}
