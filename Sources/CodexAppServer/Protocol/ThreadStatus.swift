extension AppServer {
    /// Whether a thread is loaded and what it waits for (`{"type": …}`).
    public enum ThreadStatus: Hashable, Sendable, Codable {
        case notLoaded
        case idle
        case systemError
        /// Running a turn; `activeFlags` says whether it waits on an approval or on user input.
        case active(activeFlags: [ActiveFlag])
        /// A status type the models do not know.
        case other(type: String)

        /// Why an active thread waits (`ThreadActiveFlag`).
        public struct ActiveFlag: AppServerOpenString {
            public static let waitingOnApproval: Self = "waitingOnApproval"
            public static let waitingOnUserInput: Self = "waitingOnUserInput"

            public let rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }
        }

        private enum CodingKeys: String, CodingKey { case type, activeFlags }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            switch try container.decode(String.self, forKey: .type) {
            case "notLoaded": self = .notLoaded
            case "idle": self = .idle
            case "systemError": self = .systemError
            case "active": self = .active(activeFlags: try container.decodeIfPresent([ActiveFlag].self, forKey: .activeFlags) ?? [])
            case let type: self = .other(type: type)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .notLoaded: try container.encode("notLoaded", forKey: .type)
            case .idle: try container.encode("idle", forKey: .type)
            case .systemError: try container.encode("systemError", forKey: .type)
            case .active(let flags):
                try container.encode("active", forKey: .type)
                try container.encode(flags, forKey: .activeFlags)
            case .other(let type): try container.encode(type, forKey: .type)
            }
        }
    }
}
