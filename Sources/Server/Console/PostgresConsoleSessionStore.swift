import Foundation
import PostgresNIO

/// Console sessions in PostgreSQL (table `console_sessions`), so a sign-in holds at every replica
/// behind the load balancer and a sign-out ends it at all of them.
public struct PostgresConsoleSessionStore: ConsoleSessionStore {
    let database: PostgresGatewayDatabase

    public init(database: PostgresGatewayDatabase) {
        self.database = database
    }

    public func insert(_ session: ConsoleSession) async throws {
        try await database.query(
            """
            INSERT INTO console_sessions (token_hash, key_id, created_at, expires_at)
            VALUES (\(session.tokenHash), \(session.keyID), \(session.createdAt.timeIntervalSince1970), \(session.expiresAt.timeIntervalSince1970))
            """)
    }

    public func session(tokenHash: String, now: Date) async throws -> ConsoleSession? {
        let rows = try await database.query(
            "SELECT key_id, created_at, expires_at FROM console_sessions WHERE token_hash = \(tokenHash) AND expires_at > \(now.timeIntervalSince1970)")
        return rows.first.flatMap { ConsoleSession(row: $0.makeRandomAccess(), tokenHash: tokenHash) }
    }

    @discardableResult
    public func delete(tokenHash: String) async throws -> Bool {
        !(try await database.query("DELETE FROM console_sessions WHERE token_hash = \(tokenHash) RETURNING token_hash")).isEmpty
    }

    @discardableResult
    public func deleteAll(keyID: String) async throws -> Int {
        try await database.query("DELETE FROM console_sessions WHERE key_id = \(keyID) RETURNING token_hash").count
    }

    public func deleteExpired(now: Date) async throws {
        try await database.query("DELETE FROM console_sessions WHERE expires_at <= \(now.timeIntervalSince1970)")
    }
}
