import AsyncHTTPClient
import Foundation
import GatewayRuntime
import Logging
import NIOCore

/// Reads an upstream `text/event-stream` body, handing over each event the moment its blank line
/// arrives (never buffering the whole answer).
package enum EventStreamReader {
    /// Calls `onEvent` per event until it returns false or the body ends; maps transport failures
    /// to ``ModelClientError``.
    package static func read(
        _ response: HTTPClientResponse,
        idleTimeoutMilliseconds: Int,
        onEvent: (SSEParser.Event) async throws -> Bool
    ) async throws {
        var parser = SSEParser()
        do {
            for try await chunk in response.body {
                for event in parser.feed(chunk.readableBytesView) {
                    guard try await onEvent(event) else { return }
                }
            }
        } catch let error as ModelClientError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ModelClientError.streamBroke(error, idleTimeoutMilliseconds: idleTimeoutMilliseconds)
        }
    }

    /// The `codex.sse_event` telemetry event for a completed response.
    package static func logCompletion(_ logger: Logger, since start: ContinuousClock.Instant, usage: TokenUsage?) {
        logger.info(
            "codex.sse_event",
            metadata: [
                "event.kind": "response.completed", "duration_ms": .stringConvertible((ContinuousClock.now - start).milliseconds),
                "input_token_count": .stringConvertible(usage?.inputTokens ?? 0),
                "output_token_count": .stringConvertible(usage?.outputTokens ?? 0),
                "cached_token_count": .stringConvertible(usage?.cachedInputTokens ?? 0),
            ]
        )
    }
}
