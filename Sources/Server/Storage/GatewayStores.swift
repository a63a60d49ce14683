import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Every store the gateway keeps, on one backend: the SQLite file (the embedded default, one
/// process) or PostgreSQL (`DATABASE_URL`, shared by several replicas). One protocol per concern;
/// the rest of the gateway sees only the protocols.
public struct GatewayStores: Sendable {
    public enum Backend: String, Sendable {
        case sqlite, postgres
    }

    public let backend: Backend
    public let apiKeys: any ManagedAPIKeyStore
    /// `GATEWAY_API_KEY`'s keys (their fingerprints use the installation's salt, in the database).
    public let configuredKeys: any APIKeyStore
    public let oauth: any OAuthStore
    public let webhooks: any WebhookStore
    public let webhookSignatures: any WebhookSignatureStore
    public let webSocketTickets: any WebSocketTicketStore
    /// Shared request budgets; nil with SQLite (in memory, per process).
    public let rateLimits: (any RateLimitCounterStore)?
    public let conversationHomes: any ConversationHomeStore
    /// Usage per key, budgets and model allowlists (PROTOCOLS.md §13).
    public let usage: any UsageStore
    /// The browser console's sign-ins.
    public let consoleSessions: any ConsoleSessionStore
    /// Closes the database when the application stops.
    public let service: any Service
    /// The PostgreSQL database, when that is the backend (for replica-level services to come).
    public let postgresDatabase: PostgresGatewayDatabase?
    /// Where the database is, for messages (the SQLite path, or the URL without its password).
    public let location: String
    private let secrets: @Sendable () throws -> PostgresGatewayDatabase.Secrets
    private let problemCheck: @Sendable () async -> String?
    private let closer: @Sendable () async throws -> Void

    /// Opens the configured backend. SQLite is opened and migrated here (an error is a startup
    /// error); PostgreSQL connects and migrates in the background, so a database that is down
    /// does not stop the gateway from starting.
    public static func open(configuration: GatewayConfiguration, logger: Logger) throws -> GatewayStores {
        if let url = configuration.databaseURL {
            return try postgres(PostgresGatewayDatabase(url: url, logger: logger), configuration: configuration)
        }
        return sqlite(try GatewayDatabase(path: configuration.databasePath, logger: logger), configuration: configuration)
    }

    public static func sqlite(_ database: GatewayDatabase, configuration: GatewayConfiguration) -> GatewayStores {
        let replicaSecret = (try? InstallationSalt.loadSecret(InstallationSalt.replicaSecretName, database.connection)) ?? []
        return GatewayStores(
            backend: .sqlite,
            apiKeys: SQLiteAPIKeyStore(database: database),
            configuredKeys: MemoryAPIKeyStore(keys: configuration.apiKeys, fingerprinter: database.fingerprinter),
            oauth: SQLiteOAuthStore(database: database),
            webhooks: SQLiteWebhookStore(database: database),
            webhookSignatures: SQLiteWebhookSignatureStore(database: database),
            webSocketTickets: MemoryWebSocketTicketStore(),
            rateLimits: nil,
            conversationHomes: SQLiteConversationHomeStore(database: database),
            usage: SQLiteUsageStore(database: database),
            consoleSessions: SQLiteConsoleSessionStore(database: database),
            service: DatabaseService(database: database),
            postgresDatabase: nil,
            location: database.path,
            secrets: { .init(fingerprinter: database.fingerprinter, replicaSecret: replicaSecret) },
            problemCheck: { await database.ping() ? nil : "the database at \(database.path) does not answer" },
            closer: { try await database.close() }
        )
    }

    public static func postgres(_ database: PostgresGatewayDatabase, configuration: GatewayConfiguration) -> GatewayStores {
        GatewayStores(
            backend: .postgres,
            apiKeys: PostgresAPIKeyStore(database: database),
            configuredKeys: DeferredMemoryAPIKeyStore(keys: configuration.apiKeys, database: database),
            oauth: PostgresOAuthStore(database: database),
            webhooks: PostgresWebhookStore(database: database),
            webhookSignatures: PostgresWebhookSignatureStore(database: database),
            webSocketTickets: PostgresWebSocketTicketStore(database: database),
            rateLimits: PostgresRateLimitStore(database: database),
            conversationHomes: PostgresConversationHomeStore(database: database),
            usage: PostgresUsageStore(database: database),
            consoleSessions: PostgresConsoleSessionStore(database: database),
            service: PostgresDatabaseService(database: database),
            postgresDatabase: database,
            location: database.url.redacted,
            secrets: { try database.secrets() },
            problemCheck: { await database.problem() },
            closer: { await database.close() }
        )
    }

    /// Key fingerprints under the installation's salt; 503 `database_unavailable` while a
    /// PostgreSQL database has not answered yet.
    public func fingerprinter() throws -> KeyFingerprinter { try secrets().fingerprinter }

    /// The secret replicas authenticate each other with (32 bytes, made on first start, the same
    /// for every replica on the database).
    public func replicaSecret() throws -> [UInt8] { try secrets().replicaSecret }

    /// Whether an account (a key's ID) is one of `keys`, the `GATEWAY_API_KEY` keys: their IDs
    /// depend on the installation's salt, which a PostgreSQL database gives once it answers, so
    /// they are worked out on the first question that finds it (and kept: budgets ask per call).
    public func isConfiguredKey(_ keys: [String]) -> @Sendable (String) -> Bool {
        let ids = ConfiguredKeyIDs()
        return { account in
            if let known = ids.known { return known.contains(account) }
            guard let fingerprinter = try? fingerprinter() else { return false }
            return ids.remember(Set(keys.map { fingerprinter.fingerprint(ofKey: $0) })).contains(account)
        }
    }

    /// For readiness: nil when the database answers, else why not.
    public func problem() async -> String? { await problemCheck() }

    /// Waits (the command line) until a PostgreSQL database has been migrated; SQLite already is.
    public func waitUntilReady(timeout: Duration) async throws {
        let start = ContinuousClock.now
        while true {
            do {
                _ = try secrets()
                return
            } catch {
                guard ContinuousClock.now - start < timeout else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    public func close() async throws { try await closer() }
}

/// The IDs of the `GATEWAY_API_KEY` keys, once the salt that makes them is known.
private final class ConfiguredKeyIDs: Sendable {
    private let ids = Mutex<Set<String>?>(nil)

    var known: Set<String>? { ids.withLock { $0 } }

    func remember(_ made: Set<String>) -> Set<String> {
        ids.withLock { $0 = made }
        return made
    }
}
