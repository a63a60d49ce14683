import Synchronization

/// Short-lived, single-use tickets for opening `/ws` from a browser (``WebSocketTicketStore``),
/// for one process.
///
/// Browsers cannot set headers on a WebSocket handshake, and a long-lived key must never travel in
/// a URL, so an authenticated `POST /ws/ticket` trades the caller's credential for a ticket that
/// opens one connection as the same principal within ``lifetime``. Tickets are 32 random bytes
/// (``SecretToken``, prefix `cgwt_`), held only as SHA-256 digests; they live in memory, since
/// they are worthless after a minute.
public final class MemoryWebSocketTicketStore: WebSocketTicketStore {
    public static let defaultLifetime: Duration = .seconds(60)

    /// How long an issued ticket stays valid.
    public let lifetime: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let tickets = Mutex<[[UInt8]: Entry]>([:])

    private struct Entry {
        var principal: Principal
        var expiresAt: ContinuousClock.Instant
    }

    /// - Parameter clock: the current time; tests move it.
    public init(lifetime: Duration = defaultLifetime, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.lifetime = lifetime
        self.clock = clock
    }

    public var lifetimeSeconds: Int { Int(lifetime.components.seconds) }

    public func issue(for principal: Principal) -> String {
        let ticket = SecretToken.generate(prefix: "cgwt_")
        let now = clock()
        tickets.withLock { tickets in
            tickets = tickets.filter { $0.value.expiresAt > now }
            tickets[CredentialHash.digest(ticket)] = Entry(principal: principal, expiresAt: now + lifetime)
        }
        return ticket
    }

    public func redeem(_ ticket: String) -> Principal? {
        let digest = CredentialHash.digest(ticket)
        let now = clock()
        let entry = tickets.withLock { $0.removeValue(forKey: digest) }
        guard let entry, entry.expiresAt > now else { return nil }
        return entry.principal
    }
}
