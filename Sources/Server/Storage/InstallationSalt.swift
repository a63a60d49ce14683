import Foundation
import SQLiteNIO

/// The installation's secret salt for key fingerprints (``KeyFingerprinter``): 32 random bytes made
/// when the database is first opened, kept in it (`installation_secrets`), the same ever after and
/// for every process that opens it.
enum InstallationSalt {
    static let name = "key_fingerprint_salt"

    /// The salt, made (by whichever process gets there first) if the database has none yet.
    ///
    /// When it is made, keys created before, whose IDs were fingerprints without a salt, are given
    /// their salted fingerprint, and the records that name them as a principal follow.
    static func load(_ connection: SQLiteConnection) throws -> [UInt8] {
        if let existing = try read(connection) { return existing }
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        _ = try connection.query("BEGIN IMMEDIATE").wait()
        do {
            if let existing = try read(connection) {
                _ = try connection.query("ROLLBACK").wait()
                return existing
            }
            _ = try connection.query(
                "INSERT INTO installation_secrets (name, value) VALUES (?, ?)",
                [.text(name), .blob(.init(bytes: salt))]
            ).wait()
            try reidentifyExistingKeys(connection, fingerprinter: KeyFingerprinter(salt: salt))
            _ = try connection.query("COMMIT").wait()
        } catch {
            _ = try? connection.query("ROLLBACK").wait()
            throw error
        }
        return salt
    }

    /// The secret replicas would authenticate each other with (PROTOCOLS.md §12).
    static let replicaSecretName = "replica_secret"

    /// A named 32-byte secret of the installation, made on first use.
    static func loadSecret(_ secretName: String, _ connection: SQLiteConnection) throws -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let fresh = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        _ = try connection.query(
            "INSERT INTO installation_secrets (name, value) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
            [.text(secretName), .blob(.init(bytes: fresh))]
        ).wait()
        guard let value = try read(connection, name: secretName) else { throw CocoaError(.fileReadCorruptFile) }
        return value
    }

    private static func read(_ connection: SQLiteConnection, name: String = name) throws -> [UInt8]? {
        let rows = try connection.query("SELECT value FROM installation_secrets WHERE name = ?", [.text(name)]).wait()
        guard case .blob(var value)? = rows.first?.column("value"), value.readableBytes == 32 else { return nil }
        return value.readBytes(length: value.readableBytes)
    }

    /// Re-identifies the keys stored before there was a salt.
    private static func reidentifyExistingKeys(_ connection: SQLiteConnection, fingerprinter: KeyFingerprinter) throws {
        for row in try connection.query("SELECT id, key_hash FROM api_keys").wait() {
            guard let old = row.column("id")?.string, let hash = row.column("key_hash")?.string,
                let new = fingerprinter.fingerprint(ofStoredHash: hash), new != old
            else { continue }
            for statement in [
                "UPDATE api_keys SET id = ? WHERE id = ?",
                "UPDATE webhook_deliveries SET principal = ? WHERE principal = ?",
                "UPDATE oauth_codes SET approved_by = ? WHERE approved_by = ?",
                "UPDATE oauth_tokens SET approved_by = ? WHERE approved_by = ?",
                "UPDATE webhook_deliveries SET owner = ? WHERE owner = ?",
            ] {
                _ = try connection.query(statement, [.text(new), .text(old)]).wait()
            }
        }
    }
}
