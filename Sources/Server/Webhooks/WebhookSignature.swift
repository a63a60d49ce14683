import Crypto
import Foundation

/// `X-Hub-Signature-256: sha256=<hex>`, GitHub's webhook signature.
public enum WebhookSignature {
    public static func sign(_ body: Data, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Constant-time check of a signature header against the body.
    public static func isValid(_ header: String?, body: Data, secret: String) -> Bool {
        guard let header, header.hasPrefix("sha256=") else { return false }
        let expected = Array(sign(body, secret: secret).utf8)
        let given = Array(header.lowercased().utf8)
        return CredentialHash.constantTimeEquals(expected, given)
    }
}
