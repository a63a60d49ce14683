import NIOCore

/// Reads the framing of an HTTP/1.1 chunked body (RFC 9112 §7.1) as it passes, in reads split
/// anywhere, without copying it: for a relay that copies the provider's chunked body to the
/// client as it is.
///
/// For each read, ``scan(_:)`` says which bytes to pass on (`forward`: everything up to the
/// terminal chunk, framing included) and which are chunk data (`data`: for the usage and
/// `[DONE]`), and whether the body is complete. The terminal chunk (`0`, trailers, the final
/// blank line) is never forwarded: the relay ends the client's body with its own.
///
/// A size line is held back until it is whole, since only then is it known whether it is the
/// terminal chunk's: it then goes out with the bytes after it. Bytes after the end of the body
/// are an error (an HTTP/1.1 server does not send a second response unasked).
struct ChunkedBodyScanner {
    /// The longest size line accepted (size, extensions and CRLF), and the longest trailer section.
    static let maximumLineLength = 4096
    static let maximumTrailerLength = 16 * 1024

    struct Scan {
        /// The bytes to pass on, in order (a size line held from an earlier read comes first).
        var forward: [ByteBuffer] = []
        /// The chunk data in this read, in order.
        var data: [ByteBuffer] = []
        /// Whether the body ended in this read.
        var isComplete = false
    }

    enum FramingError: Error, Equatable {
        case invalidChunkSize
        case lineTooLong
        case missingCRLFAfterData
        case trailersTooLong
        case bytesAfterTheEnd
    }

    private enum State: Equatable {
        /// In a size line: the digits so far, whether any, whether past them (extensions, or
        /// the CR), and whether the CR was seen.
        case size(value: Int, digits: Int, inExtension: Bool, sawCR: Bool)
        /// In a chunk's data: how many bytes are left.
        case data(remaining: Int)
        /// After a chunk's data: the CRLF (`sawCR` once the CR was read).
        case dataEnd(sawCR: Bool)
        /// After the terminal size line: trailer lines until an empty one. `lineLength` counts
        /// the current line's bytes before its CR.
        case trailers(lineLength: Int, sawCR: Bool, total: Int)
        case complete
    }

    private var state = State.size(value: 0, digits: 0, inExtension: false, sawCR: false)
    /// The part of a size line read so far, when it began in an earlier read.
    private var heldLine = ByteBuffer()
    private var lineLength = 0

    var isComplete: Bool { state == .complete }

    mutating func scan(_ buffer: ByteBuffer) throws(FramingError) -> Scan {
        var scan = Scan()
        guard state != .complete else {
            if buffer.readableBytes > 0 { throw .bytesAfterTheEnd }
            return scan
        }
        let count = buffer.readableBytes
        let base = buffer.readerIndex
        // Bytes of this read up to `passed` are decided (forwarded); a size line in progress
        // starts at `lineStart`.
        var passed = 0
        if case .trailers = state { passed = count }  // past the last data: nothing more goes on
        var lineStart: Int? = heldLine.readableBytes > 0 ? 0 : nil
        var index = 0
        // Byte by byte only through the framing: chunk data is taken in one slice.
        let bytes = buffer.readableBytesView
        do {
            while index < count {
                let byte = bytes[bytes.startIndex + index]
                switch state {
                case .size(let value, let digits, let inExtension, let sawCR):
                    if lineStart == nil { lineStart = index }
                    lineLength += 1
                    if lineLength > Self.maximumLineLength { throw .lineTooLong }
                    if sawCR {
                        guard byte == UInt8(ascii: "\n"), digits > 0 else { throw .invalidChunkSize }
                        let start = lineStart!
                        lineStart = nil
                        lineLength = 0
                        if value == 0 {
                            // The terminal chunk: nothing from its size line on is passed on.
                            if start > passed { scan.forward.append(buffer.getSlice(at: base + passed, length: start - passed)!) }
                            passed = count
                            heldLine.clear()
                            state = .trailers(lineLength: 0, sawCR: false, total: 0)
                        } else {
                            if heldLine.readableBytes > 0 {
                                scan.forward.append(heldLine)
                                heldLine = ByteBuffer()
                            }
                            state = .data(remaining: value)
                        }
                    } else if byte == UInt8(ascii: "\r") {
                        state = .size(value: value, digits: digits, inExtension: inExtension, sawCR: true)
                    } else if !inExtension, let digit = Self.hexValue(byte) {
                        guard digits < 15 else { throw .invalidChunkSize }
                        state = .size(value: value << 4 | digit, digits: digits + 1, inExtension: false, sawCR: false)
                    } else if byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || inExtension {
                        guard digits > 0 else { throw .invalidChunkSize }
                        state = .size(value: value, digits: digits, inExtension: true, sawCR: false)
                    } else {
                        throw .invalidChunkSize
                    }
                    index += 1
                case .data(let remaining):
                    let take = min(remaining, count - index)
                    scan.data.append(buffer.getSlice(at: base + index, length: take)!)
                    index += take
                    state = remaining == take ? .dataEnd(sawCR: false) : .data(remaining: remaining - take)
                case .dataEnd(let sawCR):
                    if !sawCR {
                        guard byte == UInt8(ascii: "\r") else { throw .missingCRLFAfterData }
                        state = .dataEnd(sawCR: true)
                    } else {
                        guard byte == UInt8(ascii: "\n") else { throw .missingCRLFAfterData }
                        state = .size(value: 0, digits: 0, inExtension: false, sawCR: false)
                    }
                    index += 1
                case .trailers(let length, let sawCR, let total):
                    guard total < Self.maximumTrailerLength else { throw .trailersTooLong }
                    if sawCR, byte == UInt8(ascii: "\n") {
                        if length == 0 {
                            state = .complete
                            scan.isComplete = true
                        } else {
                            state = .trailers(lineLength: 0, sawCR: false, total: total + 1)
                        }
                    } else if byte == UInt8(ascii: "\r") {
                        state = .trailers(lineLength: length, sawCR: true, total: total + 1)
                    } else {
                        state = .trailers(lineLength: length + 1, sawCR: false, total: total + 1)
                    }
                    index += 1
                case .complete:
                    throw .bytesAfterTheEnd
                }
            }
        }
        guard passed < count else { return scan }
        if let start = lineStart {
            // A size line runs past this read: what precedes it goes, the line waits.
            if start > passed { scan.forward.append(buffer.getSlice(at: base + passed, length: start - passed)!) }
            var rest = buffer.getSlice(at: base + start, length: count - start)!
            heldLine.writeBuffer(&rest)
        } else {
            scan.forward.append(buffer.getSlice(at: base + passed, length: count - passed)!)
        }
        return scan
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
