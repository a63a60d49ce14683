import Foundation
import SQLiteNIO

/// Console sessions in the gateway's SQLite database (table `console_sessions`).
public struct SQLiteConsoleSessionStore: ConsoleSessionStore {
    let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    public func insert(_ session: ConsoleSession) async throws {
        try await database.query(
            "INSERT INTO console_sessions (token_hash, key_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [
                .text(session.tokenHash), .text(session.keyID), .float(session.createdAt.timeIntervalSince1970),
                .float(session.expiresAt.timeIntervalSince1970),
            ]
        )
    }

    public func session(tokenHash: String, now: Date) async throws -> ConsoleSession? {
        let rows = try await database.query(
            "SELECT * FROM console_sessions WHERE token_hash = ? AND expires_at > ?",
            [.text(tokenHash), .float(now.timeIntervalSince1970)]
        )
        return rows.first.flatMap { ConsoleSession(row: $0, tokenHash: tokenHash) }
    }

    @discardableResult
    public func delete(tokenHash: String) async throws -> Bool {
        !(try await database.query("DELETE FROM console_sessions WHERE token_hash = ? RETURNING token_hash", [.text(tokenHash)])).isEmpty
    }

    @discardableResult
    public func deleteAll(keyID: String) async throws -> Int {
        try await database.query("DELETE FROM console_sessions WHERE key_id = ? RETURNING token_hash", [.text(keyID)]).count
    }

    public func deleteExpired(now: Date) async throws {
        try await database.query("DELETE FROM console_sessions WHERE expires_at <= ?", [.float(now.timeIntervalSince1970)])
    }
}
