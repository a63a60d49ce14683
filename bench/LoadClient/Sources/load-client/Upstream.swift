import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

// `load-client upstream`: a lean stand-in for fake-openai's slow chat streams, for the steady
// stream measurement (4a). It answers `POST /v1/chat/completions` with `"stream": true` and a
// `fake-slow-<ms>[-<n>]` model with the same Server-Sent Events fake-openai sends: the role chunk
// and `tick0 ` at once, `tick<k> ` at start + k × gap, the `finish_reason: "stop"` chunk (and the
// usage chunk when `stream_options.include_usage` is set) and `data: [DONE]` with the last delta,
// and the end of the chunked body one gap later. Keep-alive, HTTP/1.1.
//
// Why it exists: fake-openai spends about 30 µs of CPU per streamed chunk (Hummingbird's response
// writer, a task switch and a timer per stream), so at 1,000 streams it takes 1.4 of this
// machine's 2 cores and cannot keep its own gaps under 50 ms even with nobody in between. Here
// each event loop has one 1 ms timer wheel for all its streams, and a chunk is one write of bytes
// built from per-stream parts: a few µs. The gateway and the direct client talk to it alike.
//
//   load-client upstream [--host 127.0.0.1] [--port 0] [--threads 1]
//
// Prints `load-client upstream listening on http://HOST:PORT/v1` and serves until killed.

func runUpstream(_ options: Options) throws -> String {
    let host = options.string("host", "127.0.0.1")
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.int("threads", 1)))
    var wheels: [ObjectIdentifier: TickWheel] = [:]
    for (index, loop) in group.makeIterator().enumerated() {
        wheels[ObjectIdentifier(loop)] = try loop.submit { TickWheel(loop: loop, index: index) }.wait()
    }
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 4096)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            let wheel = wheels[ObjectIdentifier(channel.eventLoop)]!
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(UpstreamConnection(wheel: wheel))
            }
        }
        .bind(host: host, port: options.int("port", 0))
        .wait()
    print("load-client upstream listening on http://\(host):\(channel.localAddress?.port ?? 0)/v1")
    fflush(stdout)
    try channel.closeFuture.wait()
    return "{\"mode\":\"upstream\",\"closed\":true}"
}

/// One event loop's timer for all of its streams: a 1 ms tick visits the slot of each elapsed
/// millisecond (1,024 slots; a later deadline waits in its slot for its own turn).
final class TickWheel {
    let index: Int
    var streams = 0
    private let origin = NIODeadline.now()
    private var slots = [[(tick: Int, connection: UpstreamConnection)]](repeating: [], count: 1024)
    private var done = 0

    init(loop: EventLoop, index: Int) {
        self.index = index
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { [unowned self] _ in
            self.advance()
        }
    }

    /// Runs `connection.fire()` on the first tick at or after `deadline`.
    func schedule(_ connection: UpstreamConnection, at deadline: NIODeadline) {
        let nanoseconds = (deadline - origin).nanoseconds
        let tick = max(Int((nanoseconds + 999_999) / 1_000_000), done + 1)
        slots[tick & 1023].append((tick, connection))
    }

    private func advance() {
        let now = Int((NIODeadline.now() - origin).nanoseconds / 1_000_000)
        while done < now {
            done += 1
            let slot = done & 1023
            guard !slots[slot].isEmpty else { continue }
            var due: [(tick: Int, connection: UpstreamConnection)] = []
            swap(&due, &slots[slot])
            for entry in due {
                if entry.tick <= done { entry.connection.fire() } else { slots[slot].append(entry) }
            }
        }
    }
}

/// One keep-alive connection: reads requests, streams one answer at a time.
final class UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Answer {
        /// The chunk JSON up to the delta: id, created, model.
        let prefix: [UInt8]
        let gap: TimeAmount
        let ticks: Int
        let usage: Bool
        let start: NIODeadline
        /// The next step: 1 ..< ticks are deltas, `ticks` ends the body.
        var next = 1
        /// What closes a choice chunk: with `include_usage`, fake-openai (like OpenAI) adds `"usage": null`.
        var end: String { usage ? "],\"usage\":null}" : "]}" }
    }

    private let wheel: TickWheel
    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    private var answer: Answer?
    private var closeWhenDone = false

    init(wheel: TickWheel) { self.wheel = wheel }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        answer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        inbound.writeBuffer(&bytes)
        serveWaitingRequests()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }

    /// Answers the requests read so far, one at a time (a pipelined one waits for the stream before it).
    private func serveWaitingRequests() {
        while answer == nil, !closeWhenDone, let context {
            let request: Request
            switch Request.parse(&inbound) {
            case .incomplete: return
            case .malformed(let reason):
                respond(context, status: "400 Bad Request", code: "bad_request", message: reason, close: true)
                return
            case .complete(let parsed): request = parsed
            }
            closeWhenDone = request.close
            guard request.method == "POST", request.path == "/v1/chat/completions" else {
                respond(context, status: "404 Not Found", code: "not_found", message: "load-client upstream serves only POST /v1/chat/completions", close: request.close)
                continue
            }
            guard request.asksToStream, let model = request.model, let (gap, ticks) = Self.slowModel(model) else {
                let message = "load-client upstream serves only streaming (\\\"stream\\\": true) fake-slow[-<ms>[-<n>]] chat completions"
                respond(context, status: "400 Bad Request", code: "unsupported", message: message, close: request.close)
                continue
            }
            start(context, model: model, gap: gap, ticks: ticks, usage: request.includesUsage)
        }
    }

    /// `fake-slow`, `fake-slow-<ms>`, `fake-slow-<ms>-<n>` as fake-openai reads them.
    static func slowModel(_ model: String) -> (TimeAmount, Int)? {
        let parts = model.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 4, parts[0] == "fake", parts[1] == "slow" else { return nil }
        let milliseconds = parts.count > 2 ? Int(parts[2]) : 100
        let ticks = parts.count > 3 ? Int(parts[3]) : 10
        guard let milliseconds, let ticks, milliseconds >= 0, ticks >= 1, ticks <= 100_000 else { return nil }
        return (.milliseconds(Int64(milliseconds)), ticks)
    }

    private func start(_ context: ChannelHandlerContext, model: String, gap: TimeAmount, ticks: Int, usage: Bool) {
        wheel.streams += 1
        let id = "chatcmpl-lean\(wheel.index)x\(wheel.streams)"
        let created = time(nil)
        let prefix = Array(
            "{\"id\":\"\(id)\",\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\"\(model)\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\",\"choices\":[{\"index\":0,\"delta\":"
                .utf8)
        let answer = Answer(prefix: prefix, gap: gap, ticks: ticks, usage: usage, start: .now())
        var out = context.channel.allocator.buffer(capacity: 1024)
        out.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        Self.appendEvent(&out, prefix, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}" + answer.end)
        appendDelta(&out, answer, 0)
        self.answer = answer
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        wheel.schedule(self, at: answer.start + gap * Int64(answer.next))
    }

    /// The wheel's call: the next delta, or the end of the body.
    func fire() {
        guard let context, var answer else { return }
        var out = context.channel.allocator.buffer(capacity: 512)
        if answer.next < answer.ticks {
            appendDelta(&out, answer, answer.next)
            answer.next += 1
            self.answer = answer
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            wheel.schedule(self, at: answer.start + answer.gap * Int64(answer.next))
        } else {
            out.writeStaticString("0\r\n\r\n")
            self.answer = nil
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            if closeWhenDone {
                context.close(promise: nil)
            } else {
                serveWaitingRequests()
            }
        }
    }

    /// Delta `k` (`tick<k> `); after the last one the finish chunk, the usage chunk if asked, `[DONE]`.
    private func appendDelta(_ out: inout ByteBuffer, _ answer: Answer, _ k: Int) {
        Self.appendEvent(&out, answer.prefix, "{\"content\":\"tick\(k) \"},\"logprobs\":null,\"finish_reason\":null}" + answer.end)
        guard k == answer.ticks - 1 else { return }
        Self.appendEvent(&out, answer.prefix, "{},\"logprobs\":null,\"finish_reason\":\"stop\"}" + answer.end)
        if answer.usage {
            // The usage chunk has no choices: replace the prefix's `"choices":[{"index":0,"delta":`.
            let head = answer.prefix.dropLast("\"choices\":[{\"index\":0,\"delta\":".utf8.count)
            Self.appendEvent(&out, Array(head), "\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":\(answer.ticks),\"total_tokens\":\(answer.ticks + 1)}}")
        }
        out.writeStaticString("e\r\ndata: [DONE]\n\n\r\n")
    }

    /// One chunk of the chunked body holding one `data:` event.
    private static func appendEvent(_ out: inout ByteBuffer, _ prefix: [UInt8], _ rest: String) {
        let length = 6 + prefix.count + rest.utf8.count + 2
        out.writeString(String(length, radix: 16))
        out.writeStaticString("\r\ndata: ")
        out.writeBytes(prefix)
        out.writeString(rest)
        out.writeStaticString("\n\n\r\n")
    }

    private func respond(_ context: ChannelHandlerContext, status: String, code: String, message: String, close: Bool) {
        let body = "{\"error\":{\"message\":\"\(message)\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"\(code)\"}}"
        var out = context.channel.allocator.buffer(capacity: 256 + body.utf8.count)
        out.writeString("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n")
        out.writeString(close ? "Connection: close\r\n\r\n" : "\r\n")
        out.writeString(body)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        if close {
            closeWhenDone = true
            context.close(promise: nil)
        }
    }
}

/// The parts of a request the upstream looks at.
struct Request {
    var method = ""
    var path = ""
    var close = false
    var body: [UInt8] = []

    enum Parsed {
        case incomplete
        case malformed(String)
        case complete(Request)
    }

    /// Takes one whole request (head and Content-Length body) off the front of `buffer`.
    static func parse(_ buffer: inout ByteBuffer) -> Parsed {
        let view = buffer.readableBytesView
        // The end of the head (CR LF CR LF), by a plain scan: the generic `firstRange(of:)` is slow here.
        var headEnd: Range<Int>?
        var index = view.startIndex
        while index + 3 < view.endIndex {
            if view[index] == 13, view[index + 1] == 10, view[index + 2] == 13, view[index + 3] == 10 {
                headEnd = index..<(index + 4)
                break
            }
            index += 1
        }
        guard let headEnd else {
            return view.count > 64 * 1024 ? .malformed("request head over 64 KiB") : .incomplete
        }
        let lines = view[view.startIndex..<headEnd.lowerBound].split(separator: [13, 10])
        guard let first = lines.first else { return .malformed("empty request line") }
        let words = first.split(separator: 32)
        guard words.count == 3 else { return .malformed("bad request line") }
        var request = Request(method: String(decoding: words[0], as: UTF8.self), path: String(decoding: words[1], as: UTF8.self))
        request.close = words[2].elementsEqual("HTTP/1.0".utf8)
        var length = 0
        for line in lines.dropFirst().map(ArraySlice.init) {
            guard let colon = line.firstIndex(of: 58) else { return .malformed("bad header line") }
            let name = ASCII.lowercased(line[..<colon])
            let value = ASCII.lowercased(ASCII.trimmed(line[(colon + 1)...]))
            switch name {
            case "content-length":
                guard let parsed = Int(value), parsed >= 0, parsed <= 16 * 1024 * 1024 else { return .malformed("bad Content-Length") }
                length = parsed
            case "transfer-encoding": return .malformed("chunked request bodies are not supported; send Content-Length")
            case "connection": request.close = value == "close" ? true : (value == "keep-alive" ? false : request.close)
            default: break
            }
        }
        let headLength = headEnd.upperBound - view.startIndex
        guard view.count >= headLength + length else { return .incomplete }
        buffer.moveReaderIndex(forwardBy: headLength)
        request.body = buffer.readBytes(length: length) ?? []
        buffer.discardReadBytes()
        return .complete(request)
    }

    /// The body's `"model"` string, read without a JSON parser (the bench's bodies are compact JSON).
    var model: String? {
        guard let value = valueAfter(key: "\"model\""), value.first == 34 else { return nil }
        let rest = value.dropFirst()
        guard let end = rest.firstIndex(of: 34) else { return nil }
        return String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
    }

    var asksToStream: Bool { valueAfter(key: "\"stream\"").map { $0.starts(with: "true".utf8) } ?? false }
    var includesUsage: Bool { valueAfter(key: "\"include_usage\"").map { $0.starts(with: "true".utf8) } ?? false }

    /// The bytes after `key`, its colon and any spaces.
    private func valueAfter(key: String) -> ArraySlice<UInt8>? {
        guard let range = body.firstRange(of: Array(key.utf8)) else { return nil }
        var rest = body[range.upperBound...].drop { $0 == 32 }
        guard rest.first == 58 else { return nil }
        rest = rest.dropFirst().drop { $0 == 32 }
        return rest
    }
}
