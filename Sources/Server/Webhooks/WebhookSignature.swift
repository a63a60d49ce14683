import Crypto
import Foundation
import GatewayRuntime

/// Webhook signatures, HMAC-SHA256 with `WEBHOOK_SECRET`, as `sha256=<hex>`:
///
/// - `X-Webhook-Signature` over `"<delivery id>.<X-Webhook-Timestamp>.<body>"` (as Standard
///   Webhooks and Stripe do): valid only for that delivery ID and within the tolerance of its
///   timestamp (Unix seconds).
/// - `X-Hub-Signature-256` over the body alone, as GitHub sends it. It cannot say which delivery
///   it was made for, so the gateway accepts such a signed body once, under the first delivery ID
///   it comes with (``WebhookSignatureStore``).
///
/// Both are compared in constant time. Callbacks carry both, for the same delivery.
public enum WebhookSignature {
    public static let timestampHeader = "X-Webhook-Timestamp"
    public static let signatureHeader = "X-Webhook-Signature"
    public static let bodySignatureHeader = "X-Hub-Signature-256"

    /// `sha256=<hex>` of the body alone (`X-Hub-Signature-256`).
    public static func sign(_ body: Data, secret: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8))))
    }

    /// `sha256=<hex>` of `"<id>.<timestamp>.<body>"` (`X-Webhook-Signature`).
    public static func sign(_ body: Data, id: String, timestamp: Int, secret: String) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return hex(hmac.finalize())
    }

    /// Constant-time check of a body-only signature header.
    public static func isValid(_ header: String?, body: Data, secret: String) -> Bool {
        matches(header, sign(body, secret: secret))
    }

    /// What a delivery's signature headers prove.
    enum Verdict: Equatable {
        /// `X-Webhook-Signature` for this ID, timestamp in tolerance.
        case timestamped
        /// A valid body-only signature (to be claimed for this delivery).
        case bodyOnly(signature: String)
        case refused(code: String, message: String)
    }

    static func verify(
        body: Data,
        id: String?,
        timestamp: String?,
        signature: String?,
        bodySignature: String?,
        secret: String,
        tolerance: Duration,
        now: Date = Date()
    ) -> Verdict {
        if let signature {
            guard let id else {
                return .refused(code: "invalid_signature", message: "\(signatureHeader) needs the delivery ID it signs in X-Webhook-Id.")
            }
            guard let timestamp, let seconds = Int(timestamp) else {
                return .refused(code: "invalid_signature", message: "\(signatureHeader) needs \(timestampHeader): <Unix seconds>.")
            }
            guard abs(now.timeIntervalSince1970 - Double(seconds)) <= Double(tolerance.components.seconds) else {
                return .refused(
                    code: "signature_expired",
                    message: "\(timestampHeader) is more than \(tolerance.components.seconds) s from the gateway's clock (WEBHOOK_TOLERANCE_SECONDS)."
                )
            }
            guard matches(signature, sign(body, id: id, timestamp: seconds, secret: secret)) else {
                return .refused(code: "invalid_signature", message: "\(signatureHeader) does not match \"<X-Webhook-Id>.<\(timestampHeader)>.<body>\".")
            }
            return .timestamped
        }
        guard let bodySignature else {
            return .refused(
                code: "invalid_signature",
                message: "A signature is required: \(signatureHeader) with \(timestampHeader), or \(bodySignatureHeader) (sha256=<hex HMAC of the body>)."
            )
        }
        guard isValid(bodySignature, body: body, secret: secret) else {
            return .refused(code: "invalid_signature", message: "\(bodySignatureHeader) does not match the body.")
        }
        return .bodyOnly(signature: bodySignature.lowercased())
    }

    private static func matches(_ header: String?, _ expected: String) -> Bool {
        guard let header, header.hasPrefix("sha256=") else { return false }
        return CredentialHash.constantTimeEquals(Array(expected.utf8), Array(header.lowercased().utf8))
    }

    private static func hex(_ mac: HashedAuthenticationCode<SHA256>) -> String {
        "sha256=" + CredentialHash.hex(mac)
    }
}
