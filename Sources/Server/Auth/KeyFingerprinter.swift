import Crypto
import Foundation

/// The short identifier of an API key that logs, `keys list` and `/whoami` show (`key_` and 12 hex
/// digits): an HMAC-SHA-256 of the key's SHA-256 digest under the installation's salt
/// (``InstallationSalt``), so a leaked log line cannot confirm a guessed key offline. The salt is
/// kept in the database, so one installation shows the same fingerprint across restarts and
/// from the command line.
///
/// It is computed from the digest, not the key, so a stored key hash (`api_keys.key_hash`) gives it
/// too; what is stored to check keys (their SHA-256) is unchanged.
public struct KeyFingerprinter: Sendable {
    private let salt: [UInt8]

    public init(salt: [UInt8]) {
        self.salt = salt
    }

    /// The fingerprint of the key whose SHA-256 is `digest` (``CredentialHash/digest(_:)``).
    public func fingerprint(ofDigest digest: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: digest, using: SymmetricKey(data: salt))
        return "key_" + CredentialHash.hex(mac.prefix(6))
    }

    public func fingerprint(ofKey key: String) -> String {
        fingerprint(ofDigest: CredentialHash.digest(key))
    }

    /// The fingerprint of a key stored as the hex of its SHA-256; nil if `hash` is not that.
    public func fingerprint(ofStoredHash hash: String) -> String? {
        guard hash.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hash.startIndex
        while index < hash.endIndex {
            let next = hash.index(index, offsetBy: 2)
            guard let byte = UInt8(hash[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return fingerprint(ofDigest: bytes)
    }
}
