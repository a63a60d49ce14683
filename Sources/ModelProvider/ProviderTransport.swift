import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP side of a model provider: URL, headers, retries with backoff, idle timeout.
///
/// Retries on 429, 5xx and connection errors up to `request_max_retries`, honouring
/// `Retry-After` (seconds or HTTP date) and `retry-after-ms`, else exponential backoff from
/// 200 ms with ±20 % jitter. Each attempt is logged as `codex.api_request`.
public struct ProviderTransport: Sendable {
    public let provider: ModelProviderInfo
    package let http: ProviderHTTPClient
    package let logger: Logger
    /// Upper bound for a server-requested delay, so a hostile `Retry-After` cannot park a turn.
    package static let maximumRetryDelay: Duration = .seconds(60)

    /// The query string and the credential and provider headers, worked out once: the
    /// environment does not change while the gateway runs.
    private let query: String
    /// The requests the gateway makes (method and URL) by path, parsed once: taking a URL apart
    /// is 2 % of a relayed request's CPU.
    private let templates: [String: HTTPClient.Request]
    private let fixedHeaders: Result<HTTPHeaders, MissingProviderKey>

    public init(provider: ModelProviderInfo, httpClient: HTTPClient, environment: [String: String], logger: Logger) {
        self.init(provider: provider, http: ProviderHTTPClient(httpClient), environment: environment, logger: logger)
    }

    public init(provider: ModelProviderInfo, http: ProviderHTTPClient, environment: [String: String], logger: Logger) {
        self.provider = provider
        self.http = http
        self.logger = logger
        if provider.queryParams.isEmpty {
            self.query = ""
        } else {
            var components = URLComponents()
            components.queryItems = provider.queryParams.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
            self.query = "?" + (components.percentEncodedQuery ?? "")
        }
        var templates: [String: HTTPClient.Request] = [:]
        for (method, path) in [(HTTPMethod.POST, "/chat/completions"), (.POST, "/responses"), (.GET, "/models")] {
            templates[path] = try? HTTPClient.Request(url: provider.baseURL + path + query, method: method)
        }
        self.templates = templates
        self.fixedHeaders = Result { () throws(MissingProviderKey) -> HTTPHeaders in
            var headers = HTTPHeaders()
            if let key = try provider.apiKey(in: environment) {
                headers.add(name: "Authorization", value: "Bearer \(key)")
            }
            for (name, value) in provider.httpHeaders.sorted(by: { $0.key < $1.key }) {
                headers.replaceOrAdd(name: name, value: value)
            }
            for (name, variable) in provider.envHTTPHeaders.sorted(by: { $0.key < $1.key }) {
                if let value = environment[variable], !value.isEmpty { headers.replaceOrAdd(name: name, value: value) }
            }
            return headers
        }
    }

    /// Throws ``MissingProviderKey`` (as ``ModelClientError/missingKey(_:)``) when the key is unset.
    public func checkCredentials() throws {
        if case .failure(let missing) = fixedHeaders { throw ModelClientError.missingKey(missing) }
    }

    package func url(path: String) -> String {
        provider.baseURL + path + query
    }

    /// A request to `path` with the provider's credentials and headers; JSON `body` if any.
    package func request(method: HTTPMethod, path: String, body: ByteBuffer?, accept: String = "text/event-stream") throws -> HTTPClient.Request {
        var request = try templates[path].flatMap { $0.method == method ? $0 : nil } ?? HTTPClient.Request(url: url(path: path), method: method)
        request.headers = try headers(accept: accept, hasBody: body != nil)
        request.body = body.map { .byteBuffer($0) }
        return request
    }

    /// Sends `request` on a connection of the current event loop (for a stream relayed to an
    /// outlet, the outlet's); the response comes back once its head has.
    private func execute(_ request: HTTPClient.Request, relayed: RelayedStream? = nil) async throws -> HTTPClientResponse {
        try await UpstreamExchange.execute(
            request,
            on: http.client,
            eventLoop: relayed?.eventLoop ?? MultiThreadedEventLoopGroup.currentEventLoop ?? http.client.eventLoopGroup.any(),
            idleTimeout: .milliseconds(Int64(provider.streamIdleTimeoutMilliseconds)),
            relayed: relayed
        )
    }

    package func headers(accept: String = "text/event-stream", hasBody: Bool = true) throws -> HTTPHeaders {
        let fixed: HTTPHeaders
        switch fixedHeaders {
        case .success(let headers): fixed = headers
        case .failure(let missing): throw ModelClientError.missingKey(missing)
        }
        var headers = HTTPHeaders()
        if hasBody { headers.add(name: "Content-Type", value: "application/json") }
        headers.add(name: "Accept", value: accept)
        for (name, value) in fixed {
            headers.replaceOrAdd(name: name, value: value)
        }
        return headers
    }

    /// POSTs `body` to `path` and returns the streaming response once it answers 2xx.
    ///
    /// No retry starts after `retryDeadline`, and none after a refused connection or a host that
    /// does not resolve: those fail at once.
    public func post(path: String, body: Data, retryDeadline: ContinuousClock.Instant? = nil) async throws -> HTTPClientResponse {
        let request = try request(method: .POST, path: path, body: ByteBuffer(bytes: body))
        let maximumAttempts = provider.requestMaxRetries + 1
        var attempt = 0
        while true {
            attempt += 1
            let start = ContinuousClock.now
            var delay: Duration
            var failure: ModelClientError
            do {
                let response = try await execute(request)
                let status = Int(response.status.code)
                if (200..<300).contains(status) {
                    logAttempt(attempt, start: start, status: status, error: nil)
                    return response
                }
                let message = await Self.errorMessage(from: response)
                logAttempt(attempt, start: start, status: status, error: message)
                failure = .http(status: status, message: message)
                guard status == 429 || status >= 500 else { throw failure }
                delay = Self.retryAfter(response.headers) ?? Self.backoff(attempt: attempt)
            } catch let error as ModelClientError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logAttempt(attempt, start: start, status: nil, error: String(describing: error), timedOut: Self.isTimeout(error))
                failure = failureBeforeHead(error)
                if case .connectionFailed(let unreachable) = failure, !unreachable.isRetryable { throw failure }
                delay = Self.backoff(attempt: attempt)
            }
            delay = min(delay, Self.maximumRetryDelay)
            guard attempt < maximumAttempts else { throw failure }
            if let retryDeadline, ContinuousClock.now.advanced(by: delay) > retryDeadline { throw failure }
            try await Task.sleep(for: delay)
        }
    }

    /// One request to `path` with no retries, whatever the status: the OpenAI-compatible relay
    /// hands the answer (and any `Retry-After`) to its client, whose SDK retries itself.
    public func send(method: HTTPMethod, path: String, body: ByteBuffer?, accept: String) async throws -> HTTPClientResponse {
        try await send(method: method, path: path, body: body, accept: accept, relayed: nil)
    }

    /// ``send(method:path:body:accept:)``; a 2xx stream goes to `relayed`'s outlet if one is
    /// given (see ``UpstreamExchange``).
    package func send(method: HTTPMethod, path: String, body: ByteBuffer?, accept: String, relayed: RelayedStream?) async throws -> HTTPClientResponse {
        let request = try request(method: method, path: path, body: body, accept: accept)
        let start = ContinuousClock.now
        do {
            let response = try await execute(request, relayed: relayed)
            logAttempt(1, start: start, status: Int(response.status.code), error: nil)
            return response
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            logAttempt(1, start: start, status: nil, error: String(describing: error), timedOut: Self.isTimeout(error))
            throw failureBeforeHead(error)
        }
    }

    /// What a caller is told of an error raised before the answer's head: a timeout, or the
    /// provider unreachable, named and with the cause but not its address (the log has that).
    private func failureBeforeHead(_ error: any Error) -> ModelClientError {
        if Self.isTimeout(error) { return .idleTimeout(milliseconds: provider.streamIdleTimeoutMilliseconds) }
        return .connectionFailed(ProviderConnectionFailure(provider: provider.name, cause: ProviderConnectionFailure.cause(of: error)))
    }

    /// Whether the provider answers HTTP at all, for `/ready`: one `GET /models` without
    /// credentials or retries (any status counts, a 401 too), within `timeout`. Nil when it
    /// answered, else why not.
    public func probe(timeout: Duration) async -> ProviderConnectionFailure? {
        do {
            var request = HTTPClientRequest(url: url(path: "/models"))
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await http.client.execute(request, timeout: .nanoseconds(Int64(timeout.milliseconds * 1_000_000)))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return nil
        } catch {
            logger.debug("provider probe failed", metadata: ["provider": .string(provider.name), "error.message": .string(String(describing: error))])
            return ProviderConnectionFailure(provider: provider.name, cause: Self.isTimeout(error) ? .timedOut : ProviderConnectionFailure.cause(of: error))
        }
    }

    package static func isTimeout(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return error == .readTimeout || error == .deadlineExceeded
    }

    /// Reads the body of a failed response and picks OpenAI's `error.message` if present.
    package static func errorMessage(from response: HTTPClientResponse) async -> String {
        guard let body = try? await response.body.collect(upTo: 64 * 1024) else { return "HTTP \(response.status.code)" }
        return errorMessage(in: Data(body.readableBytesView), status: Int(response.status.code))
    }

    /// OpenAI's `error.message` (or a top-level `message`) in an error body, else its first 500 bytes.
    package static func errorMessage(in data: Data, status: Int) -> String {
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
            if let message = object["message"] as? String { return message }
        }
        let text = String(decoding: data.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "HTTP \(status)" : text
    }

    /// `retry-after-ms`, else `Retry-After` in seconds or as an HTTP date.
    public static func retryAfter(_ headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        if let raw = headers.first(name: "retry-after-ms"), let milliseconds = Double(raw), milliseconds >= 0 {
            return .milliseconds(Int64(milliseconds))
        }
        guard let raw = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(raw), seconds >= 0 { return .milliseconds(Int64(seconds * 1000)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let date = formatter.date(from: raw) {
            return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
        }
        return nil
    }

    /// 200 ms, 400 ms, 800 ms… (capped at 10 s), each ±20 %.
    public static func backoff(attempt: Int) -> Duration {
        let base = 200.0 * pow(2.0, Double(min(attempt - 1, 16)))
        let capped = min(base, 10_000)
        return .milliseconds(Int64(capped * Double.random(in: 0.8...1.2)))
    }

    private func logAttempt(_ attempt: Int, start: ContinuousClock.Instant, status: Int?, error: String?, timedOut: Bool = false) {
        ProviderMetrics.recordRequest(status: status, timedOut: timedOut, duration: ContinuousClock.now - start)
        // Building the metadata costs more than the rest of a relayed request's bookkeeping.
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "attempt": .stringConvertible(attempt),
            "duration_ms": .stringConvertible((ContinuousClock.now - start).milliseconds),
            "provider": .string(provider.name),
        ]
        if let status { metadata["http.response.status_code"] = .stringConvertible(status) }
        if let error { metadata["error.message"] = .string(error) }
        logger.info("codex.api_request", metadata: metadata)
    }
}

extension Duration {
    /// Whole and fractional milliseconds, for logs and metrics.
    package var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
