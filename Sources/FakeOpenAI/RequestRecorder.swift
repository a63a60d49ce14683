import Foundation
import Synchronization

/// One request the fake server received, as it arrived.
public struct RecordedRequest: Sendable {
    /// Position in the server's life, from 1.
    public var sequenceNumber: Int
    /// `GET`, `POST`, …
    public var method: String
    /// The path without the query, e.g. `/v1/chat/completions`.
    public var path: String
    /// Query parameters (the last value wins when a name repeats).
    public var query: [String: String]
    /// Header fields by lower-cased name; repeated fields are joined with `", "`.
    public var headers: [String: String]
    /// The raw request body.
    public var body: Data
    /// When the request's head was handled.
    public var receivedAt: ContinuousClock.Instant
    /// The status code the fake answered with (a streamed answer's is always 200).
    public var responseStatus: Int?
    /// True when the client went away before the response was complete: writing the stream
    /// failed, or (for `fake-stall`) the client closed the connection while the server waited.
    /// Set asynchronously after the response; use ``RequestRecorder/waitUntil(timeout:_:)``.
    public var clientDisconnected: Bool

    /// The body parsed as a JSON object, or nil when it is not one.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The request's `model` field, if the body is JSON and has one.
    public var model: String? { json?["model"] as? String }
}

/// Every request the fake server received, in order. Thread-safe.
public final class RequestRecorder: Sendable {
    private let storage = Mutex<[RecordedRequest]>([])
    private let nextNumber = Atomic<Int>(0)
    private let keepsRequests: Bool

    /// Creates an empty recorder. With `keepsRequests` false it only numbers the requests and
    /// ``requests`` stays empty (the standalone `fake-openai`, where nobody reads them).
    public init(keepsRequests: Bool = true) {
        self.keepsRequests = keepsRequests
    }

    /// A snapshot of the requests received so far, oldest first.
    public var requests: [RecordedRequest] {
        storage.withLock { $0 }
    }

    /// How many requests were made to `path` (exact match, without the query), e.g. `/v1/responses`.
    public func count(path: String) -> Int {
        storage.withLock { $0.lazy.filter { $0.path == path }.count }
    }

    /// Forgets every request recorded so far.
    public func reset() {
        storage.withLock { $0.removeAll() }
    }

    /// Waits until `predicate` holds for the recorded requests, polling every 10 ms.
    /// Returns false if it still does not hold after `timeout`.
    @discardableResult
    public func waitUntil(timeout: Duration = .seconds(2), _ predicate: @Sendable ([RecordedRequest]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if storage.withLock({ predicate($0) }) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: Server side

    func record(method: String, path: String, query: [String: String], headers: [String: String], body: Data) -> Int {
        let number = nextNumber.add(1, ordering: .relaxed).newValue
        guard keepsRequests else { return number }
        let request = RecordedRequest(
            sequenceNumber: number, method: method, path: path, query: query, headers: headers, body: body,
            receivedAt: .now, responseStatus: nil, clientDisconnected: false
        )
        storage.withLock { $0.append(request) }
        return number
    }

    func update(_ number: Int, _ change: (inout RecordedRequest) -> Void) {
        guard keepsRequests else { return }
        storage.withLock { requests in
            // Usually the last one; search from the end.
            if let index = requests.lastIndex(where: { $0.sequenceNumber == number }) {
                change(&requests[index])
            }
        }
    }
}
