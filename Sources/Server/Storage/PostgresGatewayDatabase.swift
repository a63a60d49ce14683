import Foundation
import GatewayRuntime
import HTTPTypes
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The gateway's stores in PostgreSQL (`DATABASE_URL`), shared by every replica (PROTOCOLS.md §12).
///
/// One `PostgresClient` pool. The database may be down when the gateway starts or go away later:
/// the gateway still starts, a background task applies the migrations (under an advisory lock, so
/// replicas starting together do not race) and reads the installation's secrets as soon as it
/// answers, and until then every store call fails fast with ``unavailable`` (503
/// `database_unavailable`, `Retry-After`) instead of waiting on the pool.
public final class PostgresGatewayDatabase: Sendable {
    /// What the database holds for the whole installation, read once it answers.
    public struct Secrets: Sendable {
        public var fingerprinter: KeyFingerprinter
        /// The secret replicas authenticate each other with (made on first start).
        public var replicaSecret: [UInt8]
    }

    public let url: DatabaseURL
    let client: PostgresClient
    let logger: Logger
    /// How long one statement may take before the database counts as unavailable.
    let statementTimeout: Duration
    private let state = Mutex<State>(State())
    private let runner = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        var secrets: Secrets?
        var waiters: [CheckedContinuation<Secrets, Never>] = []
        var lastFailure: String?
    }

    /// Creates the pool and starts connecting and migrating in the background; never fails on a
    /// database that does not answer (that is what ``ping()`` and the 503s report).
    public init(url: DatabaseURL, logger: Logger, statementTimeout: Duration = .seconds(5)) throws {
        self.url = url
        self.logger = logger
        self.statementTimeout = statementTimeout
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: try Self.tls(url.sslMode))
        configuration.options.connectTimeout = .seconds(3)
        configuration.options.maximumConnections = 20
        configuration.options.additionalStartupParameters = [("application_name", "codex-gateway")]
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let client = self.client
        runner.withLock { $0 = Task { await client.run() } }
        Task { await self.prepare() }
    }

    static func tls(_ mode: DatabaseURL.SSLMode) throws -> PostgresClient.Configuration.TLS {
        guard let tls = mode.tls else { return .disable }
        return tls.isOptional ? .prefer(tls.configuration) : .require(tls.configuration)
    }

    /// Retries migrating and reading the secrets until the database answers.
    private func prepare() async {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let secrets = try await withStatementTimeout(.seconds(30)) { try await self.migrateAndLoad() }
                let waiters = state.withLock { state in
                    state.secrets = secrets
                    state.lastFailure = nil
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: secrets) }
                logger.info("database ready", metadata: ["database.url": .string(url.redacted)])
                return
            } catch {
                let first = state.withLock { state in
                    defer { state.lastFailure = String(describing: error) }
                    return state.lastFailure == nil
                }
                if first {
                    logger.error(
                        "database not reachable; retrying", metadata: ["database.url": .string(url.redacted), "error": .string(Self.describe(error))])
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func migrateAndLoad() async throws -> Secrets {
        try await client.withConnection { connection in
            try await PostgresMigrations.apply(on: connection, logger: logger)
            let salt = try await PostgresInstallationSecrets.load(InstallationSalt.name, on: connection, logger: logger)
            let replica = try await PostgresInstallationSecrets.load(PostgresInstallationSecrets.replicaSecretName, on: connection, logger: logger)
            return Secrets(fingerprinter: KeyFingerprinter(salt: salt), replicaSecret: replica)
        }
    }

    /// The installation's secrets; ``unavailable`` while the database has not answered yet.
    public func secrets() throws -> Secrets {
        guard let secrets = state.withLock({ $0.secrets }) else { throw Self.unavailable }
        return secrets
    }

    /// Waits until the database has been migrated (the command line, which has nothing to serve meanwhile).
    public func waitUntilReady(timeout: Duration) async throws -> Secrets {
        try await withStatementTimeout(timeout) {
            await withCheckedContinuation { continuation in
                let ready = self.state.withLock { state -> Secrets? in
                    if let secrets = state.secrets { return secrets }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    /// The 503 every store call answers while the database does not.
    public static var unavailable: GatewayError {
        var headers = HTTPFields()
        headers[.retryAfter] = "5"
        return GatewayError(
            status: .serviceUnavailable, code: "database_unavailable",
            message: "The gateway's database is not reachable at the moment; retry in a few seconds.", headers: headers)
    }

    /// Runs `query`, mapping a database that does not answer (or answers too slowly) to ``unavailable``.
    @discardableResult
    public func query(_ query: PostgresQuery, timeout: Duration? = nil) async throws -> [PostgresRow] {
        _ = try secrets()
        return try await run(timeout: timeout) {
            try await self.client.query(query, logger: self.logger).collect()
        }
    }

    /// Runs a statement prepared once per connection (parsed and planned once, not on every call:
    /// for a statement every request runs, such as the shared rate limit's), mapping failures as
    /// ``query(_:timeout:)`` does.
    public func execute<Statement: PostgresPreparedStatement>(_ statement: Statement, timeout: Duration? = nil) async throws -> [PostgresRow]
    where Statement.Row == PostgresRow {
        _ = try secrets()
        return try await run(timeout: timeout) {
            var rows: [PostgresRow] = []
            for try await row in try await self.client.execute(statement, logger: self.logger) { rows.append(row) }
            return rows
        }
    }

    /// Runs `body` with a connection in a transaction (committed when it returns, rolled back when it throws).
    public func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        _ = try secrets()
        return try await run(timeout: nil) {
            try await self.client.withTransaction(logger: self.logger) { try await body($0) }
        }
    }

    private func run<Result: Sendable>(timeout: Duration?, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        do {
            return try await withStatementTimeout(timeout ?? statementTimeout, body)
        } catch let error where Self.isUnavailable(error) {
            logger.warning("database call failed", metadata: ["error": .string(Self.describe(error))])
            throw Self.unavailable
        }
    }

    /// A connection, network or pool failure, or a timeout (not an SQL error the caller caused).
    static func isUnavailable(_ error: any Error) -> Bool {
        if error is StatementTimeout { return true }
        if let error = error as? GatewayError { return error.code == "database_unavailable" }
        guard let error = error as? PSQLError else { return true }
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return true }
        // 08: connection exception; 57P01-57P03: the server shutting down or starting.
        return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            return "\(error.code)\(error.serverInfo?[.message].map { ": \($0)" } ?? "")\(error.underlying.map { " (\($0))" } ?? "")"
        }
        return String(describing: error)
    }

    /// For readiness: nil when the database answers, else why not.
    public func problem() async -> String? {
        if let failure = state.withLock({ $0.secrets == nil ? ($0.lastFailure ?? "not connected yet") : nil }) {
            return "the PostgreSQL database at \(url.host):\(url.port)/\(url.database) does not answer (\(failure))"
        }
        do {
            try await query("SELECT 1", timeout: .seconds(2))
            return nil
        } catch {
            return "the PostgreSQL database at \(url.host):\(url.port)/\(url.database) does not answer"
        }
    }

    /// Stops the pool.
    public func close() async {
        let task = runner.withLock { $0 }
        task?.cancel()
        await task?.value
    }
}

/// Closes the PostgreSQL pool when the application stops (after the services that use it).
public struct PostgresDatabaseService: Service {
    public let database: PostgresGatewayDatabase

    public func run() async throws {
        try? await gracefulShutdown()
        await database.close()
    }
}

extension DatabaseURL.SSLMode {
    /// TLS as libpq's `sslmode` asks for it, for the pool and for `doctor`'s one connection: nil for
    /// `disable`; `prefer` (optional) and `require` encrypt without verifying; `verify-full` verifies.
    var tls: (configuration: TLSConfiguration, isOptional: Bool)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyFull: break
        }
        return (configuration, self == .prefer)
    }
}

struct StatementTimeout: Error {}

/// `body`, or ``StatementTimeout`` when it takes longer than `timeout` (it is then cancelled).
///
/// Returns at the timeout even when `body` does not stop when cancelled (postgres-nio's wait for a
/// pooled connection while the server is down does not): a task group would wait for it. The body
/// runs on in the background until it notices or finishes.
func withStatementTimeout<Result: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
    let work = Task { try await body() }
    let outcome = ResumeOnce<Result>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            outcome.set(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                work.cancel()
                outcome.resume(with: .failure(StatementTimeout()))
            }
            Task {
                let result = await work.result
                timer.cancel()
                outcome.resume(with: result)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// A continuation resumed by whichever comes first (the work or its timer), once.
private final class ResumeOnce<Result: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Result, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<Result, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resume(with result: Swift.Result<Result, any Error>) {
        let taken = continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }
        taken?.resume(with: result)
    }
}

extension PostgresRandomAccessRow {
    func string(_ name: String) -> String? { try? self[name].decode(String?.self) ?? nil }
    func int(_ name: String) -> Int? { try? self[name].decode(Int?.self) ?? nil }
    func double(_ name: String) -> Double? { try? self[name].decode(Double?.self) ?? nil }
    func bool(_ name: String) -> Bool? { try? self[name].decode(Bool?.self) ?? nil }
}

extension Date {
    /// Seconds since 1970, as both backends store times.
    var epoch: Double { timeIntervalSince1970 }
}
