import Crypto
import Foundation
import HTTPTypes

/// How one replica proves to another that it forwarded a request (PROTOCOLS.md §12: replicas
/// authenticate each other with the secret kept in the database, so nothing is configured).
///
/// `Codex-Gateway-Replica: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>\n<METHOD>\n<target>")>`,
/// where the target is the path and query. Good for ``tolerance`` either side of the receiving
/// replica's clock: a captured header replays only the same request, and only briefly. A request
/// that carries it is run where it lands, never forwarded again.
struct ReplicaSignature: Sendable {
    static let headerName = HTTPField.Name("Codex-Gateway-Replica")!
    static let tolerance: TimeInterval = 60

    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }

    init(secret: [UInt8]) {
        self.secret = secret
    }

    func sign(method: HTTPRequest.Method, target: String, at date: Date = Date()) -> String {
        let time = Int(date.timeIntervalSince1970)
        return "t=\(time),v1=\(Self.hex(code(time: time, method: method, target: target)))"
    }

    /// Whether `value` signs this method and target, made within ``tolerance`` of `date`.
    func verify(_ value: String, method: HTTPRequest.Method, target: String, at date: Date = Date()) -> Bool {
        var time: Int?
        var mac: [UInt8]?
        for part in value.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { return false }
            switch pair[0] {
            case "t": time = Int(pair[1])
            case "v1": mac = Self.bytes(hex: pair[1])
            default: continue
            }
        }
        guard let time, let mac, abs(date.timeIntervalSince1970 - TimeInterval(time)) <= Self.tolerance else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(time: time, method: method, target: target), using: key)
    }

    private func code(time: Int, method: HTTPRequest.Method, target: String) -> HMAC<SHA256>.MAC {
        HMAC<SHA256>.authenticationCode(for: Self.message(time: time, method: method, target: target), using: key)
    }

    private static func message(time: Int, method: HTTPRequest.Method, target: String) -> Data {
        Data("\(time)\n\(method.rawValue)\n\(target)".utf8)
    }

    private static func hex(_ mac: HMAC<SHA256>.MAC) -> String {
        mac.map { String(format: "%02x", $0) }.joined()
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
