import NIOCore
import NIOHTTP1

/// Reads an HTTP/1.x response head (RFC 9112 §4 and §5) from the bytes a provider connection has
/// received so far: for the relay's own provider connections, which copy the body as it is and
/// so do not run NIO's HTTP decoder.
enum ResponseHeadParser {
    /// The largest head accepted (NIO's decoder allows 80 KiB of headers).
    static let maximumHeadLength = 80 * 1024

    enum HeadError: Error, Equatable {
        case tooLong
        case malformedStatusLine
        case malformedHeader
        /// A `Content-Length` that is not one non-negative number (RFC 9112 §6.3, item 5).
        case invalidContentLength
    }

    /// How a response's body ends (RFC 9112 §6.3), for a response that is not 1xx.
    enum BodyFraming: Equatable {
        /// 204 and 304 have no body, whatever their headers say.
        case empty
        case chunked
        case length(Int)
        /// Read until the provider closes the connection: no length, or a transfer coding
        /// other than chunked last.
        case untilClose
    }

    static func bodyFraming(_ head: HTTPResponseHead) throws(HeadError) -> BodyFraming {
        if head.status == .noContent || head.status == .notModified { return .empty }
        // Transfer-Encoding overrides Content-Length.
        if let coding = head.headers[canonicalForm: "transfer-encoding"].last {
            return coding.lowercased() == "chunked" ? .chunked : .untilClose
        }
        guard head.headers.contains(name: "Content-Length") else { return .untilClose }
        // The same number repeated is allowed (`Content-Length: 5, 5`); anything else is not,
        // an empty value included.
        let lengths = head.headers[canonicalForm: "content-length"]
        guard let first = lengths.first, !first.isEmpty, first.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            lengths.allSatisfy({ $0 == first }), let length = Int(first)
        else { throw .invalidContentLength }
        return .length(length)
    }

    /// The head at the start of `buffer`, its bytes consumed; `nil` (nothing consumed) while it is
    /// not complete.
    static func parse(_ buffer: inout ByteBuffer) throws(HeadError) -> HTTPResponseHead? {
        let view = buffer.readableBytesView
        guard let end = headEnd(view) else {
            if view.count > maximumHeadLength { throw .tooLong }
            return nil
        }
        guard end - view.startIndex <= maximumHeadLength else { throw .tooLong }
        var lines = view[view.startIndex..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        // `end` is just past the blank line's CRLF: the split leaves two empty lines at the end.
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let statusLine = lines.first else { throw .malformedStatusLine }
        let head = try statusHead(statusLine)
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            // No obsolete line folding (RFC 9112 §5.2), no whitespace before the colon (§5.1).
            guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t"),
                let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[line.index(before: colon)] != UInt8(ascii: " ")
            else { throw .malformedHeader }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            let value = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingASCIIWhitespace()
            headers.add(name: name, value: value)
        }
        buffer.moveReaderIndex(forwardBy: end - view.startIndex)
        return HTTPResponseHead(version: head.version, status: head.status, headers: headers)
    }

    /// Just past the `\r\n\r\n` that ends the head (a bare `\n\n` is accepted too).
    private static func headEnd(_ view: ByteBufferView) -> Int? {
        var index = view.startIndex
        var newlines = 0
        while index < view.endIndex {
            switch view[index] {
            case UInt8(ascii: "\n"):
                newlines += 1
                if newlines == 2 { return index + 1 }
            case UInt8(ascii: "\r"):
                break
            default:
                newlines = 0
            }
            index += 1
        }
        return nil
    }

    /// `HTTP/1.1 200 OK`: the version, a space, three digits, then a space and a reason (optional).
    private static func statusHead(_ line: ByteBufferView) throws(HeadError) -> (version: HTTPVersion, status: HTTPResponseStatus) {
        let bytes = Array(line)
        guard bytes.count >= 12, bytes[0..<5] == Array("HTTP/".utf8)[...],
            let major = digit(bytes[5]), bytes[6] == UInt8(ascii: "."), let minor = digit(bytes[7]),
            bytes[8] == UInt8(ascii: " "),
            let hundreds = digit(bytes[9]), let tens = digit(bytes[10]), let units = digit(bytes[11]),
            bytes.count == 12 || bytes[12] == UInt8(ascii: " ")
        else { throw .malformedStatusLine }
        let code = hundreds * 100 + tens * 10 + units
        guard major == 1, (100...599).contains(code) else { throw .malformedStatusLine }
        return (HTTPVersion(major: major, minor: minor), HTTPResponseStatus(statusCode: code))
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
