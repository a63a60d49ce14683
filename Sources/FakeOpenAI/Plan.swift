import NIOCore

/// What the fake "model" answers, worked out from the request and the scenario.
struct Plan: Sendable {
    struct ToolCall: Sendable {
        /// A `function` tool's call carries JSON arguments; a freeform `custom` tool's (Responses
        /// only, e.g. Codex's `apply_patch`) carries raw text, its `input`.
        enum Kind: Sendable { case function, custom }

        var callID: String
        var itemID: String
        var name: String
        /// The arguments (or a custom call's input) as streamed, in pieces.
        var argumentFragments: [String]
        var kind: Kind = .function
        /// Responses only: the `namespace` tool the function belongs to (Codex offers an MCP
        /// server's tools as namespace `mcp__<server>`), sent as the call's `namespace`.
        var namespace: String? = nil
        var arguments: String { argumentFragments.joined() }
    }

    enum Output: Sendable {
        /// Text, already split into the deltas to stream.
        case text([String])
        case toolCalls([ToolCall])
    }

    /// How a stream ends.
    enum Ending: Sendable, Equatable {
        case normal
        /// Stop after `afterDeltas` content deltas and wait, connection open.
        case stall(afterDeltas: Int, maximum: Duration)
        /// Stop after `afterDeltas` content deltas and close the connection.
        case cut(afterDeltas: Int)
        /// Stop after `afterDeltas` content deltas and send an error event.
        case error(afterDeltas: Int)

        enum Stop { case stall(Duration), cut, error }

        /// What to do instead of sending delta number `deltas` (0-based), or nil to go on.
        /// At the end of the text (`final`) an abnormal ending always happens, even when the text
        /// had fewer deltas than the ending waits for.
        func stop(afterDeltas deltas: Int, final: Bool = false) -> Stop? {
            switch self {
            case .normal: nil
            case .stall(let after, let maximum): deltas >= after || final ? .stall(maximum) : nil
            case .cut(let after): deltas >= after || final ? .cut : nil
            case .error(let after): deltas >= after || final ? .error : nil
            }
        }
    }

    var model: String
    var sequenceNumber: Int
    var created: Int
    var output: Output
    /// Messages in the request (see ``FakeModel``), for the usage numbers.
    var messageCount: Int
    var reportsUsage: Bool
    /// Chat only: the request's `stream_options.include_usage`.
    var includeUsageChunk: Bool
    /// Pause before every content delta after the first.
    var gap: Duration?
    var garbage: Bool
    var ending: Ending
    /// Responses only: values echoed in the `response` object.
    var instructions: JSON
    var tools: JSON
    var store: JSON

    var promptTokens: Int { messageCount * 10 }
    var completionTokens: Int {
        switch output {
        case .text(let pieces): pieces.count
        case .toolCalls(let calls): calls.reduce(0) { $0 + $1.argumentFragments.count }
        }
    }
    var text: String {
        if case .text(let pieces) = output { return pieces.joined() }
        return ""
    }

    var chatID: String { "chatcmpl-fake\(sequenceNumber)" }
    var responseID: String { "resp_fake\(sequenceNumber)" }
    var messageItemID: String { "msg_fake\(sequenceNumber)" }

    static let fakeToolCalls: [ToolCall] = [
        ToolCall(callID: "call_fake_weather", itemID: "fc_fake_weather", name: "get_weather", argumentFragments: [#"{"ci"#, #"ty":"Pa"#, #"ris"}"#]),
        ToolCall(callID: "call_fake_time", itemID: "fc_fake_time", name: "get_time", argumentFragments: ["{}"]),
    ]

    /// Splits text into deltas: each word with the whitespace that follows it (leading whitespace
    /// stays with the first word).
    static func words(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var currentHasWord = false
        for character in text {
            if !character.isWhitespace, currentHasWord, let last = current.last, last.isWhitespace {
                pieces.append(current)
                current = ""
                currentHasWord = false
            }
            current.append(character)
            if !character.isWhitespace { currentHasWord = true }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}

/// One thing a streamed body does.
enum StreamStep: Sendable {
    /// One write (and flush) of bytes: a whole SSE event, or a garbage line.
    case write(ByteBuffer)
    case sleep(Duration)
    /// Send nothing and keep the connection open until the client leaves or `maximum` passes.
    case stall(maximum: Duration)
    /// Close the connection abruptly.
    case cut
}
