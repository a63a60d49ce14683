import Foundation
import GatewayRuntime
import ModelProvider
import Testing

@testable import GatewayServer

/// Every store protocol, the same expectations against both backends (SQLite and PostgreSQL),
/// each test on a fresh database (``withStores(_:environment:_:)``).
@Suite("Store suite (SQLite and PostgreSQL)")
struct StoreSuiteTests {
    @Test(arguments: StoreBackend.allCases)
    func apiKeysAreCreatedFoundLimitedAndRevoked(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            let (key, info) = try await stores.apiKeys.create(name: "ci")
            let principal = try #require(try await stores.apiKeys.principal(forKey: key))
            #expect(principal.id == info.id)
            #expect(try await stores.apiKeys.principal(forKey: key + "x") == nil)
            #expect(try await stores.apiKeys.setLimits(id: info.id, RateLimitOverrides(perMinute: 5)))
            #expect(try await stores.apiKeys.principal(forKey: key)?.limitOverrides.perMinute == 5)
            #expect(try await stores.apiKeys.list().map(\.id) == [info.id])
            #expect(try await stores.apiKeys.isActive(id: info.id))
            #expect(try await stores.apiKeys.revoke(id: info.id))
            #expect(try await !stores.apiKeys.revoke(id: info.id))
            #expect(try await stores.apiKeys.principal(forKey: key) == nil)
            #expect(try await !stores.apiKeys.isActive(id: info.id))
            // GATEWAY_API_KEY's key, fingerprinted under the installation's salt.
            let configured = try #require(try await stores.configuredKeys.principal(forKey: TestGateway.apiKey))
            let fingerprinter = try stores.fingerprinter()
            #expect(configured.id == fingerprinter.fingerprint(ofKey: TestGateway.apiKey))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func oauthCodesRedeemOnceAndTokensRevokeByGrant(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            try await stores.oauth.upsertClient(clientID: "c1", secret: "s", name: "One", redirectURIs: ["https://a.example/cb"], source: "cli")
            let client = try #require(try await stores.oauth.client("c1"))
            #expect(client.redirectURIs == ["https://a.example/cb"] && client.secretMatches("s") && !client.secretMatches("t"))
            let code = StoredCode(
                clientID: "c1", redirectURI: "https://a.example/cb", redirectURIGiven: true, scope: nil, codeChallenge: "x", grantID: "g1",
                approvedBy: "key_1", expiresAt: Date().addingTimeInterval(60), usedAt: nil, resource: "https://gw.example/mcp")
            try await stores.oauth.insertCode("code-1", code)
            let first = try await stores.oauth.redeemCode("code-1")
            #expect(first.redeemed?.grantID == "g1" && first.redeemed?.redirectURIGiven == true && first.redeemed?.resource == "https://gw.example/mcp")
            let second = try await stores.oauth.redeemCode("code-1")
            #expect(second.redeemed == nil && second.existing?.usedAt != nil)
            try await stores.oauth.insertToken(
                "tok-a", kind: "access", clientID: "c1", grantID: "g1", approvedBy: "key_1", scope: nil, resource: nil,
                expiresAt: Date().addingTimeInterval(60))
            try await stores.oauth.insertToken(
                "tok-r", kind: "refresh", clientID: "c1", grantID: "g1", approvedBy: "key_1", scope: nil, resource: nil,
                expiresAt: Date().addingTimeInterval(60))
            #expect(try await stores.oauth.markRotated("tok-r", result: "sealed"))
            #expect(try await !stores.oauth.markRotated("tok-r", result: "again"))
            #expect(try await stores.oauth.token("tok-a")?.revokedAt == nil)
            try await stores.oauth.revokeGrant("g1")
            #expect(try await stores.oauth.token("tok-a")?.revokedAt != nil)
            #expect(try await stores.oauth.removeClient("c1"))
            #expect(try await stores.oauth.token("tok-a") == nil)
            #expect(try await !stores.oauth.removeClient("c1"))
        }
    }

    static func delivery(_ id: String, owner: String = "key_1", callback: String? = nil) -> WebhookDeliveryRecord {
        WebhookDeliveryRecord(
            id: id, deliveryID: "d-" + id, event: "prompt", payload: "{}", status: .pending, principal: owner, owner: owner,
            receivedAt: Date(), updatedAt: Date(), callbackURL: callback, callbackStatus: callback == nil ? nil : .pending, callbackAttempts: 0)
    }

    @Test(arguments: StoreBackend.allCases)
    func webhookDeliveriesAreClaimedOnceAndTakenOverWhenTheLeaseRunsOut(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            let store = stores.webhooks
            #expect(try await store.insertIfAbsent(Self.delivery("w1")).isNew)
            #expect(try await !store.insertIfAbsent(Self.delivery("w1-again").with { $0.deliveryID = "d-w1" }).isNew)
            // Two holders claim at once: one gets it.
            async let a = store.claimNext(holder: "A", lease: .milliseconds(600))
            async let b = store.claimNext(holder: "B", lease: .milliseconds(600))
            let claims = [try await a, try await b].compactMap { $0 }
            #expect(claims.map(\.id) == ["w1"])
            #expect(try await store.claimNext(holder: "B", lease: .seconds(30)) == nil)
            let renewedByA = try await store.renewLease("w1", holder: "A", lease: .milliseconds(600))
            let holder = renewedByA ? "A" : "B"
            let other = holder == "A" ? "B" : "A"
            #expect(try await !store.renewLease("w1", holder: other, lease: .seconds(30)))
            // The holder stops renewing (it died): after the lease, the other takes it over.
            try await Task.sleep(for: .milliseconds(900))
            let takeover = try #require(try await store.claimNext(holder: other, lease: .seconds(30)))
            #expect(takeover.id == "w1")
            let usage = TokenUsage(inputTokens: 1, cachedInputTokens: 0, outputTokens: 2)
            #expect(try await !store.complete("w1", holder: holder, conversationID: "c", result: "late", usage: usage))
            #expect(try await store.complete("w1", holder: other, conversationID: "c", result: "done", usage: usage))
            let finished = try #require(try await store.delivery("d-w1", owner: "key_1"))
            #expect(finished.status == .completed && finished.result == "done" && finished.usage == usage)
            #expect(try await store.delivery("d-w1", owner: "key_2") == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func releasedLeasesAndCallbacksAreTakenOnce(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            let store = stores.webhooks
            _ = try await store.insertIfAbsent(Self.delivery("w2", callback: "https://cb.example/x"))
            _ = try #require(try await store.claimNext(holder: "A", lease: .seconds(30)))
            #expect(try await store.releaseLeases(holder: "A") == 1)
            let again = try #require(try await store.claimNext(holder: "B", lease: .seconds(30)))
            #expect(try await store.fail(again.id, holder: "B", conversationID: nil, error: "boom"))
            let due = try await store.dueCallbacks(now: Date().addingTimeInterval(1)).due
            #expect(due.map(\.id) == ["w2"])
            #expect(try await store.claimCallback("w2", attempts: 0, holder: "A", lease: .seconds(30)))
            #expect(try await !store.claimCallback("w2", attempts: 0, holder: "B", lease: .seconds(30)))
            try await store.recordCallbackAttempt("w2", delivered: true, error: nil, nextAttemptAt: nil)
            #expect(try await !store.claimCallback("w2", attempts: 1, holder: "B", lease: .seconds(30)))
            #expect(try await store.dueCallbacks(now: Date().addingTimeInterval(1)).due.isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func signaturesTicketsHomesAndSecrets(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            #expect(try await stores.webhookSignatures.claim("sig", principal: "p", deliveryID: "d1"))
            #expect(try await stores.webhookSignatures.claim("sig", principal: "p", deliveryID: "d1"))
            #expect(try await !stores.webhookSignatures.claim("sig", principal: "p", deliveryID: "d2"))

            let principal = Principal(kind: .oauth, id: "oauth:c:g", owner: "key_1", scopes: ["a"], credential: .accessToken(hash: "h"), audience: "https://x")
            let ticket = try await stores.webSocketTickets.issue(for: principal)
            #expect(try await stores.webSocketTickets.redeem(ticket) == principal)
            #expect(try await stores.webSocketTickets.redeem(ticket) == nil)

            #expect(try await stores.conversationHomes.home(of: "conv") == nil)
            try await stores.conversationHomes.recordHome("conv", replicaURL: "http://a:8080")
            try await stores.conversationHomes.recordHome("conv", replicaURL: "http://b:8080")
            #expect(try await stores.conversationHomes.home(of: "conv") == "http://b:8080")

            let secret = try stores.replicaSecret()
            let again = try stores.replicaSecret()
            #expect(secret.count == 32 && secret == again)
        }
    }

    /// Usage adds up per account, model and day (concurrent calls included); budgets and an
    /// allowlist are kept and a nil budget leaves the stored one as it is.
    @Test(arguments: StoreBackend.allCases)
    func usageAddsUpAndBudgetsAndAllowlistsAreKept(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            let usage = stores.usage
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await usage.record(account: "key_a", model: "m1", date: "2026-12-07", usage: TokenUsage(inputTokens: 10, cachedInputTokens: 2, outputTokens: 5))
                    }
                }
                try await group.waitForAll()
            }
            try await usage.record(account: "key_a", model: "m2", date: "2026-12-08", usage: TokenUsage(inputTokens: 1, cachedInputTokens: 0, outputTokens: 1))
            try await usage.record(account: "key_b", model: "m1", date: "2026-12-07", usage: TokenUsage(inputTokens: 100, cachedInputTokens: 0, outputTokens: 100))
            let rows = try await usage.usage(account: "key_a", from: "2026-12-01", to: "2026-12-31")
            #expect(rows == [
                UsageRecord(date: "2026-12-07", model: "m1", requests: 20, inputTokens: 200, cachedInputTokens: 40, outputTokens: 100),
                UsageRecord(date: "2026-12-08", model: "m2", requests: 1, inputTokens: 1, cachedInputTokens: 0, outputTokens: 1),
            ])
            #expect(try await usage.tokens(account: "key_a", from: "2026-12-07", to: "2026-12-07") == 300)
            #expect(try await usage.tokens(account: "key_c", from: "2026-12-01", to: "2026-12-31") == 0)

            #expect(try await usage.settings(account: "key_a") == KeyUsageSettings())
            try await usage.setBudgets(account: "key_a", tokensPerDay: 1000, tokensPerMonth: nil)
            try await usage.setBudgets(account: "key_a", tokensPerDay: nil, tokensPerMonth: 5000)
            try await usage.setModelsAllowed(account: "key_a", ["m1", "m2"])
            #expect(try await usage.settings(account: "key_a") == KeyUsageSettings(tokensPerDay: 1000, tokensPerMonth: 5000, modelsAllowed: ["m1", "m2"]))
            try await usage.setModelsAllowed(account: "key_a", nil)
            #expect(try await usage.settings(account: "key_a").modelsAllowed == nil)
        }
    }

    /// Console sessions: found until they expire, ended one at a time (sign-out) or all of a key's
    /// at once (revocation).
    @Test(arguments: StoreBackend.allCases)
    func consoleSessionsEndBySignOutRevocationAndExpiry(_ backend: StoreBackend) async throws {
        try await withStores(backend) { stores, _ in
            let sessions = stores.consoleSessions
            let now = Date()
            for (hash, key) in [("h1", "key_a"), ("h2", "key_a"), ("h3", "key_b")] {
                try await sessions.insert(ConsoleSession(tokenHash: hash, keyID: key, createdAt: now, expiresAt: now.addingTimeInterval(60)))
            }
            #expect(try await sessions.session(tokenHash: "h1", now: now)?.keyID == "key_a")
            #expect(try await sessions.session(tokenHash: "h1", now: now.addingTimeInterval(61)) == nil)
            #expect(try await sessions.delete(tokenHash: "h1"))
            #expect(try await !sessions.delete(tokenHash: "h1"))
            #expect(try await sessions.deleteAll(keyID: "key_a") == 1)
            try await sessions.deleteExpired(now: now.addingTimeInterval(61))
            #expect(try await sessions.session(tokenHash: "h3", now: now) == nil)
        }
    }

    /// A delivery that continues a conversation living on replica A is left by replica B and
    /// claimed by A; a new conversation's delivery is anyone's.
    @Test func aDeliveryContinuingAConversationIsClaimedOnlyByItsHome() async throws {
        try await withStores(.postgres) { stores, _ in
            let store = stores.webhooks
            try await stores.conversationHomes.recordHome("conv-a", replicaURL: "http://a:8080")
            _ = try await store.insertIfAbsent(Self.delivery("w-a").with { $0.conversationID = "CONV-A" })
            #expect(try await store.claimNext(holder: "B", lease: .seconds(30), home: "http://b:8080") == nil)
            #expect(try await store.claimNext(holder: "A", lease: .seconds(30), home: "http://a:8080")?.id == "w-a")
            _ = try await store.insertIfAbsent(Self.delivery("w-new").with { $0.deliveryID = "d-new" })
            #expect(try await store.claimNext(holder: "B", lease: .seconds(30), home: "http://b:8080")?.id == "w-new")
        }
    }

    /// Two limiters on one database (two replicas): 5 per minute holds across both together.
    @Test func sharedRateLimitHoldsAcrossTwoLimiters() async throws {
        try await withStores(.postgres) { stores, _ in
            let shared = try #require(stores.rateLimits)
            let limits = RateLimits(perMinute: 5, perHour: 0, perDay: 0, concurrentTurns: 0)
            let a = RateLimiter(defaults: limits, shared: shared)
            let b = RateLimiter(defaults: limits, shared: PostgresRateLimitStore(database: try #require(stores.postgresDatabase)))
            let principal = Principal(kind: .apiKey, id: "key_shared")
            var allowed = 0
            var remaining: [Int] = []
            for index in 0..<8 {
                switch try await (index.isMultiple(of: 2) ? a : b).decide(principal) {
                case .allowed(let status):
                    allowed += 1
                    remaining.append(status?.remaining ?? -1)
                case .refused(_, let retryAfter): #expect(retryAfter >= 1)
                }
            }
            #expect(allowed == 5)
            #expect(remaining == [4, 3, 2, 1, 0])
        }
    }

    /// Concurrent decisions from two limiters on one database take exactly the budget (the row
    /// lock serialises them), and what a decision costs is measured against the in-memory one
    /// (printed for bench/RESULTS.md: `swift test --filter sharedRateLimitUnderConcurrency`).
    @Test func sharedRateLimitUnderConcurrencyTakesExactlyTheBudget() async throws {
        try await withStores(.postgres) { stores, _ in
            let limits = RateLimits(perMinute: 100, perHour: 0, perDay: 0, concurrentTurns: 0)
            let database = try #require(stores.postgresDatabase)
            let limiters = [RateLimiter(defaults: limits, shared: PostgresRateLimitStore(database: database)),
                            RateLimiter(defaults: limits, shared: PostgresRateLimitStore(database: database))]
            let principal = Principal(kind: .apiKey, id: "key_concurrent")
            let started = ContinuousClock.now
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        if case .allowed = try await limiters[index % 2].decide(principal) { return true }
                        return false
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            let concurrent = ContinuousClock.now - started
            // The budget, plus what the bucket refilled meanwhile (100 per minute); without the row
            // lock the two limiters would admit far more.
            let refilled = Int(Double(concurrent.components.seconds) * 100 / 60) + 2
            #expect((100...100 + refilled).contains(allowed), "allowed \(allowed) in \(concurrent)")

            // Sequential cost per decision: PostgreSQL (one transaction) and in memory.
            let sequentialPrincipal = Principal(kind: .apiKey, id: "key_sequential")
            let shared = limiters[0]
            let memory = RateLimiter(defaults: limits)
            var clock = ContinuousClock.now
            for _ in 0..<200 { _ = try await shared.decide(sequentialPrincipal) }
            let postgresEach = (ContinuousClock.now - clock) / 200
            clock = ContinuousClock.now
            for _ in 0..<200 { _ = try await memory.decide(sequentialPrincipal) }
            let memoryEach = (ContinuousClock.now - clock) / 200
            print("rate-limit cost: postgres \(postgresEach) per decision, memory \(memoryEach); 300 concurrent from two limiters in \(concurrent)")
        }
    }
}

extension WebhookDeliveryRecord {
    func with(_ change: (inout WebhookDeliveryRecord) -> Void) -> WebhookDeliveryRecord {
        var copy = self
        change(&copy)
        return copy
    }
}
