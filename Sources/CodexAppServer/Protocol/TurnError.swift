import GatewayRuntime

extension AppServer {
    /// What went wrong in a turn (`Turn.error`, the `error` notification).
    public struct TurnError: Hashable, Sendable, Codable {
        public var message: String
        /// Codex's classification: a string (`"usageLimitExceeded"`, `"unauthorized"`, …) or an
        /// object (`{"httpConnectionFailed": {"httpStatusCode": 502}}`, …).
        public var codexErrorInfo: JSONValue?
        public var additionalDetails: String?

        public init(message: String, codexErrorInfo: JSONValue? = nil, additionalDetails: String? = nil) {
            self.message = message
            self.codexErrorInfo = codexErrorInfo
            self.additionalDetails = additionalDetails
        }
    }
}
