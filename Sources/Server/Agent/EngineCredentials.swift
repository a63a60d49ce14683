import NIOCore
import Synchronization

/// The credentials the gateway gives the Codex engine for its model calls (PROTOCOLS §10): Codex's
/// only provider is the gateway's own `/v1/responses`, and each thread gets a bearer token that
/// acts as the conversation's owner, so agent turns are metered as their caller and the provider's
/// key never reaches Codex.
///
/// Codex writes what it is given into its logs, so a token is good only: for `/v1/responses`, from
/// a loopback address, while a turn of its thread runs, in this gateway process (tokens are random
/// and kept in memory only). Tokens are stored by their SHA-256.
public final class EngineCredentials: Sendable {
    /// The prefix that tells an engine token from an API key or an access token.
    public static let prefix = "cge_"

    private struct Grant {
        var principal: Principal?
        var threadID: String?
        var generation: Int
    }

    private struct State {
        var grants: [String: Grant] = [:]
        /// Threads with a turn running, and how many (one, unless a turn overlaps its own end).
        var runningTurns: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A new token for a thread of child `generation`, acting for `principal` (the gateway itself when nil).
    public func issue(for principal: Principal?, generation: Int) -> String {
        let token = SecretToken.generate(prefix: Self.prefix)
        state.withLock { $0.grants[Self.digest(token)] = Grant(principal: principal, threadID: nil, generation: generation) }
        return token
    }

    /// Ties `token` to the thread it was given to (known once `thread/start` answers).
    public func bind(_ token: String, to threadID: String) {
        state.withLock { $0.grants[Self.digest(token)]?.threadID = threadID.lowercased() }
    }

    public func turnStarted(threadID: String) {
        state.withLock { $0.runningTurns[threadID.lowercased(), default: 0] += 1 }
    }

    public func turnEnded(threadID: String) {
        state.withLock { state in
            let id = threadID.lowercased()
            let left = (state.runningTurns[id] ?? 1) - 1
            state.runningTurns[id] = left > 0 ? left : nil
        }
    }

    /// Forgets the tokens of a child that is gone.
    public func forget(generation: Int) {
        state.withLock { $0.grants = $0.grants.filter { $0.value.generation != generation } }
    }

    /// Who `token` acts for, when it is an engine token (see ``isEngineToken(_:)``) whose thread runs a turn now.
    public func principal(forToken token: String) -> Principal? {
        state.withLock { state -> Principal? in
            guard let grant = state.grants[Self.digest(token)], let thread = grant.threadID, state.runningTurns[thread] != nil else {
                return nil
            }
            var principal = grant.principal ?? Principal(kind: .apiKey, id: "gateway", owner: "gateway")
            principal.credential = .engine(threadID: thread)
            return principal
        }
    }

    /// Whether `token` is meant as an engine token (whether or not it is a valid one).
    public static func isEngineToken(_ token: String) -> Bool {
        token.hasPrefix(prefix)
    }

    /// Whether `address` is a loopback address (127.0.0.0/8 or ::1).
    public static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let ip = address?.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    private static func digest(_ token: String) -> String {
        SecretToken.hash(token)
    }
}
