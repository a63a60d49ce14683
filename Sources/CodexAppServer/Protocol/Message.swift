import GatewayRuntime

extension AppServer {
    /// One line from the server. Codex never writes `"jsonrpc"`; the member is ignored when present.
    /// A line that is JSON but none of these shapes is a `DecodingError`; a notification or server
    /// request with an unknown method is not (see ``ServerNotification`` and ``ServerRequest``).
    public enum Message: Hashable, Sendable, Codable {
        /// The result of the gateway's request `id`; decode it with ``ClientRequest/decodeResponse(_:)``.
        case response(id: RequestID, result: JSONValue)
        /// The gateway's request `id` failed (Codex: code -32600 and a message). `id` is nil only when
        /// the peer could not tell which request it answers.
        case errorResponse(id: RequestID?, error: ResponseError)
        case notification(ServerNotification)
        /// A request the gateway must answer with the same `id`.
        case request(id: RequestID, ServerRequest)

        private enum CodingKeys: String, CodingKey { case id, method, result, error }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if container.contains(.method) {
                if container.contains(.id) {
                    self = .request(id: try container.decode(RequestID.self, forKey: .id), try ServerRequest(from: decoder))
                } else {
                    self = .notification(try ServerNotification(from: decoder))
                }
            } else if container.contains(.error) {
                self = .errorResponse(
                    id: try container.decodeIfPresent(RequestID.self, forKey: .id),
                    error: try container.decode(ResponseError.self, forKey: .error))
            } else if container.contains(.id) && container.contains(.result) {
                self = .response(id: try container.decode(RequestID.self, forKey: .id), result: try container.decode(JSONValue.self, forKey: .result))
            } else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: [], debugDescription: "a line from codex app-server is neither a response (id, result|error), a notification (method) nor a request (id, method)")
                )
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .response(let id, let result):
                try container.encode(id, forKey: .id)
                try container.encode(result, forKey: .result)
            case .errorResponse(let id, let error):
                try container.encode(id, forKey: .id)
                try container.encode(error, forKey: .error)
            case .notification(let notification):
                try notification.encode(to: encoder)
            case .request(let id, let request):
                try container.encode(id, forKey: .id)
                try request.encode(to: encoder)
            }
        }
    }
}
