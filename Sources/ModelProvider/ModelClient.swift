import Foundation
import GatewayRuntime

/// One message of a conversation, as sent to the model.
public struct ConversationMessage: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String
    /// Image URLs (https or data URLs) sent with a user message.
    public var images: [String]
    public var timestamp: Date

    public init(role: Role, content: String, images: [String] = [], timestamp: Date = Date()) {
        self.role = role
        self.content = content
        self.images = images
        self.timestamp = timestamp
    }
}

/// Token counts of one model response.
public struct TokenUsage: Sendable, Hashable {
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var outputTokens: Int

    public init(inputTokens: Int = 0, cachedInputTokens: Int = 0, outputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
    }
}

/// A tool call the model asked for, assembled from its streamed fragments.
public struct ToolCall: Sendable, Hashable {
    public var index: Int
    public var id: String?
    public var name: String
    public var arguments: String
}

/// What a model client streams back, as it arrives.
public enum ModelStreamEvent: Sendable, Hashable {
    case textDelta(String)
    case toolCalls([ToolCall])
    case usage(TokenUsage)
    /// The provider finished the response normally.
    case completed
}

/// A request for one model response.
public struct ModelRequest: Sendable {
    public var model: String
    public var messages: [ConversationMessage]
    /// A JSON Schema the answer must follow (structured output), if any.
    public var outputSchema: JSONValue?
    /// No retry of the request starts after this instant (`UPSTREAM_RETRY_BUDGET_SECONDS`
    /// from the start of the turn); nil: only `request_max_retries` bounds them.
    public var retryDeadline: ContinuousClock.Instant?

    public init(model: String, messages: [ConversationMessage], outputSchema: JSONValue? = nil, retryDeadline: ContinuousClock.Instant? = nil) {
        self.model = model
        self.messages = messages
        self.outputSchema = outputSchema
        self.retryDeadline = retryDeadline
    }
}

/// A provider speaking one of OpenAI's wire APIs.
public protocol ModelClient: Sendable {
    /// Streams one response, calling `onEvent` for each piece the moment it is parsed.
    ///
    /// Throws ``ModelClientError``. Runs in the caller's task: cancelling it (or throwing from
    /// `onEvent`) cancels the upstream request.
    func respond(to request: ModelRequest, onEvent: (ModelStreamEvent) async throws -> Void) async throws
}

/// Why a model call failed.
public enum ModelClientError: Error, Sendable, CustomStringConvertible {
    /// The provider's key variable is unset.
    case missingKey(MissingProviderKey)
    /// A non-success HTTP status after the retries allowed.
    case http(status: Int, message: String)
    /// The connection could not be made or broke before a response.
    case connectionFailed(ProviderConnectionFailure)
    /// No bytes for longer than `stream_idle_timeout_ms`.
    case idleTimeout(milliseconds: Int)
    /// The stream ended without its completion marker.
    case streamEnded
    /// The provider reported an error inside the stream.
    case provider(String)

    /// Worth retrying the whole turn (a new stream) for.
    public var isRetryableAsTurn: Bool {
        switch self {
        case .idleTimeout, .streamEnded: true
        case .connectionFailed(let failure): failure.isRetryable
        case .http(let status, _): status == 429 || status >= 500
        case .missingKey, .provider: false
        }
    }

    public var description: String {
        switch self {
        case .missingKey(let error): error.description
        case .http(let status, let message): "The model provider answered \(status): \(message)"
        case .connectionFailed(let failure): failure.description
        case .idleTimeout(let milliseconds): "The model stream was idle for more than \(milliseconds) ms."
        case .streamEnded: "The model stream ended before the response was complete."
        case .provider(let message): "The model provider reported an error: \(message)"
        }
    }
}

extension ModelClientError {
    /// What a provider's answer breaking off while its body is read means: silence past
    /// `stream_idle_timeout_ms` (the exchange's idle timer), else a cut stream.
    package static func streamBroke(_ error: any Error, idleTimeoutMilliseconds: Int) -> ModelClientError {
        ProviderTransport.isTimeout(error) ? .idleTimeout(milliseconds: idleTimeoutMilliseconds) : .streamEnded
    }
}
