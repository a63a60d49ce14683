import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, in versions applied in order, each once.
///
/// The same tables as the SQLite schema (``GatewayDatabase/migrations``, at its latest version),
/// plus what only several replicas need: webhook leases, WebSocket tickets, rate-limit buckets and
/// conversation homes. Times are seconds since 1970 (`DOUBLE PRECISION`), as in SQLite.
enum PostgresMigrations {
    /// Any 64-bit number the gateway alone uses for `pg_advisory_lock`.
    static let lockKey: Int64 = 0x636F_6465_7867_7721

    static let versions: [String] = [
        """
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            delivery_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            principal TEXT NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            conversation_id TEXT,
            result TEXT,
            usage TEXT,
            error TEXT,
            callback_url TEXT,
            callback_status TEXT,
            callback_attempts INTEGER NOT NULL DEFAULT 0,
            callback_last_error TEXT,
            callback_next_attempt_at DOUBLE PRECISION,
            lease_owner TEXT,
            lease_until DOUBLE PRECISION,
            callback_lease_owner TEXT,
            callback_lease_until DOUBLE PRECISION,
            UNIQUE (owner, delivery_id)
        );
        CREATE INDEX webhook_deliveries_work ON webhook_deliveries(status, callback_status);
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION,
            rate_limit_per_minute INTEGER,
            rate_limit_per_hour INTEGER,
            rate_limit_per_day INTEGER,
            rate_limit_concurrent_turns INTEGER
        );
        CREATE TABLE oauth_clients (
            client_id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            redirect_uris TEXT NOT NULL,
            source TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            token_endpoint_auth_method TEXT,
            metadata TEXT
        );
        CREATE TABLE oauth_codes (
            code_hash TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            redirect_uri_given BOOLEAN NOT NULL,
            scope TEXT,
            code_challenge TEXT,
            grant_id TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            used_at DOUBLE PRECISION,
            resource TEXT
        );
        CREATE TABLE oauth_tokens (
            token_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            client_id TEXT NOT NULL,
            grant_id TEXT NOT NULL,
            approved_by TEXT,
            scope TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION,
            rotated_at DOUBLE PRECISION,
            rotation_result TEXT,
            resource TEXT
        );
        CREATE INDEX oauth_tokens_grant ON oauth_tokens(grant_id);
        CREATE TABLE installation_secrets (
            name TEXT PRIMARY KEY,
            value BYTEA NOT NULL
        );
        CREATE TABLE webhook_signatures (
            signature TEXT PRIMARY KEY,
            principal TEXT NOT NULL,
            delivery_id TEXT NOT NULL,
            seen_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE websocket_tickets (
            ticket_hash TEXT PRIMARY KEY,
            principal TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE rate_limit_buckets (
            principal TEXT PRIMARY KEY,
            buckets TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE conversation_homes (
            conversation_id TEXT PRIMARY KEY,
            replica_url TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )
        """,
        // Usage per account, model and UTC day; budgets and allowlists (PROTOCOLS.md §13).
        """
        CREATE TABLE usage_daily (
            account TEXT NOT NULL,
            date TEXT NOT NULL,
            model TEXT NOT NULL,
            requests BIGINT NOT NULL,
            input_tokens BIGINT NOT NULL,
            cached_input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            PRIMARY KEY (account, date, model)
        );
        CREATE TABLE usage_settings (
            account TEXT PRIMARY KEY,
            tokens_per_day BIGINT,
            tokens_per_month BIGINT,
            models_allowed TEXT,
            updated_at DOUBLE PRECISION NOT NULL
        )
        """,
        // Console sign-ins (ConsoleSessionStore): the cookie's token only as its SHA-256.
        """
        CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX console_sessions_key ON console_sessions(key_id);
        CREATE INDEX console_sessions_expiry ON console_sessions(expires_at)
        """,
        // Shared rate limits decided in one statement (PostgresRateLimitStore): one column per
        // window instead of a JSON list, so the database itself refills and takes. UNLOGGED: a
        // decision commits without waiting for the disk; after a PostgreSQL crash (or on a
        // promoted standby) the buckets start full again, which only forgives one window's use.
        // The buckets of `rate_limit_buckets` (version 1) are not carried over: they start full once.
        """
        CREATE UNLOGGED TABLE rate_limit_counters (
            principal TEXT PRIMARY KEY,
            minute_capacity DOUBLE PRECISION NOT NULL,
            minute_tokens DOUBLE PRECISION NOT NULL,
            hour_capacity DOUBLE PRECISION NOT NULL,
            hour_tokens DOUBLE PRECISION NOT NULL,
            day_capacity DOUBLE PRECISION NOT NULL,
            day_tokens DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            allowed BOOLEAN NOT NULL
        )
        """,
    ]

    /// Applies the versions not applied yet, holding the advisory lock so that replicas starting
    /// together apply each version once (the others wait, then find it applied).
    static func apply(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
        do {
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            for (index, migration) in versions.enumerated() where !applied.contains(index + 1) {
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in migration.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    let version = index + 1
                    try await connection.query("INSERT INTO schema_migrations (version, applied_at) VALUES (\(version), \(Date().timeIntervalSince1970))", logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                    logger.notice("database migrated", metadata: ["database.version": .stringConvertible(version)])
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            throw error
        }
        try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
    }
}

/// Secrets of the installation in PostgreSQL: made by whichever replica gets there first, the same
/// for every replica ever after (`INSERT … ON CONFLICT DO NOTHING`, then read what won).
enum PostgresInstallationSecrets {
    /// The secret replicas authenticate forwarded requests with (PROTOCOLS.md §12).
    static let replicaSecretName = "replica_secret"

    static func load(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let fresh = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try await connection.query(
            "INSERT INTO installation_secrets (name, value) VALUES (\(name), \(ByteBuffer(bytes: fresh))) ON CONFLICT (name) DO NOTHING",
            logger: logger)
        for try await value in try await connection.query("SELECT value FROM installation_secrets WHERE name = \(name)", logger: logger)
            .decode(ByteBuffer.self)
        {
            var value = value
            if let bytes = value.readBytes(length: value.readableBytes), bytes.count == 32 { return bytes }
        }
        throw PostgresInstallationSecretsError(name: name)
    }
}

struct PostgresInstallationSecretsError: Error, CustomStringConvertible {
    var name: String
    var description: String { "the installation secret \(name) in the database is not 32 bytes" }
}
