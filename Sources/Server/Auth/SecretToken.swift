import Foundation

/// Random bearer secrets (API keys, OAuth codes and tokens) and their stored form.
public enum SecretToken {
    /// 256 random bits, base64url, with a prefix that says what the secret is (`cgk_`, `cgat_`…).
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(Data(bytes))
    }

    /// What is stored instead of the secret: its SHA-256, hex.
    public static func hash(_ secret: String) -> String {
        CredentialHash.hex(CredentialHash.digest(secret))
    }

    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
