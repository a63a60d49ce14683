import GatewayRuntime

extension AppServer {
    /// The sandbox in full (`{"type": …}`): what a thread reports it runs with, and what `turn/start`
    /// may set for one turn (`sandboxPolicy`).
    public enum SandboxPolicy: Hashable, Sendable, Codable {
        case dangerFullAccess
        case readOnly(networkAccess: Bool)
        case workspaceWrite(WorkspaceWrite)
        /// `externalSandbox`, or a type the models do not know, as sent.
        case other(JSONValue)

        /// Writes allowed in the thread's cwd and `writableRoots`.
        public struct WorkspaceWrite: Hashable, Sendable, Codable {
            public var writableRoots: [String]
            public var networkAccess: Bool
            public var excludeTmpdirEnvVar: Bool
            public var excludeSlashTmp: Bool

            public init(writableRoots: [String] = [], networkAccess: Bool = false, excludeTmpdirEnvVar: Bool = false, excludeSlashTmp: Bool = false) {
                self.writableRoots = writableRoots
                self.networkAccess = networkAccess
                self.excludeTmpdirEnvVar = excludeTmpdirEnvVar
                self.excludeSlashTmp = excludeSlashTmp
            }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                writableRoots = try container.decodeIfPresent([String].self, forKey: .writableRoots) ?? []
                networkAccess = try container.decodeIfPresent(Bool.self, forKey: .networkAccess) ?? false
                excludeTmpdirEnvVar = try container.decodeIfPresent(Bool.self, forKey: .excludeTmpdirEnvVar) ?? false
                excludeSlashTmp = try container.decodeIfPresent(Bool.self, forKey: .excludeSlashTmp) ?? false
            }
        }

        private enum TypeKey: String, CodingKey { case type, networkAccess }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: TypeKey.self)
            switch try container.decode(String.self, forKey: .type) {
            case "dangerFullAccess": self = .dangerFullAccess
            case "readOnly": self = .readOnly(networkAccess: try container.decodeIfPresent(Bool.self, forKey: .networkAccess) ?? false)
            case "workspaceWrite": self = .workspaceWrite(try WorkspaceWrite(from: decoder))
            default: self = .other(try JSONValue(from: decoder))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .dangerFullAccess:
                var container = encoder.container(keyedBy: TypeKey.self)
                try container.encode("dangerFullAccess", forKey: .type)
            case .readOnly(let networkAccess):
                var container = encoder.container(keyedBy: TypeKey.self)
                try container.encode("readOnly", forKey: .type)
                try container.encode(networkAccess, forKey: .networkAccess)
            case .workspaceWrite(let options):
                var container = encoder.container(keyedBy: TypeKey.self)
                try container.encode("workspaceWrite", forKey: .type)
                try options.encode(to: encoder)
            case .other(let value):
                try value.encode(to: encoder)
            }
        }
    }
}
