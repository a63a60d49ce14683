import AsyncHTTPClient
import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import ModelProvider
import NIOCore
import NIOHTTP1

/// What the OpenAI-compatible endpoints relay through: the configured provider, its default
/// model, and the cap on concurrent turns (a relayed completion is a turn).
public struct OpenAIRelay: Sendable {
    let transport: ProviderTransport
    let defaultModel: String
    let turnLimiter: RateLimiter?
    /// Meters each call and keeps callers to their budgets and allowlists; nil: not metered.
    let usage: UsageLedger?

    public init(transport: ProviderTransport, defaultModel: String, turnLimiter: RateLimiter?, usage: UsageLedger? = nil) {
        self.transport = transport
        self.defaultModel = defaultModel
        self.turnLimiter = turnLimiter
        self.usage = usage
    }
}

extension GatewayHandlers {
    public func listModels(_ input: Operations.ListModels.Input, context: Context) async throws -> Operations.ListModels.Output {
        switch await forward(method: .GET, path: "/models", body: nil, accept: "application/json", context: context) {
        case .success(let response):
            let body: ResponseBody
            do {
                body = try await relayBody(response, isStream: false)
            } catch {
                return .badGateway(.json(brokenOff(error, context: context)))
            }
            return .ok(.json(RawResponseBody(body: body, contentType: response.headers.first(name: "Content-Type"))))
        case .failure(.notConfigured(let envelope)): return .serviceUnavailable(.json(envelope))
        case .failure(.badGateway(let envelope)): return .badGateway(.json(envelope))
        case .failure(.rateLimited(let envelope, let retryAfter)): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
        case .failure(.other(let status, let envelope)): return .undocumented(status: status, .json(envelope))
        }
    }

    public func createChatCompletion(
        _ input: Operations.CreateChatCompletion.Input,
        context: Context
    ) async throws -> Operations.CreateChatCompletion.Output {
        switch await relayAsIs(input.rawBody, contentType: input.contentType, api: .chatCompletions, context: context) {
        case .answer(let answer, let isStream): return .ok(isStream ? .eventStream(answer) : .json(answer))
        case .badRequest(let envelope): return .badRequest(.json(envelope))
        case .tooManyTurns(let envelope): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: 1))
        case .overBudget(let envelope, let retryAfter): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
        case .modelNotAllowed(let envelope): return .forbidden(.json(envelope))
        case .failed(.notConfigured(let envelope)): return .serviceUnavailable(.json(envelope))
        case .failed(.badGateway(let envelope)): return .badGateway(.json(envelope))
        case .failed(.rateLimited(let envelope, let retryAfter)): return .tooManyRequests(.json(envelope), headers: .init(retryAfter: retryAfter))
        case .failed(.other(let status, let envelope)): return .undocumented(status: status, .json(envelope))
        }
    }

    /// How a relayed OpenAI request ended, for each operation to answer in its own terms.
    enum RelayOutcome {
        /// The provider's 2xx answer (or the bridge's), as it goes to the client.
        case answer(RawResponseBody, isStream: Bool)
        case badRequest(ErrorEnvelope)
        /// 429: the caller already runs as many turns as it may.
        case tooManyTurns(ErrorEnvelope)
        /// 429 `budget_exceeded`, with the seconds until the budget resets.
        case overBudget(ErrorEnvelope, retryAfter: Int)
        /// 403 `model_not_allowed`.
        case modelNotAllowed(ErrorEnvelope)
        case failed(RelayFailure)
    }

    /// What every relayed request passes before the provider is asked: a JSON body that `parse`
    /// accepts (its `GatewayError` is the 400), the caller's budgets and model allowlist (429
    /// `budget_exceeded`, 403 `model_not_allowed`; an agent turn's call too, which then ends the
    /// turn), and the caller's turn permit (a relayed request is a turn; nil where turns are not
    /// limited), else the 429.
    enum Admission<Request> {
        case admitted(Request, permit: TurnPermit?)
        case refused(RelayOutcome)
    }

    func admit<Request>(
        contentType: String?,
        context: Context,
        model: (Request) -> String,
        _ parse: () throws -> Request
    ) async -> Admission<Request> {
        if let contentType, !Self.mentionsJSON(contentType) {
            return .refused(.badRequest(envelope(context, 400, "invalid_request", "The body must be JSON (Content-Type: application/json).")))
        }
        let request: Request
        do {
            request = try parse()
        } catch let error as GatewayError {
            return .refused(.badRequest(envelope(context, 400, error.code, error.message)))
        } catch {
            return .refused(.badRequest(envelope(context, 400, "invalid_request", String(describing: error))))
        }
        if let principal = context.principal, let ledger = relay.usage, let refusal = await ledger.check(account: principal.owner, model: model(request)) {
            if case .engine(let threadID) = principal.credential { ledger.noteRefusedTurn(threadID: threadID, refusal) }
            context.logger.info("usage.call_refused", metadata: ["usage.account": .string(principal.owner), "usage.reason": .string(refusal.code)])
            switch refusal {
            case .budgetExceeded(let message, let retryAfter):
                return .refused(.overBudget(envelope(context, 429, refusal.code, message), retryAfter: retryAfter))
            case .modelNotAllowed:
                return .refused(.modelNotAllowed(envelope(context, 403, refusal.code, refusal.description)))
            }
        }
        guard let principal = context.principal, let limiter = relay.turnLimiter else { return .admitted(request, permit: nil) }
        // An agent turn's model call: the turn holds the principal's permit already.
        if case .engine = principal.credential { return .admitted(request, permit: nil) }
        guard let permit = limiter.acquireTurn(for: principal) else {
            let message = ConversationError.tooManyTurns(limit: limiter.limits(for: principal).concurrentTurns).description
            return .refused(.tooManyTurns(envelope(context, 429, "too_many_turns", message)))
        }
        return .admitted(request, permit: permit)
    }

    /// Relays `body` to the provider's endpoint for `api` as it is (the model filled in when
    /// absent), and the answer back as it comes.
    func relayAsIs(_ body: ByteBuffer, contentType: String?, api: RelayRequest.API, context: Context) async -> RelayOutcome {
        let request: RelayRequest
        let permit: TurnPermit?
        let admission = await admit(contentType: contentType, context: context, model: \.model) {
            try RelayRequest(body: body, defaultModel: relay.defaultModel, api: api)
        }
        switch admission {
        case .admitted(let admitted, let granted): (request, permit) = (admitted, granted)
        case .refused(let outcome): return outcome
        }
        let response: HTTPClientResponse
        let accept = request.stream ? "text/event-stream" : "application/json"
        // A stream is written to the client's connection from the event loop (see StreamOutlet).
        let relayed = request.stream ? await StreamOutlet.find(on: context.channel).map(RelayedStream.init(outlet:)) : nil
        let path = api == .chatCompletions ? "/chat/completions" : "/responses"
        switch await forward(method: .POST, path: path, body: request.body, accept: accept, relayed: relayed, context: context) {
        case .success(let answer): response = answer
        case .failure(let failure):
            permit?.release()
            return .failed(failure)
        }
        let contentType = response.headers.first(name: "Content-Type")
        let isStream = contentType?.lowercased().hasPrefix("text/event-stream") ?? request.stream
        let body: ResponseBody
        do {
            body = try await relayBody(
                response, isStream: isStream, permit: permit, relayed: relayed, stripsUsage: request.stripsUsage, api: api,
                onUsage: usageRecorder(model: request.model, context: context)
            )
        } catch {
            return .failed(.badGateway(brokenOff(error, context: context)))
        }
        let answer = RawResponseBody(
            body: body,
            contentType: contentType,
            headers: isStream ? Self.streamHeaders : [:]
        )
        return .answer(answer, isStream: isStream)
    }

    /// Counts one model call of the caller (an agent turn's against the conversation's owner) on
    /// `model`, with the usage the answer reported (none known: the request alone); nil when
    /// calls are not metered.
    func usageRecorder(model: String, context: Context) -> (@Sendable (TokenUsage?) -> Void)? {
        guard let ledger = relay.usage else { return nil }
        let account = context.principal?.owner ?? "gateway"
        return { usage in ledger.record(account: account, model: model, usage: usage ?? TokenUsage()) }
    }

    /// The headers of a relayed stream: no cache, and no buffering by a proxy in front (nginx).
    static let streamHeaders: HTTPFields = [.cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"]

    /// Whether a media type says JSON (`application/json`, `…+json`, any case). A byte scan: both
    /// Foundation's `contains` and the generic collection search showed in the relay's profile.
    static func mentionsJSON(_ contentType: String) -> Bool {
        let json: StaticString = "json"
        var matched = 0
        for byte in contentType.utf8 {
            let lowered = byte | 0x20  // ASCII letters only; no other byte lowers onto j, s, o or n
            if lowered == json.utf8Start[matched] {
                matched += 1
                if matched == 4 { return true }
            } else {
                matched = lowered == json.utf8Start[0] ? 1 : 0
            }
        }
        return false
    }

    /// The 502 for a whole answer that broke off before its end.
    func brokenOff(_ error: any Error, context: Context) -> ErrorEnvelope {
        envelope(context, 502, "upstream_unavailable", "The model provider broke off its answer: \(error)")
    }

    /// The provider's body for the client, keeping the turn's permit until the answer ends, and
    /// recording the usage it reported.
    ///
    /// A whole answer (a `Content-Length` of at most `UpstreamExchange.collectLimit`, which
    /// `UpstreamExchange` has already gathered) goes as one buffer: Hummingbird then writes the
    /// head, the body and the end in one go (one system call, one wake-up of the client), where
    /// a closure body costs a write and a flush each. Anything else (a stream, a larger body) is
    /// forwarded chunk by chunk as it arrives; a stream is never buffered. A stream that the
    /// provider request handed to the client's outlet (`relayed.isEngaged`) is written there by
    /// the event loop, between the head and the end that Hummingbird writes.
    private func relayBody(
        _ response: HTTPClientResponse,
        isStream: Bool,
        permit: TurnPermit? = nil,
        relayed: RelayedStream? = nil,
        stripsUsage: Bool = false,
        api: RelayRequest.API = .chatCompletions,
        onUsage: (@Sendable (TokenUsage?) -> Void)? = nil
    ) async throws -> ResponseBody {
        let upstream = response.body
        let contentLength = response.headers.first(name: "Content-Length").flatMap(Int.init)
        let progress = RelayProgress(isStream: isStream, contentLength: contentLength, permit: permit, stripsUsage: stripsUsage, api: api, onUsage: onUsage)
        if !isStream, let contentLength, (0...UpstreamExchange.collectLimit).contains(contentLength), relayed?.isEngaged != true {
            defer { progress.ended() }
            let buffer = try await upstream.collect(upTo: contentLength)
            progress.observe(buffer)
            progress.completed()
            return ResponseBody(byteBuffer: buffer)
        }
        let write: @Sendable (inout any ResponseBodyWriter) async throws -> Void
        if let relayed, relayed.isEngaged {
            write = { writer in
                defer { progress.ended() }
                try await relayed.run(progress)
                if let rest = progress.remainder() { try await writer.write(rest) }
                progress.completed()
                try await writer.finish(nil)
            }
        } else {
            write = { writer in
                defer { progress.ended() }
                for try await buffer in upstream {
                    if let relayed = progress.relay(buffer) { try await writer.write(relayed) }
                }
                if let rest = progress.remainder() { try await writer.write(rest) }
                progress.completed()
                try await writer.finish(nil)
            }
        }
        if !isStream, let contentLength {
            return ResponseBody(contentLength: contentLength, write)
        }
        return ResponseBody(write)
    }

    /// Why a relayed request gets no 2xx from the provider, as the envelope to answer with.
    enum RelayFailure: Error {
        /// 503: the provider's key is not set.
        case notConfigured(ErrorEnvelope)
        /// 502: unreachable, silent, or refusing the gateway's own credentials.
        case badGateway(ErrorEnvelope)
        /// 429: the provider is rate limiting the gateway.
        case rateLimited(ErrorEnvelope, retryAfter: Int)
        /// The provider's status, kept.
        case other(status: Int, ErrorEnvelope)
    }

    /// Sends one request to the provider; a 2xx response comes back with its body unread.
    func forward(
        method: HTTPMethod,
        path: String,
        body: ByteBuffer?,
        accept: String,
        relayed: RelayedStream? = nil,
        context: Context
    ) async -> Result<HTTPClientResponse, RelayFailure> {
        let response: HTTPClientResponse
        do {
            response = try await relay.transport.send(method: method, path: path, body: body, accept: accept, relayed: relayed)
        } catch ModelClientError.missingKey(let missing) {
            return .failure(.notConfigured(envelope(context, 503, "model_not_configured", missing.description)))
        } catch ModelClientError.idleTimeout(let milliseconds) {
            return .failure(.badGateway(envelope(context, 502, "upstream_timeout", "The model provider sent nothing for \(milliseconds) ms.")))
        } catch ModelClientError.connectionFailed(let failure) {
            return .failure(.badGateway(envelope(context, 502, "upstream_unavailable", failure.description)))
        } catch {
            context.logger.warning("relay failed before the provider answered", metadata: ["error.message": .string(String(describing: error))])
            let failure = ProviderConnectionFailure(provider: relay.transport.provider.name, cause: .other)
            return .failure(.badGateway(envelope(context, 502, "upstream_unavailable", failure.description)))
        }
        guard !(200..<300).contains(response.status.code) else { return .success(response) }
        return .failure(await upstreamError(response, context: context))
    }

    /// The provider's error as the envelope, its body under `upstream`. A 401/403 means the
    /// gateway's provider credentials are wrong, which is the gateway's fault, not the caller's: 502.
    private func upstreamError(_ response: HTTPClientResponse, context: Context) async -> RelayFailure {
        let status = Int(response.status.code)
        let bytes = (try? await response.body.collect(upTo: 64 * 1024)).map { Data($0.readableBytesView) } ?? Data()
        let upstreamBody = (try? JSONDecoder().decode([String: JSONValue].self, from: bytes))
            ?? ["message": .string(String(decoding: bytes.prefix(2000), as: UTF8.self))]
        let message = ProviderTransport.errorMessage(in: bytes, status: status)
        func answer(_ status: Int, _ code: String, _ text: String) -> ErrorEnvelope {
            var answer = envelope(context, status, code, text + message)
            answer.upstream = upstreamBody
            return answer
        }
        switch status {
        case 401, 403:
            return .badGateway(answer(502, "upstream_auth_failed", "The model provider refused the gateway's credentials: "))
        case 429:
            let retryAfter = ProviderTransport.retryAfter(response.headers).map { max(1, Int(($0.milliseconds / 1000).rounded(.up))) } ?? 1
            return .rateLimited(answer(429, "upstream_rate_limited", "The model provider is rate limiting the gateway: "), retryAfter: retryAfter)
        default:
            return .other(status: status, answer(status, "upstream_error", "The model provider answered \(status): "))
        }
    }
}
