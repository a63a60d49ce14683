import GatewayRuntime
import NIOCore

/// Finds the token usage in a relayed answer without holding it up or copying it as it passes: it
/// keeps references to the chunks that went by (the whole JSON body up to a limit, or the last few
/// kilobytes of an event stream, where the usage chunk comes last) and reads `usage` once the
/// answer is complete.
public struct RelayUsageSniffer: Sendable {
    private let isStream: Bool
    /// A Responses stream: its usage is inside the last event's `response` object.
    private let isResponsesStream: Bool
    private let limit: Int
    private var chunks: [ByteBuffer] = []
    private var keptBytes = 0
    private var overflowed = false

    package init(isStream: Bool, api: RelayRequest.API = .chatCompletions) {
        self.isStream = isStream
        self.isResponsesStream = isStream && api == .responses
        // A stream's usage event is a few hundred bytes, the last one before `[DONE]`.
        self.limit = isStream ? 4 * 1024 : 1 << 20
    }

    public mutating func observe(_ buffer: ByteBuffer) {
        guard !overflowed else { return }
        chunks.append(buffer)
        keptBytes += buffer.readableBytes
        if isStream {
            // Drop the oldest chunks while the rest still cover the limit.
            var drop = 0
            while drop < chunks.count - 1, keptBytes - chunks[drop].readableBytes >= limit {
                keptBytes -= chunks[drop].readableBytes
                drop += 1
            }
            if drop > 0 { chunks.removeFirst(drop) }
        } else if keptBytes > limit {
            overflowed = true
            chunks = []
        }
    }

    /// The usage the answer reported, if any (Chat Completions' `prompt_tokens`/`completion_tokens`).
    public func usage() -> TokenUsage? {
        guard !overflowed, !chunks.isEmpty else { return nil }
        var all: ByteBuffer
        if chunks.count == 1 {
            all = chunks[0]
        } else {
            all = ByteBuffer()
            all.reserveCapacity(keptBytes)
            for var chunk in chunks { all.writeBuffer(&chunk) }
        }
        return all.withUnsafeReadableBytes { bytes in
            // A Responses stream's last event, `response.completed`, carries the whole response
            // object, usage near its end: the last `usage` object in the tail, as in a whole answer.
            guard isStream, !isResponsesStream else { return Self.usage(inAnswer: bytes) }
            // The last `data:` line that has a usage object.
            var end = bytes.count
            while end > 0 {
                var start = end - 1
                while start > 0, bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if line.starts(with: "data:".utf8), let usage = Self.usage(inJSON: UnsafeRawBufferPointer(rebasing: line.dropFirst(5))) {
                    return usage
                }
                end = start - 1
            }
            return nil
        }
    }

    /// The `usage` member of a whole (non-streamed) answer. OpenAI puts it last, so it is looked for
    /// from the end: the last `"usage"` key followed by `:` and an object, not inside a string (not
    /// preceded by a backslash). The answer's syntax is the provider's business; this reads only
    /// that object, whatever the answer's size.
    package static func usage(inAnswer bytes: UnsafeRawBufferPointer) -> TokenUsage? {
        let key = Array("\"usage\"".utf8)
        var end = bytes.count
        while let found = lastRange(of: key, in: UnsafeRawBufferPointer(rebasing: bytes[..<end])) {
            end = found.lowerBound
            guard found.lowerBound == 0 || bytes[found.lowerBound - 1] != UInt8(ascii: "\\") else { continue }
            var index = found.upperBound
            func skipWhitespace() {
                while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { continue }
            index += 1
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{"),
                let length = JSONSyntaxScanner.lengthOfValue(in: UnsafeRawBufferPointer(rebasing: bytes[index...]))
            else { continue }
            let object = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)])
            return usage(inUsageObject: object)
        }
        return nil
    }

    private static func lastRange(of needle: [UInt8], in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard bytes.count >= needle.count else { return nil }
        var start = bytes.count - needle.count
        while start >= 0 {
            if bytes[start] == needle[0], UnsafeRawBufferPointer(rebasing: bytes[start..<(start + needle.count)]).elementsEqual(needle) {
                return start..<(start + needle.count)
            }
            start -= 1
        }
        return nil
    }

    /// The `usage` member of a JSON object, read with the scanner: a `JSONDecoder` set up for
    /// three integers cost more than relaying the whole answer.
    package static func usage(inJSON bytes: UnsafeRawBufferPointer) -> TokenUsage? {
        guard let members = try? JSONSyntaxScanner.topLevelMembers(of: bytes),
            let member = members.last(where: { $0.keyIs("usage", in: bytes) }), member.kind == .object
        else { return nil }
        return usage(inUsageObject: UnsafeRawBufferPointer(rebasing: bytes[member.value]))
    }

    /// Reads `{"prompt_tokens":…,"completion_tokens":…,"prompt_tokens_details":{"cached_tokens":…}}`,
    /// or the Responses API's `input_tokens`, `output_tokens` and `input_tokens_details`.
    private static func usage(inUsageObject usage: UnsafeRawBufferPointer) -> TokenUsage? {
        guard let fields = try? JSONSyntaxScanner.topLevelMembers(of: usage) else { return nil }
        func integer(_ name: String, in object: UnsafeRawBufferPointer, _ fields: [JSONSyntaxScanner.Member]) -> Int {
            guard let field = fields.last(where: { $0.keyIs(name, in: object) }), field.kind == .number else { return 0 }
            return JSONSyntaxScanner.integer(in: object, at: field.value) ?? 0
        }
        var cached = 0
        if let details = fields.last(where: { $0.keyIs("prompt_tokens_details", in: usage) || $0.keyIs("input_tokens_details", in: usage) }),
            details.kind == .object
        {
            let object = UnsafeRawBufferPointer(rebasing: usage[details.value])
            if let detailFields = try? JSONSyntaxScanner.topLevelMembers(of: object) {
                cached = integer("cached_tokens", in: object, detailFields)
            }
        }
        return TokenUsage(
            inputTokens: integer("prompt_tokens", in: usage, fields) + integer("input_tokens", in: usage, fields),
            cachedInputTokens: cached,
            outputTokens: integer("completion_tokens", in: usage, fields) + integer("output_tokens", in: usage, fields)
        )
    }
}

/// Tells when a relayed answer's last chunk passes: the one that completes `data: [DONE]` in a
/// Chat Completions stream (which may arrive split between chunks), the one that completes the
/// `Content-Length` of a whole answer. Otherwise the end is the end of the provider's body.
public struct RelayEndDetector: Sendable {
    private static let done: [UInt8] = Array("data: [DONE]".utf8)
    private let isStream: Bool
    private var remaining: Int?
    /// How many bytes of the marker the stream so far ends with. The marker's only `d` is its
    /// first byte, so after a mismatch a match can only restart at the current byte.
    private var matched = 0
    private var ended = false

    public init(isStream: Bool, contentLength: Int?) {
        self.isStream = isStream
        self.remaining = isStream ? nil : contentLength
    }

    /// One pass over the chunk's bytes, no allocation: this runs for every relayed chunk.
    public mutating func isLast(_ buffer: ByteBuffer) -> Bool {
        guard !ended else { return false }
        if isStream {
            let done = Self.done
            var matched = self.matched
            let found = buffer.withUnsafeReadableBytes { bytes -> Bool in
                for byte in bytes {
                    if byte == done[matched] {
                        matched += 1
                        if matched == done.count { return true }
                    } else {
                        matched = byte == done[0] ? 1 : 0
                    }
                }
                return false
            }
            self.matched = matched
            ended = found
        } else if let remaining {
            self.remaining = remaining - buffer.readableBytes
            ended = remaining - buffer.readableBytes <= 0
        }
        return ended
    }
}
