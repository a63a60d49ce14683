import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let now = Mutex<Double>(1000)
    var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
}

@Suite("Rate limiting: token buckets and the concurrent-turn cap")
struct RateLimiterTests {
    let alice = Principal(kind: .apiKey, id: "key_alice")
    let bob = Principal(kind: .apiKey, id: "key_bob")

    @Test func aFullBucketAllowsItsBudgetThenRefusesWithTheTimeToTheNextToken() {
        let clock = ManualClock()
        let limiter = RateLimiter(defaults: RateLimits(perMinute: 3, perHour: 0, perDay: 0, concurrentTurns: 0), clock: clock.read)
        var remaining: [Int] = []
        for _ in 0..<3 {
            guard case .allowed(let status?) = limiter.admit(alice) else {
                Issue.record("a request within the budget was refused")
                return
            }
            remaining.append(status.remaining)
            #expect(status.limit == 3 && status.window == 60 && status.policy == "3;w=60")
        }
        #expect(remaining == [2, 1, 0])
        guard case .refused(let status, let retryAfter) = limiter.admit(alice) else {
            Issue.record("the fourth request in a minute was admitted")
            return
        }
        #expect(status.remaining == 0)
        #expect(retryAfter == 20, "one token per 20 s at 3 per minute")
        #expect(status.resetSeconds == 60)
        // Refusals take nothing; the bucket refills continuously.
        clock.advance(19)
        guard case .refused = limiter.admit(alice) else {
            Issue.record("admitted before a whole token refilled")
            return
        }
        clock.advance(1.5)
        guard case .allowed = limiter.admit(alice) else {
            Issue.record("a token that refilled was not available")
            return
        }
        // Principals do not share buckets.
        guard case .allowed = limiter.admit(bob) else {
            Issue.record("another principal was limited by alice's use")
            return
        }
    }

    @Test func theHeadersDescribeTheTightestWindowAndTheDayBudgetAlsoRefuses() {
        let clock = ManualClock()
        let limiter = RateLimiter(defaults: RateLimits(perMinute: 10, perHour: 0, perDay: 4, concurrentTurns: 0), clock: clock.read)
        for expected in [3, 2, 1, 0] {
            guard case .allowed(let status?) = limiter.admit(alice) else {
                Issue.record("refused within the budget")
                return
            }
            #expect(status.limit == 4 && status.window == 86400 && status.remaining == expected)
            #expect(status.policy == "10;w=60, 4;w=86400")
        }
        clock.advance(120)  // the minute window is full again; the day's is not
        guard case .refused(let status, let retryAfter) = limiter.admit(alice) else {
            Issue.record("the daily budget was not enforced")
            return
        }
        #expect(status.window == 86400)
        #expect(retryAfter >= 21_000, "a day's token takes 6 hours at 4 per day, got \(retryAfter)")
    }

    @Test func unlimitedWindowsAdmitEverythingAndSayNothing() {
        let limiter = RateLimiter(defaults: .unlimited)
        for _ in 0..<1000 {
            guard case .allowed(nil) = limiter.admit(alice) else {
                Issue.record("an unlimited principal was limited")
                return
            }
        }
    }

    @Test func perKeyOverridesReplaceOnlyTheFieldsTheySet() {
        let limiter = RateLimiter(defaults: RateLimits(perMinute: 1, perHour: 50, perDay: 0, concurrentTurns: 2))
        let generous = Principal(kind: .apiKey, id: "key_generous", limitOverrides: RateLimitOverrides(perMinute: 5))
        #expect(limiter.limits(for: generous) == RateLimits(perMinute: 5, perHour: 50, perDay: 0, concurrentTurns: 2))
        var admitted = 0
        for _ in 0..<10 { if case .allowed = limiter.admit(generous) { admitted += 1 } }
        #expect(admitted == 5)
    }

    @Test func turnPermitsAreCappedAndComeBackWhenReleasedOrDropped() {
        let limiter = RateLimiter(defaults: RateLimits(perMinute: 0, perHour: 0, perDay: 0, concurrentTurns: 2))
        let first = limiter.acquireTurn(for: alice)
        var second = limiter.acquireTurn(for: alice)
        #expect(first != nil && second != nil)
        #expect(limiter.acquireTurn(for: alice) == nil, "a third concurrent turn is refused")
        #expect(limiter.acquireTurn(for: bob) != nil, "the cap is per principal")
        first?.release()
        first?.release()  // idempotent
        #expect(limiter.runningTurns(for: alice) == 1)
        second = nil
        #expect(limiter.runningTurns(for: alice) == 0, "dropping a permit releases it")
        _ = second
    }

    @Test func idlePrincipalsAreForgottenSoMemoryFollowsActivity() {
        let clock = ManualClock()
        let limiter = RateLimiter(defaults: RateLimits(perMinute: 10, perHour: 0, perDay: 0, concurrentTurns: 0), sweepThreshold: 100, clock: clock.read)
        for index in 0..<150 { _ = limiter.admit(Principal(kind: .apiKey, id: "key_\(index)")) }
        clock.advance(61)
        _ = limiter.admit(alice)
        #expect(limiter.trackedPrincipals <= 2, "entries whose buckets refilled were dropped, got \(limiter.trackedPrincipals)")
    }
}

@Suite("Rate limiting over HTTP, WebSocket and JSON-RPC", .serialized)
struct RateLimitHTTPTests {
    @Test func everyAuthenticatedResponseCarriesTheHeadersAndTheBudgetEndsIn429() async throws {
        try await TestGateway(["RATE_LIMIT_PER_MINUTE": "3"]).withRouter { client in
            for expected in ["2", "1", "0"] {
                let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("X-RateLimit-Limit")!] == "3")
                #expect(response.headers[HTTPField.Name("X-RateLimit-Remaining")!] == expected)
                #expect(response.headers[HTTPField.Name("X-RateLimit-Reset")!].flatMap(Int.init) != nil)
                #expect(response.headers[HTTPField.Name("X-RateLimit-Policy")!] == "3;w=60, 1000;w=3600, 10000;w=86400")
            }
            let refused = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(refused.status == .tooManyRequests)
            let retryAfter = try #require(refused.headers[HTTPField.Name("Retry-After")!].flatMap(Int.init))
            #expect((1...20).contains(retryAfter))
            #expect(refused.headers[HTTPField.Name("X-RateLimit-Remaining")!] == "0")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(refused.body.readableBytesView)) as? [String: Any])
            #expect(body["code"] as? String == "rate_limited")
            #expect(body["status"] as? Int == 429)
            #expect((body["error"] as? String)?.contains("per minute") == true)
            #expect(body["request_id"] as? String == refused.headers[HTTPField.Name("X-Request-Id")!])

            // Error responses of admitted requests carry the headers too; public routes do not.
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.headers[HTTPField.Name("X-RateLimit-Limit")!] == nil)
            let unauthenticated = try await client.execute(uri: "/whoami", method: .get)
            #expect(unauthenticated.status == .unauthorized)
            #expect(unauthenticated.headers[HTTPField.Name("X-RateLimit-Limit")!] == nil)
        }
    }

    @Test func anAdmittedRequestThatFailsValidationStillReportsItsBudget() async throws {
        try await TestGateway(["RATE_LIMIT_PER_MINUTE": "50"]).withRouter { client in
            var headers = HTTPFields.apiKey()
            headers[.contentType] = "application/json"
            let response = try await client.execute(uri: "/exec", method: .post, headers: headers, body: ByteBuffer(string: "{}"))
            #expect(response.status == .badRequest)
            #expect(response.headers[HTTPField.Name("X-RateLimit-Remaining")!] == "49")
        }
    }

    @Test func zeroMeansUnlimitedAndWhoamiReportsTheEffectiveLimits() async throws {
        let environment = ["RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_PER_HOUR": "0", "RATE_LIMIT_PER_DAY": "0", "RATE_LIMIT_CONCURRENT_TURNS": "3"]
        try await TestGateway(environment).withRouter { client in
            for _ in 0..<150 {
                let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
                #expect(response.status == .ok)
            }
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(response.headers[HTTPField.Name("X-RateLimit-Limit")!] == nil)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect(body[path: "rate_limits.per_minute"] as? Int == 0)
            #expect(body[path: "rate_limits.concurrent_turns"] as? Int == 3)
        }
    }

    @Test func invalidLimitsAreAConfigurationErrorNamingTheVariable() throws {
        for (key, value) in [("RATE_LIMIT_PER_MINUTE", "-1"), ("RATE_LIMIT_PER_DAY", "lots"), ("RATE_LIMIT_CONCURRENT_TURNS", "1.5")] {
            #expect(throws: ConfigurationError.self) { try TestGateway([key: value]).configuration() }
            do {
                _ = try TestGateway([key: value]).configuration()
            } catch {
                #expect("\(error)".contains(key))
            }
        }
    }

    @Test func aKeysOwnLimitsOverrideTheDefaultsAndApplyWithoutARestart() async throws {
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        let store = SQLiteAPIKeyStore(database: database)
        let (key, info) = try await store.create(name: "ci")
        #expect(try await store.setLimits(id: info.id, RateLimitOverrides(perMinute: 2)))
        #expect(try await store.list().first?.limits == RateLimitOverrides(perMinute: 2))
        try await database.close()

        try await TestGateway(["CODEX_HOME": home, "RATE_LIMIT_PER_MINUTE": "50"]).withRouter { client in
            let statuses = try await (0..<3).asyncMap { _ in
                try await client.execute(uri: "/whoami", method: .get, headers: .apiKey(key)).status
            }
            #expect(statuses == [.ok, .ok, .tooManyRequests])
            // The configured key keeps the default.
            let other = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(other.headers[HTTPField.Name("X-RateLimit-Limit")!] == "50")
        }
    }

    @Test func execBeyondTheConcurrentTurnCapIs429TooManyTurns() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-200", environment: ["RATE_LIMIT_CONCURRENT_TURNS": "1"])
            try await withLiveGateway(setup.gateway) { port in
                let first = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"one"}"#), timeout: .seconds(10))
                var reader = LineReader(iterator: first.body.makeAsyncIterator())
                _ = try await reader.next()  // thread.started: the turn is running
                let second = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"two"}"#), timeout: .seconds(10))
                #expect(second.status.code == 429)
                #expect(second.headers.first(name: "Retry-After") == "1")
                let body = try await second.body.collect(upTo: 1 << 16)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
                #expect(json["code"] as? String == "too_many_turns")
                // JSON-RPC answers the same refusal as an error object.
                let rpc = try await jsonRPCRequest(port: port, #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"three"},"id":7}"#)
                #expect(rpc[path: "error.code"] as? Int == -32005)
                #expect(rpc[path: "error.data.limit"] as? Int == 1)
                while try await reader.next() != nil {}
                // The finished turn gave its permit back.
                let third = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"four"}"#), timeout: .seconds(10))
                #expect(third.status.code == 200)
                _ = try await third.body.collect(upTo: 1 << 20)
            }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
