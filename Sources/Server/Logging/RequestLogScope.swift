import Logging
import Synchronization

/// The request a task works for, as log metadata: every line logged while serving it (the
/// access line, the conversation core, the relay, a WebSocket's turns) carries its `request_id`
/// and, once authenticated, its `principal` (a key's fingerprint or an OAuth grant, never a secret).
///
/// It is a task-local, so child tasks inherit it; ``metadataProvider`` puts it on every line of
/// the loggers that use it (``StructuredLogHandler`` does by default).
public final class RequestLogScope: Sendable {
    @TaskLocal public static var current: RequestLogScope?

    public let requestID: String
    private let principalID: Mutex<String?>

    public init(requestID: String, principal: Principal? = nil) {
        self.requestID = requestID
        self.principalID = Mutex(principal?.id)
    }

    /// Who the request acts for, from now on.
    public func authenticated(as principal: Principal) {
        principalID.withLock { $0 = principal.id }
    }

    public var principal: String? {
        principalID.withLock { $0 }
    }

    var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["request_id": .string(requestID)]
        if let principal { metadata["principal"] = .string(principal) }
        return metadata
    }

    /// The current scope's metadata, for every log line.
    public static let metadataProvider = Logger.MetadataProvider { current?.metadata ?? [:] }
}
