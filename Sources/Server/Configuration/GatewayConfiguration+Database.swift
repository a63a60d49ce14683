import Foundation

/// `DATABASE_URL`: a libpq connection URL (`postgres://user:password@host:port/db?sslmode=…`) that
/// moves every store to PostgreSQL, so several replicas share them (PROTOCOLS.md §12).
///
/// Parsed here, once, so a bad URL is a configuration error at startup naming the variable; the
/// password is kept apart and never shown (``redacted``).
public struct DatabaseURL: Sendable, Equatable {
    /// libpq's `sslmode` values the gateway honours (`allow` is read as `prefer`, `verify-ca` as
    /// `verify-full`: the TLS library verifies the chain and the host name together).
    public enum SSLMode: String, Sendable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    /// The URL with its password replaced by `***`, for logs and the configuration report.
    public var redacted: String {
        let credentials = password == nil ? user : "\(user):***"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(credentials)@\(hostPart):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// Parses `raw`; the error message says what is wrong without repeating the password.
    public init(parsing raw: String) throws(DatabaseURLError) {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased() else {
            throw DatabaseURLError("expected a URL such as postgres://user:password@host:5432/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw DatabaseURLError("the scheme must be postgres:// or postgresql://, found '\(scheme)://'")
        }
        guard let host = components.host, !host.isEmpty else {
            throw DatabaseURLError("the URL has no host (postgres://user:password@HOST:5432/database)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw DatabaseURLError("the URL has no user name (postgres://USER:password@host:5432/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw DatabaseURLError("the URL names no database (postgres://user:password@host:5432/DATABASE)")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw DatabaseURLError("the port must be from 1 to 65535")
        }
        var sslMode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable": sslMode = .disable
                case "allow", "prefer": sslMode = .prefer
                case "require": sslMode = .require
                case "verify-ca", "verify-full": sslMode = .verifyFull
                default:
                    throw DatabaseURLError("sslmode must be disable, prefer, require or verify-full, found '\(item.value ?? "")'")
                }
            case "application_name", "connect_timeout":
                continue  // accepted for libpq compatibility; the gateway sets its own
            default:
                throw DatabaseURLError("unsupported parameter '\(item.name)' (only sslmode is honoured)")
            }
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = components.user?.removingPercentEncoding ?? user
        self.password = components.password?.removingPercentEncoding ?? components.password
        self.database = database.removingPercentEncoding ?? database
        self.sslMode = sslMode
    }
}

/// Why `DATABASE_URL` was refused.
public struct DatabaseURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension GatewayConfiguration {
    /// `DATABASE_URL` and `WEBHOOK_LEASE_SECONDS`.
    mutating func loadDatabase(environment: Environment) throws {
        if let raw = environment.nonEmpty("DATABASE_URL") {
            do {
                databaseURL = try DatabaseURL(parsing: raw)
            } catch {
                throw environment.error("DATABASE_URL", error.description)
            }
        }
        if let value = try environment.seconds("WEBHOOK_LEASE_SECONDS", in: 1...3600, expected: "a number of seconds from 1 to 3600") {
            webhookLease = value
        }
    }
}
