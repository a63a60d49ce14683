import Foundation
import NIOCore

/// Finds the token usage in a relayed answer without holding it up: it keeps a bounded copy of
/// what passed (the whole JSON body up to a limit, or the tail of an event stream, where the
/// usage chunk comes last) and reads `usage` once the answer is complete.
struct RelayUsageSniffer {
    private let isStream: Bool
    private let limit: Int
    private var kept = ByteBuffer()
    private var overflowed = false

    init(isStream: Bool) {
        self.isStream = isStream
        self.limit = isStream ? 16 * 1024 : 1 << 20
    }

    mutating func observe(_ buffer: ByteBuffer) {
        if isStream {
            var chunk = buffer
            kept.writeBuffer(&chunk)
            if kept.readableBytes > limit {
                kept.moveReaderIndex(forwardBy: kept.readableBytes - limit)
                kept.discardReadBytes()
            }
        } else if !overflowed {
            if kept.readableBytes + buffer.readableBytes > limit {
                overflowed = true
                kept.clear()
            } else {
                var chunk = buffer
                kept.writeBuffer(&chunk)
            }
        }
    }

    /// The usage the answer reported, if any (Chat Completions' `prompt_tokens`/`completion_tokens`).
    func usage() -> TokenUsage? {
        if isStream {
            let text = String(decoding: kept.readableBytesView, as: UTF8.self)
            for line in text.split(separator: "\n").reversed() where line.hasPrefix("data:") && line.contains("\"usage\"") {
                if let usage = Self.usage(in: Data(line.dropFirst(5).utf8)) { return usage }
            }
            return nil
        }
        return overflowed ? nil : Self.usage(in: Data(kept.readableBytesView))
    }

    static func usage(in json: Data) -> TokenUsage? {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
            let usage = object["usage"] as? [String: Any]
        else { return nil }
        let cached = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
        return TokenUsage(
            inputTokens: usage["prompt_tokens"] as? Int ?? 0,
            cachedInputTokens: cached,
            outputTokens: usage["completion_tokens"] as? Int ?? 0
        )
    }
}
