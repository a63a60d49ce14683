import GatewayRuntime
import NIOCore

/// An OpenAI request checked just enough to relay as it is: well-formed JSON, an object with what
/// its API requires (Chat Completions: a non-empty `messages` array of objects; Responses: an
/// `input` string or array), a string `model` (the configured one when absent or null) and a
/// boolean `stream`. The bytes go upstream unchanged unless the model had to be filled in, or a
/// Chat Completions stream asks for no usage: then only that is added
/// (`stream_options.include_usage: true`, so that the gateway can count the tokens): nothing is
/// decoded or re-encoded.
package struct RelayRequest {
    package enum API: Sendable {
        case chatCompletions
        case responses
    }

    package var body: ByteBuffer
    package var stream: Bool
    /// The model asked for (the configured one when the body names none): what usage is counted
    /// under and an allowlist checks.
    package var model: String
    /// The provider is asked for the usage of a stream whose client did not ask for it: its usage
    /// chunk is to be taken out of the client's stream (``UsageChunkFilter``).
    package var stripsUsage = false

    package init(body: ByteBuffer, defaultModel: String, api: API = .chatCompletions) throws {
        let notAnObject = "The body must be a JSON object (an OpenAI \(api == .chatCompletions ? "Chat Completions" : "Responses") request)."
        let checked = body.withUnsafeReadableBytes { bytes -> Result<(stream: Bool, modelFill: ModelFill?, model: String?), GatewayError> in
            let members: [JSONSyntaxScanner.Member]
            do {
                guard let object = try JSONSyntaxScanner.topLevelMembers(of: bytes) else { return .failure(.badRequest(notAnObject)) }
                members = object
            } catch {
                return .failure(.badRequest("\(notAnObject) It is not valid JSON: \(error)."))
            }
            // Like JSON decoders, the last of repeated members wins.
            func last(_ name: String) -> JSONSyntaxScanner.Member? { members.last { $0.keyIs(name, in: bytes) } }
            switch api {
            case .chatCompletions:
                guard let messages = last("messages"), messages.kind == .array, messages.elementCount > 0 else {
                    return .failure(.badRequest("messages: expected a non-empty array of messages."))
                }
                guard messages.allElementsAreObjects else { return .failure(.badRequest("messages: every message must be an object.")) }
            case .responses:
                guard let input = last("input"), input.kind == .string || input.kind == .array else {
                    return .failure(.badRequest("input: expected a string or an array of input items."))
                }
                guard input.kind == .string || input.allElementsAreObjects else {
                    return .failure(.badRequest("input: every input item must be an object."))
                }
            }
            let stream: Bool
            switch last("stream") {
            case nil: stream = false
            case let member? where member.kind == .null: stream = false
            case let member? where member.kind == .bool: stream = bytes[member.value.lowerBound] == UInt8(ascii: "t")
            default: return .failure(.badRequest("stream: expected a boolean."))
            }
            switch last("model") {
            case nil:
                return .success((stream, .insertAfterBrace, nil))
            case let member? where member.kind == .null:
                return .success((stream, .replace(member.value), nil))
            case let member? where member.kind == .string && member.value.count > 2:
                return .success((stream, nil, JSONSyntaxScanner.string(in: bytes, quoted: member.value)))
            default:
                return .failure(.badRequest("model: expected a non-empty string."))
            }
        }
        switch checked {
        case .failure(let error): throw error
        case .success(let (stream, fill, model)):
            self.stream = stream
            self.model = model ?? defaultModel
            self.body = fill.map { $0.apply(to: body, model: defaultModel) } ?? body
            if stream, api == .chatCompletions, let asking = Self.askingForUsage(self.body) {
                self.body = asking
                self.stripsUsage = true
            }
        }
    }

    /// `body` with `stream_options.include_usage` set to true; nil when it is already, or when
    /// `stream_options` is neither an object nor null (the provider's to refuse).
    package static func askingForUsage(_ body: ByteBuffer) -> ByteBuffer? {
        let edit = body.withUnsafeReadableBytes { bytes -> (range: Range<Int>, text: String)? in
            guard let members = try? JSONSyntaxScanner.topLevelMembers(of: bytes) else { return nil }
            guard let options = members.last(where: { $0.keyIs("stream_options", in: bytes) }) else {
                let brace = bytes.firstIndex(of: UInt8(ascii: "{"))! + 1
                return (brace..<brace, #""stream_options":{"include_usage":true},"#)
            }
            if options.kind == .null { return (options.value, #"{"include_usage":true}"#) }
            guard options.kind == .object else { return nil }
            let object = UnsafeRawBufferPointer(rebasing: bytes[options.value])
            guard let fields = try? JSONSyntaxScanner.topLevelMembers(of: object) else { return nil }
            let start = options.value.lowerBound
            guard let include = fields.last(where: { $0.keyIs("include_usage", in: object) }) else {
                return ((start + 1)..<(start + 1), fields.isEmpty ? #""include_usage":true"# : #""include_usage":true,"#)
            }
            if include.kind == .bool, object[include.value.lowerBound] == UInt8(ascii: "t") { return nil }
            return ((start + include.value.lowerBound)..<(start + include.value.upperBound), "true")
        }
        guard let edit else { return nil }
        let bytes = body.readableBytesView
        var edited = ByteBuffer()
        edited.reserveCapacity(bytes.count + edit.text.utf8.count)
        edited.writeBytes(bytes[..<(bytes.startIndex + edit.range.lowerBound)])
        edited.writeString(edit.text)
        edited.writeBytes(bytes[(bytes.startIndex + edit.range.upperBound)...])
        return edited
    }

    /// Where the configured model goes when the request names none.
    private enum ModelFill {
        /// `{"model":"…",` then the rest of the object.
        case insertAfterBrace
        /// In place of `null`.
        case replace(Range<Int>)

        func apply(to body: ByteBuffer, model: String) -> ByteBuffer {
            let literal = JSONSyntaxScanner.quoted(model)
            let bytes = body.readableBytesView
            var filled = ByteBuffer()
            filled.reserveCapacity(bytes.count + literal.utf8.count + 10)
            switch self {
            case .insertAfterBrace:
                let brace = bytes.firstIndex(of: UInt8(ascii: "{"))!
                filled.writeBytes(bytes[...brace])
                filled.writeString("\"model\":" + literal)
                // `{}` cannot reach here (messages is required), so a member always follows.
                filled.writeString(",")
                filled.writeBytes(bytes[(brace + 1)...])
            case .replace(let range):
                let start = bytes.startIndex
                filled.writeBytes(bytes[..<(start + range.lowerBound)])
                filled.writeString(literal)
                filled.writeBytes(bytes[(start + range.upperBound)...])
            }
            return filled
        }
    }
}
