import Crypto
import Foundation

/// Looks up API keys. Keys are only ever held as SHA-256 digests.
public protocol APIKeyStore: Sendable {
    /// The principal for `key`, or nil when it is not a valid key.
    func principal(forKey key: String) async throws -> Principal?
    /// Whether the key with this ID (a principal's `id`) is known here and not revoked.
    func isActive(id: String) async throws -> Bool
    /// The principal of the active key with this ID, or nil: a console session holds the key's ID,
    /// never the key, and gets the key's current limits through this on every request.
    func principal(forID id: String) async throws -> Principal?
}

/// API keys created with `codex-gateway keys create`, kept in the database: SQLite
/// (``SQLiteAPIKeyStore``) or PostgreSQL (``PostgresAPIKeyStore``, where a key created once
/// works at every replica).
public protocol ManagedAPIKeyStore: APIKeyStore {
    /// Creates a key; the plain key is returned once and never stored.
    func create(name: String) async throws -> (key: String, info: APIKeyInfo)
    func list() async throws -> [APIKeyInfo]
    /// Revokes by ID; false when there is no such active key.
    func revoke(id: String) async throws -> Bool
    /// Sets a key's limits (nil fields: the configured default); false when there is no such active key.
    func setLimits(id: String, _ limits: RateLimitOverrides) async throws -> Bool
}

/// SHA-256 digests and constant-time comparison, shared by every credential store.
public enum CredentialHash {
    public static func digest(_ secret: String) -> [UInt8] {
        var secret = secret
        return secret.withUTF8 { Array(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }

    /// Lowercase hex, two digits a byte: how digests, MACs and fingerprints are written.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: StaticString = "0123456789abcdef"
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits.utf8Start[Int(byte >> 4)])
            text.append(digits.utf8Start[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Compares two digests in time that depends only on their length.
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}

/// Keys from configuration (`GATEWAY_API_KEY`), hashed at startup.
public struct MemoryAPIKeyStore: APIKeyStore {
    /// Each key's digest with its principal, made once: formatting the fingerprint per request
    /// showed in the relay's profile.
    private let keys: [(digest: [UInt8], principal: Principal)]

    /// - Parameter fingerprinter: names each key's principal (the database's, so that the
    ///   fingerprints are those of the installation).
    public init(keys: [String], fingerprinter: KeyFingerprinter) {
        self.keys = keys.map { key in
            let digest = CredentialHash.digest(key)
            return (digest, Principal(kind: .apiKey, id: fingerprinter.fingerprint(ofDigest: digest)))
        }
    }

    public var isEmpty: Bool { keys.isEmpty }

    public func principal(forKey key: String) async throws -> Principal? {
        let presented = CredentialHash.digest(key)
        // Compare against every stored digest, with no early exit, so timing reveals nothing.
        var match: Principal?
        for stored in keys where CredentialHash.constantTimeEquals(stored.digest, presented) {
            match = stored.principal
        }
        return match
    }

    public func isActive(id: String) async throws -> Bool {
        keys.contains { $0.principal.id == id }
    }

    public func principal(forID id: String) async throws -> Principal? {
        keys.first { $0.principal.id == id }?.principal
    }
}
