import GatewayRuntime

extension AppServer {
    /// The `error` member of a JSON-RPC error response, in either direction. Codex answers every
    /// error with ``invalidRequest`` (-32600) and says what went wrong in `message`.
    public struct ResponseError: Error, Hashable, Sendable, Codable {
        /// The code `codex app-server` uses for every error it returns.
        public static let invalidRequest = -32600

        public var code: Int
        public var message: String
        public var data: JSONValue?

        public init(code: Int, message: String, data: JSONValue? = nil) {
            self.code = code
            self.message = message
            self.data = data
        }
    }
}
