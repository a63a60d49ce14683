/// How long an HTTP/1.1 client may take at each step before its connection is dropped
/// (``RequestTimeoutHandler``).
///
/// None of them applies while a response is being written: a streamed answer (SSE, JSON Lines, a
/// relayed stream) or an upgraded WebSocket runs as long as it runs.
public struct HTTPTimeouts: Sendable, Equatable {
    /// From accept, or from the first byte of a following request, until the request head is
    /// complete (`HTTP_HEADER_TIMEOUT_SECONDS`). A browser or SDK sends a head in one write.
    public var header: Duration
    /// From the head until the body is complete (`HTTP_BODY_TIMEOUT_SECONDS`).
    public var body: Duration
    /// A keep-alive connection with no request in progress is closed after this long without a byte
    /// (`HTTP_IDLE_TIMEOUT_SECONDS`); above the 60 s that load balancers use, so they close first.
    public var idle: Duration

    public init(header: Duration, body: Duration, idle: Duration) {
        self.header = header
        self.body = body
        self.idle = idle
    }

    public static let defaults = HTTPTimeouts(header: .seconds(10), body: .seconds(60), idle: .seconds(75))
}
