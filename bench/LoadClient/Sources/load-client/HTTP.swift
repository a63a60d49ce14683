import NIOCore
import NIOPosix

/// Monotonic nanoseconds (CLOCK_MONOTONIC through NIODeadline).
@inline(__always) func nowNanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

/// Where requests go: `http://host:port/path`.
struct Target {
    var host: String
    var port: Int
    var path: String

    init(url: String) throws {
        guard url.hasPrefix("http://") else { throw UsageError("only http:// URLs: \(url)") }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else { throw UsageError("bad port in \(url)") }
            port = p
        } else {
            host = String(authority)
            port = 80
        }
    }

    var hostHeader: String { "\(host):\(port)" }
}

/// A request encoded once, written as the same bytes every time.
func encodeRequest(method: String, target: Target, headers: [String], body: String?) -> ByteBuffer {
    var text = "\(method) \(target.path) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
    for header in headers { text += header + "\r\n" }
    if let body {
        text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    } else {
        text += "\r\n"
    }
    return ByteBuffer(string: text)
}

/// An incremental HTTP/1.1 response parser: head, then a Content-Length, chunked or
/// until-close body. Body bytes (de-chunked) are handed to a closure as they arrive.
struct ResponseParser {
    enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkExtension
        case chunkData(remaining: Int)
        case chunkDataEnd(skip: Int)
        case trailer(lineLength: Int)
        case untilClose
        case done
    }

    var state = State.head
    var head: [UInt8] = []
    var status = 0
    var closeAfter = false
    var chunkSizeValue = 0

    init() { head.reserveCapacity(512) }

    mutating func reset() {
        state = .head
        head.removeAll(keepingCapacity: true)
        status = 0
        closeAfter = false
        chunkSizeValue = 0
    }

    var isDone: Bool { if case .done = state { return true } else { return false } }

    /// Feeds bytes; returns true when the response is complete (bytes after it are ignored: the
    /// client never pipelines).
    mutating func feed(_ bytes: UnsafeRawBufferPointer, body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .head:
                let byte = bytes[i]
                head.append(byte)
                i += 1
                let c = head.count
                if byte == 10, c >= 4, head[c - 2] == 13, head[c - 3] == 10, head[c - 4] == 13 {
                    try parseHead()
                    if case .done = state { return true }
                }
            case .fixed(let remaining):
                let take = min(remaining, n - i)
                body(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                if take == remaining {
                    state = .done
                    return true
                }
                state = .fixed(remaining: remaining - take)
            case .chunkSize:
                let byte = bytes[i]
                i += 1
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): chunkSizeValue = chunkSizeValue * 16 + Int(byte - 48)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): chunkSizeValue = chunkSizeValue * 16 + Int(byte - 87)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): chunkSizeValue = chunkSizeValue * 16 + Int(byte - 55)
                case 13, UInt8(ascii: ";"), UInt8(ascii: " "): state = .chunkExtension
                case 10: endOfChunkSizeLine()
                default: throw ProtocolError("bad chunk size byte \(byte)")
                }
            case .chunkExtension:
                if bytes[i] == 10 { endOfChunkSizeLine() }
                i += 1
            case .chunkData(let remaining):
                let take = min(remaining, n - i)
                body(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                state = take == remaining ? .chunkDataEnd(skip: 2) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let skip):
                i += 1
                state = skip == 1 ? .chunkSize : .chunkDataEnd(skip: skip - 1)
            case .trailer(let lineLength):
                let byte = bytes[i]
                i += 1
                if byte == 10 {
                    if lineLength == 0 {
                        state = .done
                        return true
                    }
                    state = .trailer(lineLength: 0)
                } else if byte != 13 {
                    state = .trailer(lineLength: lineLength + 1)
                }
            case .untilClose:
                body(UnsafeRawBufferPointer(rebasing: bytes[i..<n]))
                i = n
            case .done:
                return true
            }
        }
        return false
    }

    /// The connection closed: completes an until-close body.
    mutating func closed() -> Bool {
        if case .untilClose = state {
            state = .done
            return true
        }
        return false
    }

    private mutating func endOfChunkSizeLine() {
        if chunkSizeValue == 0 {
            state = .trailer(lineLength: 0)
        } else {
            state = .chunkData(remaining: chunkSizeValue)
            chunkSizeValue = 0
        }
    }

    private mutating func parseHead() throws {
        // "HTTP/1.1 200 OK"
        guard head.count > 12, head[0] == UInt8(ascii: "H") else { throw ProtocolError("not an HTTP response") }
        status = Int(head[9] - 48) * 100 + Int(head[10] - 48) * 10 + Int(head[11] - 48)
        var contentLength: Int?
        var chunked = false
        var lineStart = 0
        var index = 0
        let count = head.count
        while index < count {
            if head[index] == 10 {
                let line = head[lineStart..<index]
                if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                    let name = ASCII.lowercased(line[lineStart..<colon])
                    let value = ASCII.lowercased(ASCII.trimmed(line[(colon + 1)...]))
                    switch name {
                    case "content-length": contentLength = Int(value)
                    case "transfer-encoding": chunked = value.contains("chunked")
                    case "connection": closeAfter = value.contains("close")
                    default: break
                    }
                }
                lineStart = index + 1
            }
            index += 1
        }
        if status == 101 || status == 204 || status == 304 || (100..<200).contains(status) {
            state = .done
        } else if chunked {
            state = .chunkSize
            chunkSizeValue = 0
        } else if let contentLength {
            state = contentLength == 0 ? .done : .fixed(remaining: contentLength)
        } else {
            state = .untilClose
        }
    }
}

/// Header names and values, read as ASCII bytes (the client and the upstream have no Foundation).
enum ASCII {
    static func lowercased(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Without leading spaces and tabs, and trailing ones or a CR.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 32 || first == 9 { slice = slice.dropFirst() }
        while let last = slice.last, last == 32 || last == 9 || last == 13 { slice = slice.dropLast() }
        return slice
    }
}

/// Finds the SSE events of a stream that carry text: an event (ended by a blank line) in which
/// `"<key>":` is followed by a non-empty string. The key is `content` for Chat Completions chunks
/// (`delta.content`) and `delta` for Responses events (`response.output_text.delta`; a chat
/// chunk's `"delta":{` is an object and never counts). Works on the de-chunked body, byte by
/// byte, across reads; `\r` is ignored for the blank-line test.
struct SSEContentScanner {
    /// `"<key>":` for the whole run, set once from `--content-key` before any connection opens.
    static var pattern: [UInt8] = Array("\"content\":".utf8)
    private var matched = 0  // bytes of `pattern` matched so far
    private var afterColon = 0  // 1: pattern seen, skipping spaces; 2: opening quote seen
    private var eventHasContent = false
    private var previousWasNewline = false
    private(set) var contentEvents = 0
    private(set) var events = 0

    mutating func reset() { self = SSEContentScanner() }

    /// Returns how many content events ended in these bytes.
    @inline(__always)
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Int {
        var ended = 0
        let pattern = Self.pattern
        for byte in bytes {
            if byte == 13 { continue }
            if byte == 10 {
                if previousWasNewline {
                    events += 1
                    if eventHasContent {
                        contentEvents += 1
                        ended += 1
                    }
                    eventHasContent = false
                    previousWasNewline = false
                } else {
                    previousWasNewline = true
                }
                matched = 0
                afterColon = 0
                continue
            }
            previousWasNewline = false
            if afterColon == 1 {
                if byte == 32 { continue }
                afterColon = byte == 34 ? 2 : 0
                continue
            }
            if afterColon == 2 {
                if byte != 34 { eventHasContent = true }
                afterColon = 0
                continue
            }
            if byte == pattern[matched] {
                matched += 1
                if matched == pattern.count {
                    matched = 0
                    afterColon = 1
                }
            } else {
                matched = byte == 34 ? 1 : 0
            }
        }
        return ended
    }
}

struct ProtocolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What a connection reports to the mode driving it. All calls happen on the connection's event loop.
protocol ConnectionDriver: AnyObject {
    func contentEvents(_ connection: HTTPConnection, count: Int, at now: UInt64)
    func responseComplete(_ connection: HTTPConnection, status: Int, at now: UInt64)
    func connectionFailed(_ connection: HTTPConnection, error: String)
}

/// One keep-alive HTTP/1.1 connection that writes pre-encoded requests, one at a time.
final class HTTPConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let id: Int
    let scansSSE: Bool
    unowned(unsafe) var driver: ConnectionDriver
    private var context: ChannelHandlerContext?
    private var parser = ResponseParser()
    private var scanner = SSEContentScanner()
    private var inFlight = false
    /// Per-request bookkeeping the drivers use.
    var sentAt: UInt64 = 0
    var firstContentAt: UInt64 = 0
    var lastContentAt: UInt64 = 0
    var contentCount = 0
    var finished = false

    init(id: Int, scansSSE: Bool, driver: ConnectionDriver) {
        self.id = id
        self.scansSSE = scansSSE
        self.driver = driver
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Writes a request; the clock starts just before the write.
    func send(_ request: ByteBuffer) {
        guard let context else { return }
        parser.reset()
        scanner.reset()
        firstContentAt = 0
        lastContentAt = 0
        contentCount = 0
        inFlight = true
        sentAt = nowNanos()
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func close() { context?.close(promise: nil) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = nowNanos()
        let buffer = unwrapInboundIn(data)
        guard inFlight else { return }
        var events = 0
        let scans = scansSSE
        do {
            let complete = try buffer.withUnsafeReadableBytes { bytes in
                try parser.feed(bytes) { body in
                    if scans { events += scanner.feed(body) }
                }
            }
            if events > 0 { driver.contentEvents(self, count: events, at: now) }
            if complete {
                inFlight = false
                driver.responseComplete(self, status: parser.status, at: now)
            }
        } catch {
            inFlight = false
            driver.connectionFailed(self, error: "\(error)")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if inFlight {
            inFlight = false
            if parser.closed() {
                driver.responseComplete(self, status: parser.status, at: nowNanos())
            } else {
                driver.connectionFailed(self, error: "connection closed mid-response")
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if inFlight {
            inFlight = false
            driver.connectionFailed(self, error: "\(error)")
        }
        context.close(promise: nil)
    }
}

/// Opens `count` connections to `target` on `eventLoop`, at most `parallel` connects at a time.
func openConnections(
    count: Int, target: Target, eventLoop: EventLoop, scansSSE: Bool, driver: ConnectionDriver, parallel: Int = 64
) -> EventLoopFuture<[HTTPConnection]> {
    let promise = eventLoop.makePromise(of: [HTTPConnection].self)
    var connections = [HTTPConnection?](repeating: nil, count: count)
    var next = 0
    var done = 0
    var failure: Error?
    func startOne() {
        guard next < count else { return }
        let index = next
        next += 1
        let connection = HTTPConnection(id: index, scansSSE: scansSSE, driver: driver)
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(connection) }
            }
            .connect(host: target.host, port: target.port)
            .hop(to: eventLoop)
            .whenComplete { result in
                switch result {
                case .success: connections[index] = connection
                case .failure(let error): failure = failure ?? error
                }
                done += 1
                if done == count {
                    if let failure {
                        promise.fail(failure)
                    } else {
                        promise.succeed(connections.map { $0! })
                    }
                } else {
                    startOne()
                }
            }
    }
    eventLoop.execute {
        for _ in 0..<min(parallel, count) { startOne() }
    }
    return promise.futureResult
}
