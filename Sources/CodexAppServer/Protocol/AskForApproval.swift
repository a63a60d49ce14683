import GatewayRuntime

extension AppServer {
    /// When Codex asks before running a command or applying a change (`approvalPolicy`). Codex
    /// 0.147.0 refuses `on-failure` ("unknown variant"), so there is no such case.
    public enum AskForApproval: Hashable, Sendable, Codable {
        /// Only commands known to be safe run without asking.
        case untrusted
        /// The model decides when to ask.
        case onRequest
        /// Never ask; a refused command fails.
        case never
        /// Anything else: the `{"granular": {…}}` form, or a value the models do not know.
        case other(JSONValue)

        public init(from decoder: any Decoder) throws {
            let value = try JSONValue(from: decoder)
            switch value {
            case .string("untrusted"): self = .untrusted
            case .string("on-request"): self = .onRequest
            case .string("never"): self = .never
            default: self = .other(value)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .untrusted: try JSONValue.string("untrusted").encode(to: encoder)
            case .onRequest: try JSONValue.string("on-request").encode(to: encoder)
            case .never: try JSONValue.string("never").encode(to: encoder)
            case .other(let value): try value.encode(to: encoder)
            }
        }
    }
}
