import ModelProvider
import NIOCore

/// What the relay keeps track of while an answer passes: the usage it reports, and its end, at
/// which the turn's permit is freed before the client can see it (so a client that starts its
/// next turn on seeing `data: [DONE]`, or the last byte of a sized body, is not refused). When the
/// gateway asked for a stream's usage on the client's behalf, it takes the usage chunk out of what
/// the client gets (``relay(_:)``).
///
/// One consumer at a time uses it: the relay's task, or, for a stream written to a
/// ``StreamOutlet``, the event loop.
final class RelayProgress: RelayObserver, @unchecked Sendable {
    private var sniffer: RelayUsageSniffer
    private var end: RelayEndDetector
    private let permit: TurnPermit?
    private var usageFilter: UsageChunkFilter?
    /// Counts the call against its account (``UsageLedger``), once: at the answer's last chunk
    /// (before the client sees it), else at its end, whole or broken off (with what is known).
    private let onUsage: (@Sendable (TokenUsage?) -> Void)?
    private var recorded = false

    /// - Parameter stripsUsage: the client did not ask for the stream's usage chunk (see
    ///   ``RelayRequest/stripsUsage``).
    init(
        isStream: Bool,
        contentLength: Int?,
        permit: TurnPermit?,
        stripsUsage: Bool = false,
        api: RelayRequest.API = .chatCompletions,
        onUsage: (@Sendable (TokenUsage?) -> Void)? = nil
    ) {
        self.onUsage = onUsage
        self.sniffer = RelayUsageSniffer(isStream: isStream, api: api)
        self.end = RelayEndDetector(isStream: isStream, contentLength: contentLength)
        self.permit = permit
        self.usageFilter = isStream && stripsUsage ? UsageChunkFilter() : nil
    }

    /// Sees `buffer` pass (``observe(_:)``) and returns what the client gets of it: all of it,
    /// or without the usage chunk; nil for nothing yet.
    func relay(_ buffer: ByteBuffer) -> ByteBuffer? {
        observe(buffer)
        guard usageFilter != nil else { return buffer }
        return usageFilter!.filter(buffer)
    }

    /// What ``relay(_:)`` still holds once the answer has ended, for the client.
    func remainder() -> ByteBuffer? {
        usageFilter?.remainder()
    }

    func observe(_ buffer: ByteBuffer) {
        sniffer.observe(buffer)
        if end.isLast(buffer) {
            record()
            permit?.release()
        }
    }

    /// The answer is whole: its usage is recorded.
    func completed() {
        permit?.release()
        if let usage = sniffer.usage() { GatewayMetrics.recordTokens(usage) }
        record()
    }

    /// The relay is over, whole or not: the turn is free.
    func ended() {
        permit?.release()
        record()
    }

    private func record() {
        guard !recorded, let onUsage else { return }
        recorded = true
        onUsage(sniffer.usage())
    }
}
