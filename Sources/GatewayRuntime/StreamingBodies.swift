/// A JSON Lines response body: one JSON object per line, each written (and flushed) the moment
/// the underlying sequence produces it.
public struct JSONLinesBody<Element: Encodable & Sendable>: Sendable {
    let produce: @Sendable (_ consume: (Element) async throws -> Void) async throws -> Void

    public init<Events: AsyncSequence & Sendable>(_ events: Events) where Events.Element == Element {
        self.produce = { consume in
            for try await event in events { try await consume(event) }
        }
    }

    /// A body written by `produce`, which calls `emit` once per line, in the response's own task:
    /// when the client goes away `emit` throws, and the work stops with it.
    public init(produce: @escaping @Sendable (_ emit: (Element) async throws -> Void) async throws -> Void) {
        self.produce = produce
    }
}

/// One Server-Sent Event (WHATWG HTML §9.2).
public struct ServerSentEvent: Sendable, Hashable {
    public var id: String?
    public var event: String?
    public var data: String
    public var retry: Int?

    public init(id: String? = nil, event: String? = nil, data: String, retry: Int? = nil) {
        self.id = id
        self.event = event
        self.data = data
        self.retry = retry
    }

    /// The event in wire form, ending with the blank line that dispatches it.
    public var wireFormat: String {
        var text = ""
        if let id { text += "id: \(id)\n" }
        if let event { text += "event: \(event)\n" }
        if let retry { text += "retry: \(retry)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        return text + "\n"
    }
}

/// A `text/event-stream` response body, written event by event as produced.
public struct ServerSentEventsBody: Sendable {
    let produce: @Sendable (_ consume: (ServerSentEvent) async throws -> Void) async throws -> Void

    public init<Events: AsyncSequence & Sendable>(_ events: Events) where Events.Element == ServerSentEvent {
        self.produce = { consume in
            for try await event in events { try await consume(event) }
        }
    }
}
