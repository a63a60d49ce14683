import GatewayRuntime
import Synchronization

/// What is left of `JSONRPC_MAX_RESPONSE_BYTES` for one answer (a single response, or a batch's
/// together); shared by the concurrently running entries of a batch.
final class ResponseBudget: Sendable {
    let limit: Int
    private let remaining: Mutex<Int>

    init(bytes: Int) {
        self.limit = bytes
        self.remaining = Mutex(bytes)
    }

    /// Takes `size` bytes if that many are left; false (taking nothing) otherwise.
    func take(_ size: Int) -> Bool {
        remaining.withLock { remaining in
            guard size <= remaining else { return false }
            remaining -= size
            return true
        }
    }

    /// Whether an answer of at least `size` bytes could still fit.
    func mayFit(_ size: Int) -> Bool {
        remaining.withLock { size <= $0 }
    }

    /// The error an entry past the budget gets.
    var exhausted: JSONRPCDispatcher.Failure {
        JSONRPCDispatcher.Failure(
            code: JSONRPCDispatcher.ErrorCode.responseLimitReached,
            message: "The response size limit of \(limit) bytes (JSONRPC_MAX_RESPONSE_BYTES) was reached before this answer; "
                + "ask for it again on its own or in a smaller batch.",
            data: .object(["limit_bytes": .integer(limit)])
        )
    }
}
