extension AppServer {
    /// A thread's token counts (`thread/tokenUsage/updated`): `total` since the thread began, `last`
    /// for the latest model call.
    public struct ThreadTokenUsage: Hashable, Sendable, Codable {
        public var total: TokenUsageBreakdown
        public var last: TokenUsageBreakdown
        public var modelContextWindow: Int?
    }

    /// Token counts of one model call or of a whole thread.
    public struct TokenUsageBreakdown: Hashable, Sendable, Codable {
        public var totalTokens: Int
        public var inputTokens: Int
        public var cachedInputTokens: Int
        public var outputTokens: Int
        public var reasoningOutputTokens: Int

        public init(totalTokens: Int, inputTokens: Int, cachedInputTokens: Int, outputTokens: Int, reasoningOutputTokens: Int) {
            self.totalTokens = totalTokens
            self.inputTokens = inputTokens
            self.cachedInputTokens = cachedInputTokens
            self.outputTokens = outputTokens
            self.reasoningOutputTokens = reasoningOutputTokens
        }
    }
}
