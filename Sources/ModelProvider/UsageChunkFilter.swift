import GatewayRuntime
import NIOCore

/// Takes the usage chunk out of a Chat Completions event stream, for a client that did not ask for
/// it (`stream_options.include_usage`) when the gateway did, to count the tokens: the event whose
/// JSON has `"choices":[]` and a `usage` object. Every other byte passes unchanged.
///
/// Complete events (up to their blank line) pass at once; the bytes of an event not complete yet
/// wait for the rest of it, and ``remainder()`` gives what is left when the answer ends.
package struct UsageChunkFilter: Sendable {
    private var pending = ByteBuffer()

    package init() {}

    /// What of `buffer` the client gets now; nil for nothing.
    package mutating func filter(_ buffer: ByteBuffer) -> ByteBuffer? {
        var input = buffer
        if pending.readableBytes > 0 {
            var more = buffer
            input = pending
            input.writeBuffer(&more)
            pending = ByteBuffer()
        }
        let (complete, dropped) = input.withUnsafeReadableBytes { bytes -> (Int, [Range<Int>]) in
            var dropped: [Range<Int>] = []
            var eventStart = 0
            var complete = 0
            var afterNewline = false
            for index in 0..<bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\n"):
                    if afterNewline {
                        let event = eventStart..<(index + 1)
                        if Self.isUsageChunk(UnsafeRawBufferPointer(rebasing: bytes[event])) { dropped.append(event) }
                        eventStart = index + 1
                        complete = index + 1
                        afterNewline = false
                    } else {
                        afterNewline = true
                    }
                case UInt8(ascii: "\r"):
                    break
                default:
                    afterNewline = false
                }
            }
            return (complete, dropped)
        }
        if complete < input.readableBytes {
            pending = input.getSlice(at: input.readerIndex + complete, length: input.readableBytes - complete)!
        }
        guard !dropped.isEmpty else {
            return complete == 0 ? nil : (complete == input.readableBytes ? input : input.getSlice(at: input.readerIndex, length: complete))
        }
        var kept = ByteBuffer()
        kept.reserveCapacity(complete)
        var start = 0
        for range in dropped + [complete..<complete] {
            if range.lowerBound > start, var part = input.getSlice(at: input.readerIndex + start, length: range.lowerBound - start) {
                kept.writeBuffer(&part)
            }
            start = range.upperBound
        }
        return kept.readableBytes == 0 ? nil : kept
    }

    /// The bytes still held at the answer's end (an event without its blank line), if any.
    package mutating func remainder() -> ByteBuffer? {
        defer { pending = ByteBuffer() }
        return pending.readableBytes == 0 ? nil : pending
    }

    /// Whether `event` is `data: {…"choices":[]…"usage":{…}…}`.
    package static func isUsageChunk(_ event: UnsafeRawBufferPointer) -> Bool {
        let data = Array("data:".utf8)
        guard event.count > data.count, event.starts(with: data) else { return false }
        var start = data.count
        while start < event.count, event[start] == UInt8(ascii: " ") { start += 1 }
        var end = event.count
        while end > start, [UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(event[end - 1]) { end -= 1 }
        let json = UnsafeRawBufferPointer(rebasing: event[start..<end])
        guard json.first == UInt8(ascii: "{"), let members = try? JSONSyntaxScanner.topLevelMembers(of: json),
            let usage = members.last(where: { $0.keyIs("usage", in: json) }), usage.kind == .object,
            let choices = members.last(where: { $0.keyIs("choices", in: json) }), choices.kind == .array
        else { return false }
        return choices.elementCount == 0
    }
}
