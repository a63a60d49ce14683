import GatewayRuntime
import NIOCore

/// A Responses API request translated for a `wire_api = "chat"` provider (PROTOCOLS §9).
package struct ResponsesChatRequest: Sendable {
    /// The request's model, or the default model when the body has none (absent or null).
    package var model: String
    /// Whether the client asked for a stream (`"stream": true`).
    package var stream: Bool
    /// The Chat Completions request to send: always `"stream": true` and
    /// `"stream_options": {"include_usage": true}`.
    package var chatBody: ByteBuffer

    /// Throws `GatewayError.badRequest` for a body that is not a Responses request (not JSON, not an
    /// object, `input` missing or of the wrong type, a bad item), with a message naming the field.
    package init(body: ByteBuffer, defaultModel: String) throws {
        throw GatewayError.badRequest("The Responses↔Chat bridge is not implemented yet.")
    }

    /// A fresh translator for this request's answer.
    package var translator: ResponsesStreamTranslator { ResponsesStreamTranslator() }
}
