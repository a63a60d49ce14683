import Foundation
import GatewayRuntime
import Logging
import Synchronization

/// A message the child sent on its own: a notification, or a request the gateway must answer
/// (an approval) with ``AppServerSession/respond(to:result:)`` or ``AppServerSession/refuse(_:message:)``.
public enum AppServerInbound: Sendable {
    case notification(AppServer.ServerNotification)
    case request(id: AppServer.RequestID, AppServer.ServerRequest)

    /// The thread it is about.
    public var threadID: String? {
        switch self {
        case .notification(let notification): notification.threadID
        case .request(_, let request): request.threadID
        }
    }
}

/// One running `codex app-server`: JSON-RPC over its stdio, one JSON object per line.
///
/// Requests are correlated by id and each has a time limit; when the child exits every request
/// still waiting fails with ``AppServerError/exited(_:)`` and ``inbound`` finishes. Lines that are
/// not JSON-RPC are logged and dropped (Codex itself never answers malformed lines either).
public final class AppServerSession: Sendable {
    /// Counts children started by one supervisor: a thread loaded in generation 3 must be resumed in 4.
    public let generation: Int
    /// Notifications and the child's requests, in the order it wrote them.
    public let inbound: AsyncStream<AppServerInbound>

    let outbox: AsyncStream<Data>
    private let outboxSink: AsyncStream<Data>.Continuation
    private let inboundSink: AsyncStream<AppServerInbound>.Continuation
    private let logger: Logger

    private struct Pending {
        var method: String
        var continuation: CheckedContinuation<Data, any Error>
    }

    private struct State {
        var nextID = 1
        var pending: [Int: Pending] = [:]
        /// Set once the child is gone; later requests fail at once.
        var closed: String?
    }

    private let state = Mutex(State())

    init(generation: Int, logger: Logger) {
        self.generation = generation
        self.logger = logger
        (inbound, inboundSink) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        (outbox, outboxSink) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Sends request `method` and waits up to `timeout` for its result, decoded as `Result`.
    public func request<Params: Encodable, Result: Decodable>(
        _ method: String,
        params: Params,
        as result: Result.Type,
        timeout: Duration
    ) async throws -> Result {
        let line = try await send(method, params: params, timeout: timeout)
        let envelope: ResponseEnvelope<Result>
        do {
            envelope = try JSONDecoder().decode(ResponseEnvelope<Result>.self, from: line)
        } catch {
            throw AppServerError.malformed(method: method, detail: String(describing: error))
        }
        if let failure = envelope.error {
            throw AppServerError.rejected(method: method, code: failure.code, message: failure.message)
        }
        guard let value = envelope.result else {
            throw AppServerError.malformed(method: method, detail: "neither result nor error")
        }
        return value
    }

    /// Sends `request` and waits up to `timeout` for its typed result.
    public func send<Request: AppServer.ClientRequest>(_ request: Request, timeout: Duration) async throws -> Request.Response {
        try await self.request(Request.method, params: request, as: Request.Response.self, timeout: timeout)
    }

    /// Sends a notification (no answer expected).
    public func notify<Params: Encodable>(_ method: String, params: Params) throws {
        try write(Outgoing(id: nil, method: method, params: params))
    }

    /// Answers the child's request `id` with `result`.
    public func respond<Result: Encodable>(to id: JSONValue, result: Result) throws {
        try write(Answer(id: id, result: result))
    }

    /// Refuses the child's request `id` with a JSON-RPC error (a request the gateway does not serve).
    public func refuse(_ id: JSONValue, message: String) throws {
        try write(Refusal(id: id, error: .init(code: -32601, message: message)))
    }

    /// Whether the child has exited.
    public var isClosed: Bool { state.withLock { $0.closed != nil } }

    private func send<Params: Encodable>(_ method: String, params: Params, timeout: Duration) async throws -> Data {
        let id: Int = try state.withLock { state in
            if let closed = state.closed { throw AppServerError.exited(closed) }
            defer { state.nextID += 1 }
            return state.nextID
        }
        let line = try encode(Outgoing(id: id, method: method, params: params))
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.fail(id, with: AppServerError.timedOut(method: method, after: timeout))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let registered: Bool = state.withLock { state in
                    guard state.closed == nil else { return false }
                    state.pending[id] = Pending(method: method, continuation: continuation)
                    return true
                }
                guard registered else {
                    continuation.resume(throwing: AppServerError.exited(state.withLock { $0.closed } ?? "gone"))
                    return
                }
                outboxSink.yield(line)
            }
        } onCancel: {
            fail(id, with: CancellationError())
        }
    }

    private func fail(_ id: Int, with error: any Error) {
        state.withLock { $0.pending.removeValue(forKey: id) }?.continuation.resume(throwing: error)
    }

    private func write(_ value: some Encodable) throws {
        if let closed = state.withLock({ $0.closed }) { throw AppServerError.exited(closed) }
        outboxSink.yield(try encode(value))
    }

    private func encode(_ value: some Encodable) throws -> Data {
        var line = try JSONEncoder().encode(value)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Routes one line the child wrote, decoded once: notifications and the child's requests to
    /// ``inbound``, answers to the request that waits for them (which decodes its typed result).
    func receive(_ line: Data) {
        let answered: AppServer.RequestID?
        switch try? JSONDecoder().decode(AppServer.Message.self, from: line) {
        case .notification(let notification)?:
            inboundSink.yield(.notification(notification))
            return
        case .request(let id, let request)?:
            inboundSink.yield(.request(id: id, request))
            return
        case .response(let id, _)?:
            answered = id
        case .errorResponse(let id, _)?:
            answered = id
        case nil:
            logger.warning("codex app-server wrote a line that is not JSON-RPC", metadata: ["engine.line": .string(String(decoding: line.prefix(200), as: UTF8.self))])
            return
        }
        guard case .integer(let id)? = answered, let pending = state.withLock({ $0.pending.removeValue(forKey: id) }) else {
            logger.warning("codex app-server answered a request nobody waits for", metadata: ["engine.line": .string(String(decoding: line.prefix(200), as: UTF8.self))])
            return
        }
        pending.continuation.resume(returning: line)
    }

    /// The child is gone: every waiting request fails with `reason`, and ``inbound`` ends.
    func close(reason: String) {
        let pending: [Pending] = state.withLock { state in
            guard state.closed == nil else { return [] }
            state.closed = reason
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for entry in pending { entry.continuation.resume(throwing: AppServerError.exited(reason)) }
        inboundSink.finish()
        outboxSink.finish()
    }

    private struct Outgoing<Params: Encodable>: Encodable {
        var id: Int?
        var method: String
        var params: Params
    }

    private struct Answer<Result: Encodable>: Encodable {
        var id: JSONValue
        var result: Result
    }

    private struct Refusal: Encodable {
        struct Failure: Encodable {
            var code: Int
            var message: String
        }
        var id: JSONValue
        var error: Failure
    }

    private struct ResponseEnvelope<Result: Decodable>: Decodable {
        struct Failure: Decodable {
            var code: Int
            var message: String
        }
        var result: Result?
        var error: Failure?
    }
}
