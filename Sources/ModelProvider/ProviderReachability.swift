import Synchronization

/// `/ready`'s view of the model provider: whether it answered a probe lately.
///
/// `/ready` is unauthenticated, so it must not turn each call into a request to the provider:
/// a result is reused for `maximumAge`, and while one probe runs, other callers get the last
/// known result instead of starting another.
public final class ProviderReachability: Sendable {
    private struct State {
        var last: (at: ContinuousClock.Instant, failure: ProviderConnectionFailure?)?
        var probing = false
    }

    private let probe: @Sendable () async -> ProviderConnectionFailure?
    private let maximumAge: Duration
    private let state = Mutex(State())

    public init(maximumAge: Duration = .seconds(5), probe: @escaping @Sendable () async -> ProviderConnectionFailure?) {
        self.probe = probe
        self.maximumAge = maximumAge
    }

    public convenience init(transport: ProviderTransport, timeout: Duration = .seconds(2)) {
        self.init { await transport.probe(timeout: timeout) }
    }

    /// Nil when the provider answered, else a sentence saying why it could not be reached.
    public func check() async -> String? {
        let now = ContinuousClock.now
        let cached: ProviderConnectionFailure?? = state.withLock { state in
            if let last = state.last, state.probing || now - last.at < maximumAge { return .some(last.failure) }
            if state.probing { return .some(nil) }
            state.probing = true
            return .none
        }
        if let cached { return cached.map(Self.sentence) }
        let failure = await probe()
        state.withLock { $0 = State(last: (ContinuousClock.now, failure), probing: false) }
        return failure.map(Self.sentence)
    }

    package static func sentence(_ failure: ProviderConnectionFailure) -> String {
        "unreachable: " + failure.description
    }
}
