extension AppServer {
    /// `thread/backgroundTerminals/clean` (experimental: initialize with
    /// ``InitializeCapabilities/experimentalApi``): ends the commands a thread still runs.
    public struct ThreadBackgroundTerminalsCleanParams: ClientRequest, Hashable, Codable {
        public static let method = "thread/backgroundTerminals/clean"
        public typealias Response = EmptyResponse

        public var threadId: String

        public init(threadId: String) {
            self.threadId = threadId
        }
    }
}
