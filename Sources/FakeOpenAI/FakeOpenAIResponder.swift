import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Answers every request the fake server receives: records it, then routes it by method and path.
struct FakeOpenAIResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let state: ServerState

    /// Largest request body accepted (bigger ones are cut off by Hummingbird's collector).
    static let maximumBodySize = 64 << 20
    /// How long `fake-stall` waits before giving up on the client.
    static let stallMaximum: Duration = .seconds(60)

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let bodyBuffer = try await request.collectBody(upTo: Self.maximumBodySize)
        let body = Data(bodyBuffer.readableBytesView)

        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName.lowercased()
            if let existing = headers[name] {
                headers[name] = existing + ", " + field.value
            } else {
                headers[name] = field.value
            }
        }
        var query: [String: String] = [:]
        for (name, value) in request.uri.queryParameters {
            query[String(name)] = String(value)
        }
        let number = state.recorder.record(
            method: request.method.rawValue, path: request.uri.path, query: query, headers: headers, body: body
        )
        state.logger.debug("fake-openai request", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "n": "\(number)"])

        let exchange = Exchange(state: state, request: request, number: number, headers: headers, body: body)
        var response = await exchange.respond()
        response.headers[HTTPField.Name("x-request-id")!] = "req_fake\(number)"
        response.headers[HTTPField.Name("openai-version")!] = "2020-10-01"
        response.headers[HTTPField.Name("openai-processing-ms")!] = "1"
        let status = response.status.code
        state.recorder.update(number) { $0.responseStatus = status }
        return response
    }
}

/// One request being answered.
struct Exchange: Sendable {
    let state: ServerState
    let request: Request
    let number: Int
    let headers: [String: String]
    let body: Data

    enum API { case chat, responses }

    func respond() async -> Response {
        let path = request.uri.path.hasSuffix("/") && request.uri.path.count > 1 ? String(request.uri.path.dropLast()) : request.uri.path
        switch (request.method, path) {
        case (.post, "/v1/chat/completions"): return await generate(.chat)
        case (.post, "/v1/responses"): return await generate(.responses)
        case (.get, "/v1/models"):
            if let failure = authenticationFailure() { return failure }
            return json(.ok, ["object": "list", "data": .array(FakeModel.allNames.map(modelObject))])
        case (.get, _) where path.hasPrefix("/v1/models/"):
            if let failure = authenticationFailure() { return failure }
            let id = String(path.dropFirst("/v1/models/".count)).removingPercentEncoding ?? ""
            return json(.ok, modelObject(id))
        default:
            return error(
                .notFound,
                message: "Invalid URL (\(request.method.rawValue) \(request.uri.path))",
                type: "invalid_request_error"
            )
        }
    }

    private func modelObject(_ id: String) -> JSON {
        ["id": .string(id), "object": "model", "created": 1_700_000_000, "owned_by": "fake-openai"]
    }

    // MARK: Errors and checks

    private func json(_ status: HTTPResponse.Status, _ value: JSON, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized + "\n")))
    }

    private func error(
        _ status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        json(status, OpenAIFormat.error(message: message, type: type, param: param, code: code), headers: headers)
    }

    /// 401 unless the request carries `Authorization: Bearer <something>`.
    private func authenticationFailure() -> Response? {
        let value = headers["authorization"] ?? ""
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        if parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].trimmingCharacters(in: .whitespaces).isEmpty {
            return nil
        }
        return error(
            .unauthorized,
            message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            type: "invalid_request_error"
        )
    }

    private func invalidAPIKey() -> Response {
        let key = headers["authorization"].map { $0.split(separator: " ").last.map(String.init) ?? "" } ?? ""
        let shown = key.count > 8 ? "\(key.prefix(3))*****\(key.suffix(4))" : key
        return error(
            .unauthorized,
            message: "Incorrect API key provided: \(shown). You can find your API key at https://platform.openai.com/account/api-keys.",
            type: "invalid_request_error",
            code: "invalid_api_key"
        )
    }

    // MARK: Generation

    private func generate(_ api: API) async -> Response {
        let parsed = JSON.parse(body)
        let modelName = parsed?["model"]?.stringValue
        let conversation = parsed.map { Conversation(api: api, request: $0) }
        let scenarioName = modelName.map { FakeModel.scenarioName(modelName: $0, prompt: conversation?.lastUserText ?? "") }
        let scenario = scenarioName.map(FakeModel.init(modelName:))

        if scenario == .unauthorized { return invalidAPIKey() }
        if let failure = authenticationFailure() { return failure }
        guard let parsed, parsed.isObject else {
            return error(
                .badRequest,
                message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
                type: "invalid_request_error"
            )
        }
        guard let modelName, let scenarioName, let scenario else {
            return error(.badRequest, message: "you must provide a model parameter", type: "invalid_request_error")
        }
        switch api {
        case .chat:
            guard parsed["messages"]?.arrayValue != nil else {
                return error(
                    .badRequest, message: "Missing required parameter: 'messages'.", type: "invalid_request_error",
                    param: "messages", code: "missing_required_parameter"
                )
            }
        case .responses:
            switch parsed["input"] {
            case nil, .string?, .array?: break
            default:
                return error(
                    .badRequest, message: "Invalid type for 'input': expected one of a string or array of input items.",
                    type: "invalid_request_error", param: "input", code: "invalid_type"
                )
            }
        }

        let agentScript = scenario.agentScript(api: api, request: parsed)
        if agentScript != nil,
            let problem = (api == .chat ? ChatToolCheck.problem(parsed) : nil) ?? ToolCallPairing.problem(api: api, request: parsed)
        {
            return error(.badRequest, message: problem.message, type: "invalid_request_error", param: problem.param)
        }

        let attempt = state.nextAttempt(for: scenarioName)
        switch scenario {
        case .rateLimited(let failures, let inMilliseconds) where attempt <= failures:
            var headers: HTTPFields = [:]
            if inMilliseconds {
                headers[HTTPField.Name("retry-after-ms")!] = "50"
            } else {
                headers[.retryAfter] = "1"
            }
            headers[HTTPField.Name("x-ratelimit-limit-requests")!] = "3"
            headers[HTTPField.Name("x-ratelimit-remaining-requests")!] = "0"
            headers[HTTPField.Name("x-ratelimit-reset-requests")!] = inMilliseconds ? "50ms" : "1s"
            return error(
                .tooManyRequests,
                message: "Rate limit reached for \(modelName) in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in \(inMilliseconds ? "50ms" : "1s"). Visit https://platform.openai.com/account/rate-limits to learn more.",
                type: "requests",
                code: "rate_limit_exceeded",
                headers: headers
            )
        case .serverError(let failures) where failures.map({ attempt <= $0 }) ?? true:
            return error(.internalServerError, message: OpenAIFormat.serverErrorMessage, type: "server_error")
        default:
            break
        }

        let plan = makePlan(api, parsed, modelName: modelName, scenario: scenario, agentScript: agentScript)
        let stream = parsed["stream"]?.boolValue ?? false
        if stream {
            let steps = api == .chat ? OpenAIFormat.chatStream(plan) : OpenAIFormat.responsesStream(plan)
            return streamResponse(steps)
        }
        return await completeResponse(api, plan, scenario: scenario)
    }

    private func makePlan(_ api: API, _ request: JSON, modelName: String, scenario: FakeModel, agentScript: (any AgentScript)?) -> Plan {
        let conversation = Conversation(api: api, request: request)
        var plan = Plan(
            model: modelName,
            sequenceNumber: number,
            created: Int(Date().timeIntervalSince1970),
            output: .text(Plan.words("Echo: " + conversation.lastUserText)),
            messageCount: conversation.messageCount,
            reportsUsage: true,
            includeUsageChunk: api == .chat && request["stream_options"]?["include_usage"]?.boolValue == true,
            gap: nil,
            garbage: false,
            ending: .normal,
            instructions: api == .responses ? (request["instructions"] ?? nil) : nil,
            tools: request["tools"] ?? [],
            store: request["store"] ?? true
        )
        switch scenario {
        case .count:
            plan.output = .text(["messages=\(conversation.messageCount)"])
        case .slow(let gap, let ticks):
            plan.output = .text((0..<ticks).map { "tick\($0) " })
            plan.gap = gap
        case .stall:
            plan.ending = .stall(afterDeltas: 2, maximum: FakeOpenAIResponder.stallMaximum)
        case .cut:
            plan.ending = .cut(afterDeltas: 2)
        case .errorStream:
            plan.ending = .error(afterDeltas: 1)
        case .garbage:
            plan.garbage = true
        case .tools:
            plan.output = .toolCalls(Plan.fakeToolCalls)
        case .noUsage:
            plan.reportsUsage = false
        case .echo, .codex, .agent, .rateLimited, .serverError, .unauthorized:
            break
        }
        if let agentScript { plan.output = agentScript.output(sequenceNumber: number) }
        return plan
    }

    // MARK: Writing answers

    private var sseHeaders: HTTPFields {
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return headers
    }

    /// A streamed answer: one write per step, flushed as it goes.
    private func streamResponse(_ steps: [StreamStep]) -> Response {
        let state = state
        let number = number
        let request = request
        let watchesForClose = steps.contains { if case .stall = $0 { true } else { false } }
        return Response(
            status: .ok,
            headers: sseHeaders,
            body: ResponseBody { writer in
                do {
                    if watchesForClose {
                        // Hummingbird notices the client closing only while something reads the
                        // connection; this does, and cancels the operation when it happens.
                        try await request.body.consumeWithCancellationOnInboundClose { _ in
                            try await Self.run(steps, writer: &writer, state: state)
                        }
                    } else {
                        try await Self.run(steps, writer: &writer, state: state)
                    }
                    try await writer.finish(nil)
                } catch is DeliberateCut {
                    throw DeliberateCut()
                } catch is ServerStopping {
                    throw ServerStopping()
                } catch {
                    state.recorder.update(number) { $0.clientDisconnected = true }
                    state.logger.debug("fake-openai client went away", metadata: ["n": "\(number)", "error": "\(error)"])
                    throw error
                }
            }
        )
    }

    /// The steps in order, every wait ending at once on shutdown (one handler for the whole stream).
    private static func run(_ steps: [StreamStep], writer: inout any ResponseBodyWriter, state: ServerState) async throws {
        try await state.untilShutdown {
            for step in steps {
                switch step {
                case .write(let buffer):
                    try await writer.write(buffer)
                case .sleep(let duration):
                    try await state.sleepUnlessStopped(for: duration)
                case .stall(let maximum):
                    try await state.sleepUnlessStopped(for: maximum)
                    throw DeliberateCut()
                case .cut:
                    // Let the bytes already written reach the socket before the connection goes.
                    try await state.sleepUnlessStopped(for: .milliseconds(50))
                    throw DeliberateCut()
                }
            }
        }
    }

    private func completeResponse(_ api: API, _ plan: Plan, scenario: FakeModel) async -> Response {
        let value = api == .chat ? OpenAIFormat.chatCompletion(plan) : OpenAIFormat.responseJSON(plan)
        let bytes = ByteBuffer(string: value.serialized + "\n")
        switch scenario {
        case .slow(let gap, let ticks):
            do {
                try await state.sleep(for: gap * (ticks - 1))
            } catch {
                return self.error(.serviceUnavailable, message: "The server is shutting down.", type: "server_error")
            }
        case .stall:
            do {
                // The body was collected in `respond(to:context:)`, as this needs.
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    try await state.sleep(for: FakeOpenAIResponder.stallMaximum)
                }
            } catch is ServerStopping {
            } catch {
                state.recorder.update(number) { $0.clientDisconnected = true }
            }
            // Nobody is listening any more (or 60 s passed): close without an answer.
            var headers: HTTPFields = [:]
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: bytes.readableBytes) { _ in throw DeliberateCut() })
        case .cut:
            let half = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes / 2) ?? bytes
            let state = state
            var headers: HTTPFields = [:]
            headers[.contentType] = "application/json"
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody(contentLength: bytes.readableBytes) { writer in
                    try await writer.write(half)
                    try await state.sleep(for: .milliseconds(50))
                    throw DeliberateCut()
                }
            )
        case .errorStream:
            return error(.internalServerError, message: OpenAIFormat.serverErrorMessage, type: "server_error")
        default:
            break
        }
        var headers: HTTPFields = [:]
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: bytes))
    }
}

/// The parts of a request's conversation the scenarios look at.
struct Conversation {
    var messageCount = 0
    var lastUserText = ""

    init(api: Exchange.API, request: JSON) {
        switch api {
        case .chat:
            let messages = request["messages"]?.arrayValue ?? []
            messageCount = messages.count
            if let last = messages.last(where: { $0["role"]?.stringValue == "user" }) {
                lastUserText = Self.text(of: last["content"])
            }
        case .responses:
            switch request["input"] {
            case .string(let text)?:
                messageCount = 1
                lastUserText = text
            case .array(let items)?:
                messageCount = items.count
                if let last = items.last(where: { $0["role"]?.stringValue == "user" }) {
                    lastUserText = Self.text(of: last["content"])
                }
            default:
                break
            }
            if case .string(let instructions)? = request["instructions"], !instructions.isEmpty {
                messageCount += 1
            }
        }
    }

    /// A message's text: a string, or the `text` of each part of a content array, joined by spaces.
    static func text(of content: JSON?) -> String {
        switch content {
        case .string(let text)?:
            return text
        case .array(let parts)?:
            return parts.compactMap { $0["text"]?.stringValue }.joined(separator: " ")
        default:
            return ""
        }
    }
}
