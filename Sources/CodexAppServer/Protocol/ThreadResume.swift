extension AppServer {
    /// `thread/resume`: loads a stored thread (after a restart of the server), with the same
    /// overrides as `thread/start` (members of the same object on the wire). The approval policy is
    /// not restored: send it again. A thread cannot be resumed before its first turn.
    public struct ThreadResumeParams: ClientRequest, Hashable, Codable {
        public static let method = "thread/resume"
        public typealias Response = ThreadStartResponse

        public var threadId: String
        /// What `thread/start` would set; nil members keep what the thread has.
        public var overrides: ThreadStartParams

        public init(threadId: String, overrides: ThreadStartParams = ThreadStartParams()) {
            self.threadId = threadId
            self.overrides = overrides
        }

        private enum CodingKeys: String, CodingKey { case threadId }

        public init(from decoder: any Decoder) throws {
            threadId = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .threadId)
            overrides = try ThreadStartParams(from: decoder)
        }

        public func encode(to encoder: any Encoder) throws {
            try overrides.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(threadId, forKey: .threadId)
        }
    }
}
