import AsyncHTTPClient
import Foundation
import GatewayRuntime
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import GatewayServer

/// The gateway on PostgreSQL (PROTOCOLS.md §12): configuration, a database that is down at
/// startup or goes away later, and two gateways sharing one database.
@Suite("PostgreSQL: DATABASE_URL, outages and two gateways on one database", .serialized)
struct PostgresGatewayTests {
    @Test func databaseURLIsParsedAndItsPasswordNeverShown() throws {
        let url = try DatabaseURL(parsing: "postgres://gw:s%40cret@db.internal:6543/gateway?sslmode=verify-full")
        #expect(url.host == "db.internal" && url.port == 6543 && url.user == "gw" && url.password == "s@cret" && url.database == "gateway")
        #expect(url.sslMode == .verifyFull)
        #expect(url.redacted == "postgres://gw:***@db.internal:6543/gateway?sslmode=verify-full")
        #expect(try DatabaseURL(parsing: "postgresql://gw@h/db").sslMode == .prefer)
        for bad in ["mysql://a@b/c", "postgres://b/c", "postgres://a@b", "postgres://a:p@b/c?sslmode=sometimes", "postgres://a@b/c?host=x", "nonsense"] {
            #expect(throws: DatabaseURLError.self, "\(bad)") { try DatabaseURL(parsing: bad) }
        }
        let error = #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(environment: Environment(["DATABASE_URL": "postgres://gw:hunter2@h/db?sslmode=bogus"]))
        }
        #expect(error?.key == "DATABASE_URL")
        #expect(!(error.map { String(describing: $0) } ?? "").contains("hunter2"))
        let configuration = try GatewayConfiguration.load(environment: Environment(["DATABASE_URL": "postgres://gw:hunter2@h/db"]))
        let report = ConfigurationReport(configuration: configuration, environment: Environment(["DATABASE_URL": "postgres://gw:hunter2@h/db"]))
        let shown = try #require(report.entries.first { $0.name == "DATABASE_URL" })
        #expect(shown.value == "postgres://gw:***@h:5432/db?sslmode=prefer")
    }

    /// The gateway starts with its database down, answers 503s that say so, recovers when the
    /// database starts, and again after the database is stopped and started under it.
    @Test func aDatabaseThatIsDownAtStartupOrLaterGives503AndTheGatewayRecovers() async throws {
        guard try PostgresTestServer.require() != nil else { return }
        let cluster = try PostgresTestCluster(port: 54331)
        try cluster.control("stop")
        let url = "postgres://gateway:gateway@127.0.0.1:54331/postgres?sslmode=disable"
        try await TestGateway(["DATABASE_URL": url]).withLiveServer { client in
            // Down at startup: the gateway is up, not ready, and says why.
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let notReady = try await client.execute(uri: "/ready", method: .get)
            #expect(notReady.status == .serviceUnavailable)
            #expect(String(buffer: notReady.body).contains("PostgreSQL"))
            try await Self.expectDatabaseUnavailable(client)

            try cluster.control("start")
            try await Self.eventually { try await client.execute(uri: "/ready", method: .get).status == .ok }
            #expect(try await client.execute(uri: "/conversations", method: .get, headers: .apiKey()).status == .ok)

            // Goes away later.
            try cluster.control("stop")
            try await Self.expectDatabaseUnavailable(client)
            #expect(try await client.execute(uri: "/ready", method: .get).status == .serviceUnavailable)
            try cluster.control("start")
            try await Self.eventually {
                try await client.execute(uri: "/conversations", method: .get, headers: .apiKey()).status == .ok
            }
        }
        try cluster.control("stop")
    }

    /// Two gateways on one database: a key created as `codex-gateway keys create` does (with
    /// DATABASE_URL) works at both, an OAuth token is accepted at B and refused there once revoked,
    /// and a limit of 5 per minute holds across both together.
    @Test func twoGatewaysShareKeysTokensAndRateLimits() async throws {
        guard let server = try PostgresTestServer.require() else { return }
        let url = try await PostgresTestServer.freshDatabase(on: server).urlString
        let environment = ["DATABASE_URL": url, "RATE_LIMIT_PER_MINUTE": "5"]
        let cli = try GatewayStores.open(configuration: try TestGateway(environment).configuration(), logger: TestGateway.quietLogger)
        try await cli.waitUntilReady(timeout: .seconds(20))
        let (key, _) = try await cli.apiKeys.create(name: "shared")
        let oauth = OAuthService(store: cli.oauth, settings: .init(issuer: "http://127.0.0.1"), logger: TestGateway.quietLogger)
        let tokens = try await oauth.issueTokens(clientID: "c1", grantID: "g1", approvedBy: "auto-approve", scope: nil, resource: nil)
        let keyHeaders = HTTPFields.apiKey(key)
        try await TestGateway(environment).withLiveServer { a in
            try await TestGateway(environment).withLiveServer { b in
                var remaining: [String] = []
                for (index, client) in [a, b, a, b, a].enumerated() {
                    let response = try await client.execute(uri: "/conversations", method: .get, headers: keyHeaders)
                    #expect(response.status == .ok, "request \(index + 1)")
                    remaining.append(response.headers[HTTPField.Name("X-RateLimit-Remaining")!] ?? "")
                }
                #expect(remaining == ["4", "3", "2", "1", "0"])
                for client in [b, a] {
                    let refused = try await client.execute(uri: "/conversations", method: .get, headers: keyHeaders)
                    #expect(refused.status == .tooManyRequests)
                }
                #expect(try await b.execute(uri: "/conversations", method: .get, headers: .bearer(tokens.accessToken)).status == .ok)
                try await cli.oauth.revokeToken(tokens.accessToken)
                #expect(try await b.execute(uri: "/conversations", method: .get, headers: .bearer(tokens.accessToken)).status == .unauthorized)
                #expect(try await a.execute(uri: "/conversations", method: .get, headers: .bearer(tokens.accessToken)).status == .unauthorized)
            }
        }
        try await cli.close()
    }

    static func expectDatabaseUnavailable(_ client: any TestClientProtocol) async throws {
        let started = ContinuousClock.now
        let response = try await client.execute(uri: "/conversations", method: .get, headers: .apiKey())
        #expect(ContinuousClock.now - started < .seconds(8), "a request must not hang on the database")
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers[HTTPField.Name("Retry-After")!] == "5")
        let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
        #expect(body?["code"] as? String == "database_unavailable")
    }

    static func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the condition did not hold within \(timeout)")
    }
}

/// A PostgreSQL cluster of the test's own (its own port), started and stopped by
/// `scripts/with-postgres`, for tests that stop the database under a gateway.
struct PostgresTestCluster {
    let port: Int
    let script: String

    init(port: Int) throws {
        self.port = port
        script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/with-postgres").path
    }

    /// Runs `scripts/with-postgres <action>` and waits for it (posix_spawn and waitpid:
    /// Foundation's `Process.waitUntilExit` was seen not to return once `pg_ctl start` had left
    /// the server running in the background).
    func control(_ action: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PG_TEST_PORT"] = String(port)
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(script), strdup(action), nil]
        let variables: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid: pid_t = 0
        guard posix_spawn(&pid, script, nil, nil, arguments, variables) == 0 else { throw PostgresTestUnavailable() }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else { throw PostgresTestUnavailable() }
    }
}
