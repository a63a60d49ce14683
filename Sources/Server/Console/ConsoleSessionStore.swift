import Foundation

/// A console sign-in: the browser holds a random token in an HttpOnly cookie; the server keeps
/// only the token's SHA-256 and the API key it acts for, so signing out (or the key's
/// revocation) ends it at once and a copy of the database signs nobody in.
public struct ConsoleSession: Sendable, Equatable {
    /// SHA-256 of the cookie's token, hex (``SecretToken/hash(_:)``).
    public var tokenHash: String
    /// The ID of the API key that signed in (a principal's `id`).
    public var keyID: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(tokenHash: String, keyID: String, createdAt: Date, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.keyID = keyID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// Where console sessions live. A protocol so that a deployment on a shared database keeps them
/// there too (several gateways behind one load balancer must all know a session).
public protocol ConsoleSessionStore: Sendable {
    func insert(_ session: ConsoleSession) async throws
    /// The session with this token hash if it has not expired by `now`.
    func session(tokenHash: String, now: Date) async throws -> ConsoleSession?
    /// Ends one session (sign out); false when there was none.
    @discardableResult
    func delete(tokenHash: String) async throws -> Bool
    /// Ends every session of a key (its revocation); how many there were.
    @discardableResult
    func deleteAll(keyID: String) async throws -> Int
    /// Forgets sessions that expired before `now`.
    func deleteExpired(now: Date) async throws
}
