import GatewayRuntime

extension AppServer {
    /// One part of a user message (`turn/start`'s `input`, a `userMessage` item's `content`).
    public enum UserInput: Hashable, Sendable, Codable {
        case text(String)
        /// An image, a mention, a skill … as sent: the gateway only sends text.
        case other(JSONValue)

        private enum CodingKeys: String, CodingKey { case type, text }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if try container.decode(String.self, forKey: .type) == "text" {
                self = .text(try container.decode(String.self, forKey: .text))
            } else {
                self = .other(try JSONValue(from: decoder))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .text(let text):
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode("text", forKey: .type)
                try container.encode(text, forKey: .text)
            case .other(let value):
                try value.encode(to: encoder)
            }
        }
    }
}
