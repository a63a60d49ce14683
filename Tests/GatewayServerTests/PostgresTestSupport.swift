import Foundation
import GatewayServer
import Logging
import NIOPosix
import PostgresNIO
import Testing

/// The backends every store test runs against.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// The PostgreSQL server the tests use: `TEST_DATABASE_URL` (set by `scripts/with-postgres run`,
/// which `.ci/run` wraps `swift test` in).
///
/// Without it a PostgreSQL test is skipped when run by hand (`swift test --filter …` on a machine
/// without PostgreSQL), but FAILS under CI (`CI` set): the CI script starts PostgreSQL, so a
/// missing URL there means the PostgreSQL half of the suite silently stopped running.
enum PostgresTestServer {
    static var url: DatabaseURL? {
        guard let raw = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !raw.isEmpty else { return nil }
        return try? DatabaseURL(parsing: raw)
    }

    /// The server's URL, or nil (the test returns) when PostgreSQL is not available outside CI.
    static func require() throws -> DatabaseURL? {
        if let url { return url }
        if ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("TEST_DATABASE_URL is not set under CI: run the tests through scripts/with-postgres run")
            throw PostgresTestUnavailable()
        }
        return nil
    }

    /// A new, empty database on the test server, so that a test sees no other's rows.
    static func freshDatabase(on server: DatabaseURL) async throws -> DatabaseURL {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: server.host, port: server.port, username: server.user, password: server.password, database: server.database, tls: .disable),
            id: 1, logger: Logger(label: "test-postgres"))
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "test-postgres"))
        try await connection.close()
        var url = server
        url.database = String(name)
        return url
    }
}

struct PostgresTestUnavailable: Error {}

/// Opens `backend`'s stores on a fresh database (a new SQLite file, or a new PostgreSQL
/// database), runs `body`, closes them. Returns without running `body` when PostgreSQL is not
/// available outside CI (see ``PostgresTestServer``).
func withStores(
    _ backend: StoreBackend, environment: [String: String] = [:], _ body: (GatewayStores, GatewayConfiguration) async throws -> Void
) async throws {
    var environment = ["CODEX_HOME": TemporaryDirectory.make(), "GATEWAY_API_KEY": TestGateway.apiKey].merging(environment) { _, new in new }
    if backend == .postgres {
        guard let server = try PostgresTestServer.require() else { return }
        environment["DATABASE_URL"] = try await PostgresTestServer.freshDatabase(on: server).urlString
    }
    let configuration = try GatewayConfiguration.load(environment: Environment(environment))
    let stores = try GatewayStores.open(configuration: configuration, logger: TestGateway.quietLogger)
    do {
        try await stores.waitUntilReady(timeout: .seconds(20))
        try await body(stores, configuration)
    } catch {
        try? await stores.close()
        throw error
    }
    try await stores.close()
}

extension DatabaseURL {
    /// The URL with its password, for `DATABASE_URL` in a test's environment.
    var urlString: String {
        "postgres://\(user):\(password ?? "")@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }
}
