import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import ServiceLifecycle

/// The gateway's embedded SQLite database (`DATABASE_PATH`, default `$CODEX_HOME/gateway.sqlite3`).
///
/// Why SQLite through sqlite-nio: one file next to the conversations, no server to run, an
/// async API on NIO's thread pool, and SQLite compiled in (no system library to install).
/// WAL journal with `synchronous=FULL`: a statement that returned is on disk, so an answer
/// sent after it (a webhook's 202) is never ahead of what was stored. Writes are single
/// statements (`INSERT … ON CONFLICT`, `UPDATE … RETURNING`), each atomic, so no transaction is
/// ever held across an `await`.
public final class GatewayDatabase: Sendable {
    let connection: SQLiteConnection
    public let path: String
    /// Key fingerprints under this installation's salt (``InstallationSalt``).
    public let fingerprinter: KeyFingerprinter

    /// Opens (creating if needed) and migrates the database; a clear startup error if it cannot.
    public init(path: String, logger: Logger) throws {
        self.path = path
        do {
            try PrivateFiles.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent())
            // SQLite gives its -wal and -shm files the database file's mode.
            try PrivateFiles.createFile(atPath: path)
            let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
            self.connection = try SQLiteConnection.open(storage: .file(path: path), threadPool: .singleton, logger: logger, on: eventLoop).wait()
        } catch {
            throw ConfigurationError(
                source: "environment",
                key: "DATABASE_PATH",
                message: "cannot open the database at \(path): \(error). Point DATABASE_PATH (or CODEX_HOME) at a writable location."
            )
        }
        do {
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=ON"] {
                _ = try connection.query(pragma).wait()
            }
            try Self.migrate(connection)
            for file in [path, path + "-wal", path + "-shm"] where !PrivateFiles.restrict(file, to: PrivateFiles.fileMode) {
                logger.warning("could not restrict a database file to its owner (0600)", metadata: ["path": .string(file)])
            }
            self.fingerprinter = KeyFingerprinter(salt: try InstallationSalt.load(connection))
        } catch {
            try? connection.close().wait()
            throw ConfigurationError(source: path, key: "DATABASE_PATH", message: "cannot prepare the database: \(error)")
        }
    }

    /// Schema versions, applied in order, each once.
    static let migrations: [String] = [
        """
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            principal TEXT NOT NULL,
            received_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            conversation_id TEXT,
            result TEXT,
            usage TEXT,
            error TEXT,
            callback_url TEXT,
            callback_status TEXT,
            callback_attempts INTEGER NOT NULL DEFAULT 0,
            callback_last_error TEXT,
            callback_next_attempt_at REAL
        );
        CREATE INDEX webhook_deliveries_work ON webhook_deliveries(status, callback_status);
        """,
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE oauth_clients (
            client_id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            redirect_uris TEXT NOT NULL,
            source TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE oauth_codes (
            code_hash TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            redirect_uri_given INTEGER NOT NULL,
            scope TEXT,
            code_challenge TEXT,
            grant_id TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        );
        CREATE TABLE oauth_tokens (
            token_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            client_id TEXT NOT NULL,
            grant_id TEXT NOT NULL,
            scope TEXT,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            revoked_at REAL,
            rotated_at REAL,
            rotation_result TEXT
        );
        CREATE INDEX oauth_tokens_grant ON oauth_tokens(grant_id)
        """,
        // Per-key rate limits (`codex-gateway keys limits`); NULL takes the configured default.
        """
        ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER;
        ALTER TABLE api_keys ADD COLUMN rate_limit_per_hour INTEGER;
        ALTER TABLE api_keys ADD COLUMN rate_limit_per_day INTEGER;
        ALTER TABLE api_keys ADD COLUMN rate_limit_concurrent_turns INTEGER
        """,
        // Owners (PROTOCOLS.md §0): a token acts for whoever approved its grant; a webhook delivery
        // belongs to its sender, and its delivery ID is unique per owner only. Rows from before
        // keep their ID as the delivery ID and their sender as the owner.
        """
        ALTER TABLE oauth_tokens ADD COLUMN approved_by TEXT;
        UPDATE oauth_tokens SET approved_by = (SELECT approved_by FROM oauth_codes WHERE oauth_codes.grant_id = oauth_tokens.grant_id LIMIT 1);
        ALTER TABLE webhook_deliveries ADD COLUMN owner TEXT;
        ALTER TABLE webhook_deliveries ADD COLUMN delivery_id TEXT;
        UPDATE webhook_deliveries SET owner = principal, delivery_id = id;
        CREATE UNIQUE INDEX webhook_deliveries_owner ON webhook_deliveries(owner, delivery_id)
        """,
        // Secrets of this installation (InstallationSalt).
        """
        CREATE TABLE installation_secrets (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL
        )
        """,
        // Body-only webhook signatures already used, so a signed body is not run again under another ID.
        """
        CREATE TABLE webhook_signatures (
            signature TEXT PRIMARY KEY,
            principal TEXT NOT NULL,
            delivery_id TEXT NOT NULL,
            seen_at REAL NOT NULL
        )
        """,
        // OAuth for MCP clients (PROTOCOLS.md §11): how a client authenticates at the token endpoint
        // (NULL: with its secret; `none`: a public client), what it registered (RFC 7591), and the
        // resource (RFC 8707) each code and token is bound to (NULL: none named, the REST API).
        """
        ALTER TABLE oauth_clients ADD COLUMN token_endpoint_auth_method TEXT;
        ALTER TABLE oauth_clients ADD COLUMN metadata TEXT;
        ALTER TABLE oauth_codes ADD COLUMN resource TEXT;
        ALTER TABLE oauth_tokens ADD COLUMN resource TEXT
        """,
        // Leases on webhook turns and callbacks (the same schema as PostgreSQL's, where several
        // replicas share deliveries), and conversation homes (PROTOCOLS.md §12).
        """
        ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT;
        ALTER TABLE webhook_deliveries ADD COLUMN lease_until REAL;
        ALTER TABLE webhook_deliveries ADD COLUMN callback_lease_owner TEXT;
        ALTER TABLE webhook_deliveries ADD COLUMN callback_lease_until REAL;
        CREATE TABLE conversation_homes (
            conversation_id TEXT PRIMARY KEY,
            replica_url TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """,
        // Usage per account (a principal's owner), model and UTC day, and each account's token
        // budgets and model allowlist (PROTOCOLS.md §13; SQLiteUsageStore). NULL budgets take the default.
        """
        CREATE TABLE usage_daily (
            account TEXT NOT NULL,
            date TEXT NOT NULL,
            model TEXT NOT NULL,
            requests INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            cached_input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            PRIMARY KEY (account, date, model)
        );
        CREATE TABLE usage_settings (
            account TEXT PRIMARY KEY,
            tokens_per_day INTEGER,
            tokens_per_month INTEGER,
            models_allowed TEXT,
            updated_at REAL NOT NULL
        )
        """,
        // Console sign-ins (ConsoleSessionStore): the cookie's token only as its SHA-256.
        """
        CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX console_sessions_key ON console_sessions(key_id);
        CREATE INDEX console_sessions_expiry ON console_sessions(expires_at)
        """,
    ]

    static func migrate(_ connection: SQLiteConnection) throws {
        _ = try connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)").wait()
        let applied = try connection.query("SELECT version FROM schema_migrations").wait().compactMap { $0.column("version")?.integer }
        for (index, migration) in migrations.enumerated() where !applied.contains(SQLiteInt64(index + 1)) {
            _ = try connection.query("BEGIN IMMEDIATE").wait()
            do {
                for statement in migration.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                    _ = try connection.query(statement).wait()
                }
                _ = try connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(SQLiteInt64(index + 1)), .float(Date().timeIntervalSince1970)]
                ).wait()
                _ = try connection.query("COMMIT").wait()
            } catch {
                _ = try? connection.query("ROLLBACK").wait()
                throw error
            }
        }
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await connection.query(sql, binds)
    }

    /// For readiness: does the database answer?
    public func ping() async -> Bool {
        (try? await connection.query("SELECT 1")) != nil
    }

    /// Closes the connection, even from a cancelled task: the async `close()` of SQLiteNIO gives
    /// up when its task is cancelled (as when the service group is cancelled rather than shut
    /// down gracefully), which would leave the database open.
    public func close() async throws {
        let closed: EventLoopFuture<Void> = connection.close()
        try await closed.get()
    }
}

/// Closes the database when the application stops (after the services that use it).
public struct DatabaseService: Service {
    public let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await database.close()
    }
}

extension SQLiteRow {
    func string(_ name: String) -> String? {
        guard let value = column(name), value != .null else { return nil }
        return value.string
    }

    func int(_ name: String) -> Int? {
        column(name)?.integer.map { Int($0) }
    }

    func double(_ name: String) -> Double? {
        guard let value = column(name), value != .null else { return nil }
        return value.double
    }
}

extension SQLiteData {
    static func optionalText(_ value: String?) -> SQLiteData {
        value.map { .text($0) } ?? .null
    }
}
