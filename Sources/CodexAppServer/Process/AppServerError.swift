/// Why a request to `codex app-server` got no result. Every wait on the child is bounded, so each
/// of these reaches the caller instead of a hang.
public enum AppServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The child answered with a JSON-RPC error (Codex uses -32600 for all of them).
    case rejected(method: String, code: Int, message: String)
    /// No answer within the request's time limit.
    case timedOut(method: String, after: Duration)
    /// The child exited (or was stopped) before it answered.
    case exited(String)
    /// No child is running and none started in time (startup keeps failing, or the gateway is stopping).
    case unavailable(String)
    /// The answer was not what the protocol says (for example a result of the wrong shape).
    case malformed(method: String, detail: String)

    public var description: String {
        switch self {
        case .rejected(let method, _, let message): "codex app-server refused \(method): \(message)"
        case .timedOut(let method, let after): "codex app-server did not answer \(method) within \(after)"
        case .exited(let why): "codex app-server exited: \(why)"
        case .unavailable(let why): "the Codex engine is not available: \(why)"
        case .malformed(let method, let detail): "codex app-server answered \(method) with something unexpected: \(detail)"
        }
    }
}
