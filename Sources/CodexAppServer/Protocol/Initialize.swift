extension AppServer {
    /// `initialize`: the first request on a new connection; then send ``OutgoingNotification/initialized``.
    public struct InitializeParams: ClientRequest, Hashable, Codable {
        public static let method = "initialize"
        public typealias Response = InitializeResponse

        public var clientInfo: ClientInfo
        public var capabilities: InitializeCapabilities?

        public init(clientInfo: ClientInfo, capabilities: InitializeCapabilities? = nil) {
            self.clientInfo = clientInfo
            self.capabilities = capabilities
        }
    }

    /// Who the client is; Codex puts it in its user agent.
    public struct ClientInfo: Hashable, Sendable, Codable {
        public var name: String
        public var title: String?
        public var version: String

        public init(name: String, title: String? = nil, version: String) {
            self.name = name
            self.title = title
            self.version = version
        }
    }

    /// What the client supports. `experimentalApi` is needed for `thread/backgroundTerminals/clean`
    /// (Codex answers "requires experimentalApi capability" without it).
    public struct InitializeCapabilities: Hashable, Sendable, Codable {
        public var experimentalApi: Bool
        /// Notification methods Codex should not send on this connection.
        public var optOutNotificationMethods: [String]?

        public init(experimentalApi: Bool = false, optOutNotificationMethods: [String]? = nil) {
            self.experimentalApi = experimentalApi
            self.optOutNotificationMethods = optOutNotificationMethods
        }
    }

    /// `initialize`'s result.
    public struct InitializeResponse: Hashable, Sendable, Codable {
        public var userAgent: String
        /// The `CODEX_HOME` the server uses.
        public var codexHome: String
        public var platformFamily: String
        public var platformOs: String
    }
}
