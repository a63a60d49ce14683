import GatewayRuntime

extension AppServer {
    /// A request from the server that waits for the gateway's answer (``OutgoingResponse`` with an
    /// ``ApprovalResponse``, or ``OutgoingErrorResponse``). Approvals have a case; any other method,
    /// and an approval whose params do not match the model, is ``unknown(method:params:)``: answer it
    /// with an error so that Codex does not wait.
    public enum ServerRequest: Hashable, Sendable, Codable {
        /// Run this command? Answer with an ``ApprovalResponse``.
        case commandExecutionApproval(CommandExecutionRequestApprovalParams)
        /// Apply the changes of the `fileChange` item `itemId`? Answer with an ``ApprovalResponse``.
        case fileChangeApproval(FileChangeRequestApprovalParams)
        case unknown(method: String, params: JSONValue)

        /// The methods that have a case of their own.
        public static let knownMethods: Set<String> = ["item/commandExecution/requestApproval", "item/fileChange/requestApproval"]

        /// The thread the request is about.
        public var threadID: String? {
            switch self {
            case .commandExecutionApproval(let params): params.threadId
            case .fileChangeApproval(let params): params.threadId
            case .unknown(_, let params): params["threadId"]?.stringValue
            }
        }

        public var method: String {
            switch self {
            case .commandExecutionApproval: "item/commandExecution/requestApproval"
            case .fileChangeApproval: "item/fileChange/requestApproval"
            case .unknown(let method, _): method
            }
        }

        private enum CodingKeys: String, CodingKey { case method, params }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let method = try container.decode(String.self, forKey: .method)
            do {
                switch method {
                case "item/commandExecution/requestApproval":
                    self = .commandExecutionApproval(try container.decode(CommandExecutionRequestApprovalParams.self, forKey: .params))
                case "item/fileChange/requestApproval":
                    self = .fileChangeApproval(try container.decode(FileChangeRequestApprovalParams.self, forKey: .params))
                default:
                    self = .unknown(method: method, params: try container.decodeIfPresent(JSONValue.self, forKey: .params) ?? .null)
                }
            } catch is DecodingError {
                self = .unknown(method: method, params: try container.decodeIfPresent(JSONValue.self, forKey: .params) ?? .null)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(method, forKey: .method)
            switch self {
            case .commandExecutionApproval(let params): try container.encode(params, forKey: .params)
            case .fileChangeApproval(let params): try container.encode(params, forKey: .params)
            case .unknown(_, let params): try container.encode(params, forKey: .params)
            }
        }
    }
}
