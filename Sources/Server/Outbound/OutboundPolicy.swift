import Foundation

/// What the gateway may fetch on a caller's behalf (webhook `callback_url`; PROTOCOLS.md §0).
///
/// `http` or `https` with a host; no loopback, private, CGNAT, link-local, multicast, unspecified,
/// broadcast, reserved or documentation address (``OutboundAddress/restriction``), unless
/// `allowPrivate` (`OUTBOUND_ALLOW_PRIVATE`). A URL is checked when a caller gives it
/// (``check(_:)``) and every address is checked again when a connection is made to it
/// (``OutboundHTTPClient``), so a name that resolves elsewhere later is refused too.
public struct OutboundPolicy: Sendable {
    public var allowPrivate: Bool

    public init(allowPrivate: Bool = false) {
        self.allowPrivate = allowPrivate
    }

    /// Why a URL may not be fetched, in a sentence for the caller who gave it.
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case notHTTP
        case malformed
        case forbiddenHost(String)

        public var description: String {
            switch self {
            case .notHTTP: "must be an absolute http:// or https:// URL"
            case .malformed: "is not a valid URL with a host"
            case .forbiddenHost(let kind):
                "points to a \(kind) address, which the gateway does not call (OUTBOUND_ALLOW_PRIVATE=true allows it)"
            }
        }
    }

    /// Checks what can be known before connecting: scheme, syntax and a literal address (or
    /// `localhost`). Names are checked when connecting.
    public func check(_ url: String) -> Refusal? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else { return .malformed }
        guard scheme == "http" || scheme == "https" else { return .notHTTP }
        guard let host = components.host?.lowercased(), !host.isEmpty, !url.contains(where: \.isWhitespace) else { return .malformed }
        if allowPrivate { return nil }
        if host == "localhost" || host.hasSuffix(".localhost") || host == "localhost." { return .forbiddenHost("loopback") }
        if let address = OutboundAddress(literal: host), let restriction = address.restriction { return .forbiddenHost(restriction) }
        return nil
    }

    /// Whether a connection to `address` may be used.
    public func permits(_ address: OutboundAddress) -> Bool {
        allowPrivate || address.restriction == nil
    }
}
