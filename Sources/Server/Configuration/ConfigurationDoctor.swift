import AsyncHTTPClient
import Foundation
import Logging
import ModelProvider
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PostgresNIO

/// What `codex-gateway doctor` checks, one result per check: the directories the server writes,
/// the database, the API keys, the provider's key and whether the provider answers.
public enum ConfigurationDoctor {
    public struct Check: Sendable, Equatable {
        public var name: String
        public var ok: Bool
        /// What was found, or why the check failed.
        public var detail: String

        /// `ok   NAME: detail` or `FAIL NAME: detail`.
        public var line: String { "\(ok ? "ok  " : "FAIL") \(name): \(detail)" }
    }

    /// Runs every check. Creates `CODEX_HOME` and the SQLite database as the server would (a
    /// PostgreSQL database is only read: ``postgres(_:logger:timeout:)``); the provider
    /// gets one `GET {base_url}/models` with `providerTimeout`.
    public static func run(configuration: GatewayConfiguration, providerTimeout: Duration, logger: Logger) async -> [Check] {
        var checks: [Check] = []
        for (name, path) in [
            ("CODEX_HOME", configuration.codexHome),
            ("sessions", (configuration.codexHome as NSString).appendingPathComponent("sessions")),
        ] {
            let problem = StartupPreflight.writableDirectoryProblem(path)
            checks.append(Check(name: name, ok: problem == nil, detail: "\(path) " + (problem ?? "is a writable directory")))
        }
        checks.append(await database(configuration, logger: logger))
        checks.append(apiKeys(configuration))
        checks.append(providerKey(configuration))
        checks.append(await provider(configuration, timeout: providerTimeout, logger: logger))
        return checks
    }

    /// The database opens, migrates and answers a query (SQLite); or, with `DATABASE_URL`, the
    /// PostgreSQL server is reached and says how many migrations are applied (``postgres(_:logger:)``).
    static func database(_ configuration: GatewayConfiguration, logger: Logger) async -> Check {
        if let url = configuration.databaseURL { return await postgres(url, logger: logger) }
        let path = configuration.databasePath
        let directory = (path as NSString).deletingLastPathComponent
        if let problem = StartupPreflight.writableDirectoryProblem(directory.isEmpty ? "." : directory) {
            return Check(name: "DATABASE_PATH", ok: false, detail: "the database's directory \(directory) \(problem)")
        }
        do {
            let database = try GatewayDatabase(path: path, logger: logger)
            let answers = await database.ping()
            try await database.close()
            return Check(name: "DATABASE_PATH", ok: answers, detail: answers ? "\(path) opens and answers" : "\(path) opens but does not answer")
        } catch let error as ConfigurationError {
            return Check(name: "DATABASE_PATH", ok: false, detail: error.message)
        } catch {
            return Check(name: "DATABASE_PATH", ok: false, detail: "\(path): \(error)")
        }
    }

    /// `DATABASE_URL`: one connection, as the gateway would make it (TLS as `sslmode` says), asks
    /// the server's version and how many of ``PostgresMigrations/versions`` are applied. Nothing is
    /// created or migrated (the gateway does that at its start, under an advisory lock): a fresh
    /// database passes; one migrated by a newer gateway, or that cannot be reached, fails.
    static func postgres(_ url: DatabaseURL, logger: Logger, timeout: Duration = .seconds(10)) async -> Check {
        let name = "DATABASE_URL"
        let known = PostgresMigrations.versions.count
        do {
            let (version, applied) = try await withStatementTimeout(timeout) { () -> (String, Int?) in
                let connection = try await PostgresConnection.connect(configuration: try connectionConfiguration(url), id: 1, logger: logger)
                do {
                    var version = ""
                    for try await value in try await connection.query("SHOW server_version", logger: logger).decode(String.self) { version = value }
                    var applied: Int?
                    let exists = "SELECT to_regclass('schema_migrations') IS NOT NULL"
                    for try await found in try await connection.query(PostgresQuery(unsafeSQL: exists), logger: logger).decode(Bool.self) where found {
                        for try await count in try await connection.query("SELECT max(version) FROM schema_migrations", logger: logger).decode(Int?.self) {
                            applied = count ?? 0
                        }
                    }
                    try await connection.close()
                    return (version, applied)
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
            let answers = "\(url.redacted) answers (PostgreSQL \(version.split(separator: " ").first.map(String.init) ?? version))"
            switch applied ?? 0 {
            case known:
                return Check(name: name, ok: true, detail: "\(answers); migrations: all \(known) applied")
            case let count where count > known:
                return Check(
                    name: name, ok: false,
                    detail: "\(answers) but its schema is at migration \(count), newer than this gateway's \(known): run the newer gateway, or a database of this one's")
            case 0:
                return Check(name: name, ok: true, detail: "\(answers); migrations: none applied yet (the gateway applies all \(known) when it starts)")
            case let count:
                return Check(
                    name: name, ok: true,
                    detail: "\(answers); migrations: \(count) of \(known) applied (the gateway applies the other \(known - count) when it starts)")
            }
        } catch is StatementTimeout {
            return Check(name: name, ok: false, detail: "\(url.redacted) did not answer within \(timeout)")
        } catch {
            return Check(name: name, ok: false, detail: "cannot use \(url.redacted): \(PostgresGatewayDatabase.describe(error))")
        }
    }

    /// One connection's settings for `url`, with TLS as ``PostgresGatewayDatabase`` uses it.
    private static func connectionConfiguration(_ url: DatabaseURL) throws -> PostgresConnection.Configuration {
        var tls = PostgresConnection.Configuration.TLS.disable
        if let settings = url.sslMode.tls {
            let context = try NIOSSLContext(configuration: settings.configuration)
            tls = settings.isOptional ? .prefer(context) : .require(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// At least one key of `GATEWAY_API_KEY` (keys made with `keys create` are listed by `keys list`).
    static func apiKeys(_ configuration: GatewayConfiguration) -> Check {
        let count = configuration.apiKeys.count
        guard count > 0 else {
            return Check(
                name: "GATEWAY_API_KEY", ok: false,
                detail: "not set: only keys made with `codex-gateway keys create` and OAuth tokens are accepted")
        }
        return Check(name: "GATEWAY_API_KEY", ok: true, detail: "\(count) key\(count == 1 ? "" : "s") of at least \(GatewayConfiguration.minimumAPIKeyLength) characters")
    }

    /// The provider's `env_key` variable is set (or it needs none).
    static func providerKey(_ configuration: GatewayConfiguration) -> Check {
        let provider = configuration.codex.provider
        guard let envKey = provider.envKey else {
            return Check(name: "provider key", ok: true, detail: "the provider '\(configuration.codex.modelProvider)' needs no key")
        }
        do {
            _ = try provider.apiKey(in: configuration.environment)
            return Check(name: "provider key", ok: true, detail: "\(envKey) is set")
        } catch {
            return Check(name: "provider key", ok: false, detail: error.description)
        }
    }

    /// `GET {base_url}/models` with the provider's credentials and headers answers 2xx within `timeout`.
    static func provider(_ configuration: GatewayConfiguration, timeout: Duration, logger: Logger) async -> Check {
        let transport = ProviderTransport(
            provider: configuration.codex.provider, httpClient: HTTPClient.shared, environment: configuration.environment, logger: logger)
        let url = transport.url(path: "/models")
        let name = "provider \(configuration.codex.modelProvider)"
        var request = HTTPClientRequest(url: url)
        request.headers = (try? transport.headers(accept: "application/json", hasBody: false)) ?? ["Accept": "application/json"]
        let start = ContinuousClock.now
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
            let milliseconds = Int((ContinuousClock.now - start) / .milliseconds(1))
            let ok = (200..<300).contains(Int(response.status.code))
            return Check(
                name: name, ok: ok,
                detail: "GET \(provider(url)) answered \(response.status.code) in \(milliseconds) ms" + (ok ? "" : " (expected 2xx: check the key and base_url)"))
        } catch {
            return Check(name: name, ok: false, detail: "GET \(provider(url)) failed: \(describe(error))")
        }
    }

    /// The URL without its query (which may carry a key, as Azure's does).
    private static func provider(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .connectTimeout, .readTimeout: return "no answer in time"
            default: return String(describing: error)
            }
        }
        if let error = error as? NIOConnectionError {
            return "cannot connect (\(error.connectionErrors.first.map { String(describing: $0.error) } ?? String(describing: error)))"
        }
        return String(describing: error)
    }
}
