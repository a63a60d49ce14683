import Crypto
import Foundation
import HTTPTypes

/// How one replica proves to another that it forwarded a request (PROTOCOLS.md §12: replicas
/// authenticate each other with the secret kept in the database, so nothing is configured).
///
/// `Codex-Gateway-Replica: t=<unix seconds>,v2=<hex HMAC-SHA256(secret, "<t>\n<METHOD>\n<target>\n<client>\n<principal>")>`,
/// where the target is the path and query, `<client>` the value of ``clientAddressHeader`` and
/// `<principal>` that of ``principalHeader`` (each empty when the header is absent). Good for
/// ``tolerance`` either side of the receiving replica's clock: a captured header replays only the
/// same request, and only briefly. A request that carries it is run where it lands, never forwarded
/// again.
///
/// The two asserted headers are why the HMAC covers more than the request line:
/// - ``clientAddressHeader``: the address the forwarding replica's client connected from. The home
///   uses it (for the failed-credential throttle) instead of the forwarding replica's own address,
///   and only when the signature verifies: anyone else setting the header gets a 403.
/// - ``principalHeader``: who the request acts for, when it carries no credential of its own (a
///   turn asked for over a WebSocket opened with a one-time ticket, or within an MCP session whose
///   token the home could check but need not). The home takes it as authenticated — the forwarding
///   replica authenticated it and counted it against its rate limits — again only under a verified
///   signature. Version `v2` (the `v1` of earlier replicas signed the request line alone): replicas
///   of the two versions refuse each other's requests with 403 rather than trust an unsigned header.
struct ReplicaSignature: Sendable {
    static let headerName = HTTPField.Name("Codex-Gateway-Replica")!
    static let clientAddressHeader = HTTPField.Name("Codex-Gateway-Client-Address")!
    static let principalHeader = HTTPField.Name("Codex-Gateway-Principal")!
    static let tolerance: TimeInterval = 60

    /// What the forwarding replica asserts about a request besides its method and target.
    struct Assertions: Sendable, Equatable {
        /// The client's IP address, as the forwarding replica saw it.
        var clientAddress: String?
        /// ``AssertedPrincipal/headerValue`` of who the request acts for.
        var principal: String?

        init(clientAddress: String? = nil, principal: String? = nil) {
            self.clientAddress = clientAddress
            self.principal = principal
        }

        /// The assertions a received request carries.
        init(_ headers: HTTPFields) {
            self.init(clientAddress: headers[ReplicaSignature.clientAddressHeader], principal: headers[ReplicaSignature.principalHeader])
        }
    }

    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }

    init(secret: [UInt8]) {
        self.secret = secret
    }

    func sign(method: HTTPRequest.Method, target: String, assertions: Assertions = .init(), at date: Date = Date()) -> String {
        let time = Int(date.timeIntervalSince1970)
        return "t=\(time),v2=\(Self.hex(code(time: time, method: method, target: target, assertions: assertions)))"
    }

    /// Whether `value` signs this method, target and assertions, made within ``tolerance`` of `date`.
    func verify(_ value: String, method: HTTPRequest.Method, target: String, assertions: Assertions = .init(), at date: Date = Date()) -> Bool {
        var time: Int?
        var mac: [UInt8]?
        for part in value.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { return false }
            switch pair[0] {
            case "t": time = Int(pair[1])
            case "v2": mac = Self.bytes(hex: pair[1])
            default: continue
            }
        }
        guard let time, let mac, abs(date.timeIntervalSince1970 - TimeInterval(time)) <= Self.tolerance else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(time: time, method: method, target: target, assertions: assertions), using: key)
    }

    private func code(time: Int, method: HTTPRequest.Method, target: String, assertions: Assertions) -> HMAC<SHA256>.MAC {
        HMAC<SHA256>.authenticationCode(for: Self.message(time: time, method: method, target: target, assertions: assertions), using: key)
    }

    /// Header values cannot hold a newline, so the fields cannot be shifted into one another.
    private static func message(time: Int, method: HTTPRequest.Method, target: String, assertions: Assertions) -> Data {
        Data("\(time)\n\(method.rawValue)\n\(target)\n\(assertions.clientAddress ?? "")\n\(assertions.principal ?? "")".utf8)
    }

    private static func hex(_ mac: HMAC<SHA256>.MAC) -> String {
        CredentialHash.hex(mac)
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
