import NIOCore

/// An IP address the gateway might connect to for a caller, and what kind of network it leads to.
///
/// Literal hosts are read the way resolvers read them (`inet_aton`): `127.1`, `2130706433`,
/// `0x7f.1` and `0177.0.0.1` are all 127.0.0.1. IPv6 addresses that carry an IPv4 address
/// (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by the address they carry.
public struct OutboundAddress: Sendable, Equatable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// The address a URL's host names literally (with or without IPv6 brackets); nil for a name.
    public init?(literal host: String) {
        var host = Substring(host)
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if let zone = host.firstIndex(of: "%") { host = host[..<zone] }
        if host.contains(":") {
            guard let address = try? SocketAddress(ipAddress: String(host), port: 0), case .v6 = address, let parsed = Self.bytes(of: address) else {
                return nil
            }
            self.bytes = parsed
            return
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        guard let bytes = Self.parseIPv4(host) else { return nil }
        self.bytes = bytes
    }

    /// The address of a connected socket.
    public init?(_ address: SocketAddress) {
        guard let bytes = Self.bytes(of: address) else { return nil }
        self.bytes = bytes
    }

    /// The address bytes of a `sockaddr_in` (offset 4) or `sockaddr_in6` (offset 8): the same
    /// offsets on Linux and Darwin.
    private static func bytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4): withUnsafeBytes(of: v4.address) { Array($0[4..<8]) }
        case .v6(let v6): withUnsafeBytes(of: v6.address) { Array($0[8..<24]) }
        case .unixDomainSocket: nil
        }
    }

    /// Why a caller's URL may not lead here (`"loopback"`, `"private"` …); nil for a public address.
    public var restriction: String? {
        bytes.count == 4 ? Self.restriction(ipv4: bytes) : Self.restriction(ipv6: bytes)
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// `inet_aton`'s forms: one to four parts, each decimal, `0x` hex or `0` octal; the last part
    /// fills the bytes that remain.
    static func parseIPv4(_ host: Substring) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            let lower = part.lowercased()
            let value: UInt64?
            if lower.hasPrefix("0x") {
                value = lower.count == 2 ? 0 : UInt64(lower.dropFirst(2), radix: 16)
            } else if lower.count > 1, lower.hasPrefix("0") {
                value = UInt64(lower.dropFirst(), radix: 8)
            } else {
                value = lower.isEmpty ? nil : UInt64(lower, radix: 10)
            }
            guard let value else { return nil }
            values.append(value)
        }
        let leading = values.dropLast()
        guard leading.allSatisfy({ $0 <= 0xFF }) else { return nil }
        let lastBytes = 4 - leading.count
        guard let last = values.last, last < (UInt64(1) << (8 * lastBytes)) else { return nil }
        var bytes = leading.map { UInt8($0) }
        for index in (0..<lastBytes).reversed() { bytes.append(UInt8((last >> (8 * UInt64(index))) & 0xFF)) }
        return bytes
    }

    static func restriction(ipv4 b: [UInt8]) -> String? {
        switch (b[0], b[1], b[2]) {
        case (0, _, _): "unspecified"
        case (127, _, _): "loopback"
        case (10, _, _), (172, 16...31, _), (192, 168, _): "private"
        case (100, 64...127, _): "shared (CGNAT)"
        case (169, 254, _): "link-local"
        case (192, 0, 0), (198, 18...19, _): "reserved"
        case (192, 0, 2), (198, 51, 100), (203, 0, 113): "documentation"
        case (224...239, _, _): "multicast"
        case (240...255, _, _): b == [255, 255, 255, 255] ? "broadcast" : "reserved"
        default: nil
        }
    }

    static func restriction(ipv6 b: [UInt8]) -> String? {
        let prefix96 = b[0..<12]
        if prefix96.allSatisfy({ $0 == 0 }) {
            if b[12..<15].allSatisfy({ $0 == 0 }) && b[15] <= 1 { return b[15] == 0 ? "unspecified" : "loopback" }
            return restriction(ipv4: Array(b[12..<16])) ?? "IPv4-compatible"  // deprecated: never routed
        }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            return restriction(ipv4: Array(b[12..<16])) ?? nil  // IPv4-mapped: the IPv4 address decides
        }
        if b[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return restriction(ipv4: Array(b[12..<16])) }  // NAT64
        if b[0] == 0x20 && b[1] == 0x02 { return restriction(ipv4: Array(b[2..<6])) }  // 6to4
        switch (b[0], b[1]) {
        case (0xFC...0xFD, _): return "private (ULA)"
        case (0xFE, 0x80...0xBF): return "link-local"
        case (0xFE, 0xC0...0xFF): return "site-local"
        case (0xFF, _): return "multicast"
        case (0x20, 0x01) where b[2] == 0x0D && b[3] == 0xB8: return "documentation"
        case (0x01, 0x00) where b[2..<8].allSatisfy({ $0 == 0 }): return "discard"
        default: return nil
        }
    }
}
