import GatewayRuntime

extension AppServer {
    /// A JSON-RPC request id (the schema's `RequestId`): an integer or a string, in either direction.
    public enum RequestID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral,
        ExpressibleByStringLiteral
    {
        case integer(Int)
        case string(String)

        public init(integerLiteral value: Int) { self = .integer(value) }

        /// The id as it is written on the wire, for an answer.
        public var jsonValue: JSONValue {
            switch self {
            case .integer(let value): .integer(value)
            case .string(let value): .string(value)
            }
        }
        public init(stringLiteral value: String) { self = .string(value) }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) {
                self = .integer(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .integer(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            }
        }

        public var description: String {
            switch self {
            case .integer(let value): String(value)
            case .string(let value): value
            }
        }
    }
}
