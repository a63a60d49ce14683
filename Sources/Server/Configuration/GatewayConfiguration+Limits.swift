import Foundation

extension GatewayConfiguration {
    /// The limits that protect the process and the provider: model retries, failed credentials,
    /// memory, JSON-RPC batches, slow clients, open WebSockets and webhook callbacks.
    mutating func loadLimits(environment: Environment) throws {
        let anySeconds = 0...Double.greatestFiniteMagnitude
        let positiveSeconds = Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude
        if let value = try environment.seconds("UPSTREAM_RETRY_BUDGET_SECONDS", in: anySeconds, expected: "a number of seconds, 0 or more") {
            upstreamRetryBudget = value
        }
        for (key, keyPath) in [("TOKEN_BUDGET_PER_DAY", \GatewayConfiguration.tokenBudgetPerDay), ("TOKEN_BUDGET_PER_MONTH", \.tokenBudgetPerMonth)] {
            if let value = try environment.integer(key, in: 0...Int.max, expected: "a number of tokens, 0 for no budget") {
                self[keyPath: keyPath] = value
            }
        }
        if let value = try environment.integer("AUTH_FAILURE_BUDGET_PER_MINUTE", in: 0...Int.max, expected: "a whole number, 0 to turn the throttle off") {
            authFailureBudgetPerMinute = value
        }
        if let value = try environment.integer("CONVERSATION_CACHE_BYTES", in: 0...Int.max, expected: "a number of bytes, 0 or more") {
            conversationCacheBytes = value
        }
        if let value = try environment.integer("JSONRPC_MAX_BATCH", in: 1...1000, expected: "a number of requests from 1 to 1000") {
            jsonRPCMaxBatch = value
        }
        if let value = try environment.integer("JSONRPC_MAX_RESPONSE_BYTES", in: 1024...Int.max, expected: "a number of bytes, 1024 or more") {
            jsonRPCMaxResponseBytes = value
        }
        if let value = try environment.integer("MCP_MAX_SESSIONS", in: 1...1_000_000, expected: "a number of sessions from 1 to 1000000") {
            mcpMaxSessions = value
        }
        if let value = try environment.seconds("MCP_SESSION_IDLE_SECONDS", in: positiveSeconds, expected: "a positive number of seconds") {
            mcpSessionIdleTimeout = value
        }
        if let value = try environment.seconds("WS_CREDENTIAL_CHECK_SECONDS", in: 0.01...10, expected: "a number of seconds from 0.01 to 10") {
            webSocketCredentialCheckInterval = value
        }
        func timeout(_ key: String, _ fallback: Duration) throws -> Duration {
            try environment.seconds(key, in: positiveSeconds, expected: "a positive number of seconds") ?? fallback
        }
        httpTimeouts = HTTPTimeouts(
            header: try timeout("HTTP_HEADER_TIMEOUT_SECONDS", HTTPTimeouts.defaults.header),
            body: try timeout("HTTP_BODY_TIMEOUT_SECONDS", HTTPTimeouts.defaults.body),
            idle: try timeout("HTTP_IDLE_TIMEOUT_SECONDS", HTTPTimeouts.defaults.idle)
        )
        outboundAllowPrivate = try Self.bool("OUTBOUND_ALLOW_PRIVATE", environment: environment) ?? false
        webhookTolerance = try timeout("WEBHOOK_TOLERANCE_SECONDS", webhookTolerance)
        for (key, keyPath) in [("WEBHOOK_CALLBACK_CONCURRENCY", \GatewayConfiguration.webhookCallbackConcurrency), ("WEBHOOK_CALLBACK_PER_HOST", \.webhookCallbackPerHost)] {
            if let value = try environment.integer(key, in: 1...1000, expected: "a number of callbacks from 1 to 1000") {
                self[keyPath: keyPath] = value
            }
        }
    }
}
