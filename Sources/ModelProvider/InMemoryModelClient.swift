import Synchronization

/// A model that answers from memory: what it streams for a request is what `script` returns (or
/// throws). For tests of everything above the provider (turns, retries, history, protocols) that
/// need no HTTP at all; `requests` keeps what each call was asked.
public final class InMemoryModelClient: ModelClient, Sendable {
    public typealias Script = @Sendable (_ request: ModelRequest, _ call: Int) async throws -> [ModelStreamEvent]

    private let script: Script
    private let recorded = Mutex<[ModelRequest]>([])

    /// `script` gets the request and its 0-based call number; `.completed` ends each answer
    /// unless the script ends it otherwise.
    public init(_ script: @escaping Script) {
        self.script = script
    }

    /// A model that answers every request with `text`, in `deltas` pieces, and its usage.
    public static func answering(_ text: String, deltas: Int = 1, usage: TokenUsage = TokenUsage(inputTokens: 1, outputTokens: 1)) -> InMemoryModelClient {
        InMemoryModelClient { _, _ in
            let size = max(1, (text.count + deltas - 1) / max(1, deltas))
            var pieces: [ModelStreamEvent] = []
            var rest = Substring(text)
            while !rest.isEmpty {
                pieces.append(.textDelta(String(rest.prefix(size))))
                rest = rest.dropFirst(size)
            }
            return pieces + [.usage(usage), .completed]
        }
    }

    /// The requests made so far, in order.
    public var requests: [ModelRequest] {
        recorded.withLock { $0 }
    }

    public func respond(to request: ModelRequest, onEvent: (ModelStreamEvent) async throws -> Void) async throws {
        let call = recorded.withLock { requests in
            requests.append(request)
            return requests.count - 1
        }
        for event in try await script(request, call) {
            try await onEvent(event)
        }
    }
}
