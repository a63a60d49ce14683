import NIOCore

/// Turns a chat provider's SSE answer into Responses API events, incrementally (PROTOCOLS §9).
package struct ResponsesStreamTranslator: Sendable {
    /// The token counts as the provider reported them; nil until its usage chunk arrives.
    package private(set) var usage: TokenUsage?
    /// Whether the answer ended in `response.failed`.
    package private(set) var isFailed = false

    package init() {}

    /// Feed the provider's bytes as they arrive (any split); returns the Responses SSE bytes to send
    /// now (`event: <type>\ndata: <json>\n\n` per event; possibly empty). The first call also yields
    /// `response.created` and `response.in_progress`.
    package mutating func translate(_ bytes: ByteBuffer) -> ByteBuffer {
        ByteBuffer()
    }

    /// The provider's body ended. `error` nil and `data: [DONE]` (or a finish_reason and usage) seen:
    /// the closing `.done` events and `response.completed` with usage; else (a cut stream, `error`
    /// given, an `error` chunk seen earlier) `response.failed` with `{"code","message"}`.
    package mutating func finish(error: (any Error)?) -> ByteBuffer {
        isFailed = true
        return ByteBuffer()
    }

    /// The whole `response` object as `response.completed` / `response.failed` carries it, for a
    /// non-streaming answer.
    package func responseObject() -> ByteBuffer {
        ByteBuffer()
    }
}
