import NIOCore
import NIOPosix

// MARK: Concurrent slow streams: what the two stream modes share

/// The tally of a run of many concurrent streams: gaps between content events, time to the first
/// one, streams counted and streams that came out short.
class StreamsTally: Tally {
    let request: ByteBuffer
    let expectedContent: Int
    let pids: [(String, Int32)]
    let promise: EventLoopPromise<Void>
    var connections: [HTTPConnection] = []
    var gaps: [UInt64] = []
    var firstContent: [UInt64] = []
    var streams = 0
    var shortStreams = 0
    var cpu: CPUWindow?
    var cpuJSON = ""

    init(request: ByteBuffer, expectedContent: Int, pids: [(String, Int32)], promise: EventLoopPromise<Void>) {
        self.request = request
        self.expectedContent = expectedContent
        self.pids = pids
        self.promise = promise
    }

    /// Notes `count` content events read at `now` on `connection`, and their gaps when `measured`
    /// (events that arrived in the same read as another: a gap of zero each).
    func recordContent(_ connection: HTTPConnection, count: Int, at now: UInt64, measured: Bool) {
        if measured {
            if connection.lastContentAt != 0 { gaps.append(now - connection.lastContentAt) }
            if count > 1 { gaps.append(contentsOf: repeatElement(0, count: count - 1)) }
        }
        if connection.firstContentAt == 0 { connection.firstContentAt = now }
        connection.lastContentAt = now
        connection.contentCount += count
    }

    /// Counts a finished stream: its status, its first content, whether it was whole.
    func recordStream(_ connection: HTTPConnection, status: Int) {
        streams += 1
        statuses[status, default: 0] += 1
        if connection.firstContentAt != 0 { firstContent.append(connection.firstContentAt - connection.sentAt) }
        if connection.contentCount != expectedContent { shortStreams += 1 }
    }

    /// `"streams":…,"short_streams":…,` the statuses, the gaps and the first-content times.
    var streamsJSON: String {
        "\"streams\":\(streams),\"short_streams\":\(shortStreams),\(json),"
            + "\"gaps_over_50ms\":\(gaps.filter { $0 > 50_000_000 }.count),"
            + Summary(nanoseconds: gaps).json("gap") + "," + Summary(nanoseconds: firstContent).json("first_content")
    }
}

/// A stream mode's driver: started on the client's event loop once the connections are open.
protocol StreamsDriver: StreamsTally, ConnectionDriver {
    func begin(on loop: any EventLoop)
    /// Where the run stands, for the message when `--max-seconds` runs out.
    var progress: String { get }
    /// The mode's own JSON fields, each followed by a comma.
    var modeJSON: String { get }
}

/// Opens `--streams` connections to `--url` on one event loop, runs the driver there until it is
/// done (or `--max-seconds` pass), and returns its JSON line.
func runStreams<Driver: StreamsDriver>(
    _ options: Options,
    mode: String,
    defaultStreams: Int,
    makeDriver: (ByteBuffer, EventLoopPromise<Void>) -> Driver
) throws -> String {
    let target = try Target(url: options.string("url"))
    let request = encodeRequest(method: "POST", target: target, headers: options.all("header"), body: try options.string("body"))
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let loop = group.next()
    let count = options.int("streams", defaultStreams)
    let promise = loop.makePromise(of: Void.self)
    let driver = makeDriver(request, promise)
    let opened = nowNanos()
    let connections = try openConnections(count: count, target: target, eventLoop: loop, scansSSE: true, driver: driver).wait()
    let openSeconds = Double(nowNanos() - opened) / 1e9
    let timeout = options.double("max-seconds", 120)
    try loop.submit {
        driver.connections = connections
        loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
            driver.error("timed out after \(timeout) s \(driver.progress)")
            promise.succeed(())
        }
        driver.begin(on: loop)
    }.wait()
    try promise.futureResult.wait()
    let result = try loop.submit { () -> String in
        "{\"mode\":\"\(mode)\",\"label\":\(jsonString(options.string("label", ""))),\"connections\":\(count),"
            + "\"open_seconds\":\(fmt(openSeconds)),\(driver.modeJSON)\(driver.streamsJSON)\(driver.cpuJSON)}"
    }.wait()
    for connection in connections { connection.close() }
    return result
}

// MARK: Gaps: all streams requested at once, several rounds

final class GapsDriver: StreamsTally, StreamsDriver {
    let rounds: Int
    let warmupRounds: Int
    var round = 0
    var pending = 0
    var durations: [UInt64] = []
    var measureStart: UInt64 = 0

    init(request: ByteBuffer, rounds: Int, warmupRounds: Int, expectedContent: Int, pids: [(String, Int32)], promise: EventLoopPromise<Void>) {
        self.rounds = rounds
        self.warmupRounds = warmupRounds
        super.init(request: request, expectedContent: expectedContent, pids: pids, promise: promise)
    }

    var measuring: Bool { round >= warmupRounds }
    var progress: String { "in round \(round) with \(pending) streams pending" }
    var modeJSON: String { Summary(nanoseconds: durations).json("duration") + "," }

    func begin(on loop: any EventLoop) { startRound() }

    func startRound() {
        if round == warmupRounds {
            measureStart = nowNanos()
            cpu = CPUWindow(pids: pids)
        }
        pending = connections.count
        for connection in connections { connection.send(request) }
    }

    func contentEvents(_ connection: HTTPConnection, count: Int, at now: UInt64) {
        recordContent(connection, count: count, at: now, measured: measuring)
    }

    func responseComplete(_ connection: HTTPConnection, status: Int, at now: UInt64) {
        if measuring {
            recordStream(connection, status: status)
            durations.append(now - connection.sentAt)
        }
        oneDone()
    }

    func connectionFailed(_ connection: HTTPConnection, error: String) {
        if measuring { self.error(error) }
        connections.removeAll { $0 === connection }
        oneDone()
    }

    private func oneDone() {
        pending -= 1
        guard pending <= 0 else { return }
        round += 1
        if round == warmupRounds + rounds || connections.isEmpty {
            let seconds = Double(nowNanos() - measureStart) / 1e9
            cpuJSON = cpu?.finish(seconds: seconds) ?? ""
            promise.succeed(())
        } else {
            startRound()
        }
    }
}

func runGaps(_ options: Options) throws -> String {
    try runStreams(options, mode: "gaps", defaultStreams: 128) { request, promise in
        GapsDriver(
            request: request, rounds: options.int("rounds", 3), warmupRounds: options.int("warmup-rounds", 1),
            expectedContent: options.int("expect-content", 10), pids: options.pids, promise: promise
        )
    }
}

// MARK: Steady streams: N connections each streaming back to back, starts spread out

/// Every connection streams one answer after another; their first requests are spread evenly over
/// `ramp` so that, as with real clients, streams start and end at different moments. After the
/// warm-up, gaps between chunks are measured for `seconds`; streams sent and finished inside that
/// window count as streams (and must be whole). Then no new stream starts, and the run ends when
/// the last one has finished.
final class SteadyStreamsDriver: StreamsTally, StreamsDriver {
    let ramp: Double
    let warmup: Double
    let seconds: Double
    var measureStart: UInt64 = .max
    var measureEnd: UInt64 = .max
    var stopping = false
    var inFlight = 0

    init(request: ByteBuffer, ramp: Double, warmup: Double, seconds: Double, expectedContent: Int, pids: [(String, Int32)], promise: EventLoopPromise<Void>) {
        self.ramp = ramp
        self.warmup = warmup
        self.seconds = seconds
        super.init(request: request, expectedContent: expectedContent, pids: pids, promise: promise)
    }

    var progress: String { "with \(inFlight) streams in flight" }
    var modeJSON: String { "\"ramp_seconds\":\(fmt(ramp)),\"seconds\":\(fmt(seconds))," }

    func begin(on loop: any EventLoop) {
        let now = nowNanos()
        measureStart = now + UInt64(warmup * 1e9)
        measureEnd = measureStart + UInt64(seconds * 1e9)
        for (index, connection) in connections.enumerated() {
            let delay = Int64(ramp * 1e9) * Int64(index) / Int64(max(1, connections.count))
            loop.scheduleTask(in: .nanoseconds(delay)) { self.sendNext(connection) }
        }
        loop.scheduleTask(in: .nanoseconds(Int64(warmup * 1e9))) { self.cpu = CPUWindow(pids: self.pids) }
        loop.scheduleTask(in: .nanoseconds(Int64((warmup + seconds) * 1e9))) {
            self.stopping = true
            self.cpuJSON = self.cpu?.finish(seconds: self.seconds) ?? ""
            if self.inFlight == 0 { self.promise.succeed(()) }
        }
    }

    private func inWindow(_ time: UInt64) -> Bool { time >= measureStart && time <= measureEnd }

    private func sendNext(_ connection: HTTPConnection) {
        guard !stopping else { return }
        inFlight += 1
        connection.send(request)
    }

    func contentEvents(_ connection: HTTPConnection, count: Int, at now: UInt64) {
        recordContent(connection, count: count, at: now, measured: inWindow(now))
    }

    func responseComplete(_ connection: HTTPConnection, status: Int, at now: UInt64) {
        inFlight -= 1
        if inWindow(connection.sentAt) && inWindow(now) { recordStream(connection, status: status) }
        if stopping {
            if inFlight == 0 { promise.succeed(()) }
        } else {
            sendNext(connection)
        }
    }

    func connectionFailed(_ connection: HTTPConnection, error: String) {
        self.error(error)
        connections.removeAll { $0 === connection }
        inFlight -= 1
        if (stopping && inFlight == 0) || connections.isEmpty { promise.succeed(()) }
    }
}

func runSteadyStreams(_ options: Options) throws -> String {
    let ramp = options.double("ramp-seconds", 2)
    return try runStreams(options, mode: "streams", defaultStreams: 1000) { request, promise in
        SteadyStreamsDriver(
            request: request, ramp: ramp, warmup: max(ramp, options.double("warmup-seconds", ramp + 1)),
            seconds: options.double("seconds", 5), expectedContent: options.int("expect-content", 100), pids: options.pids, promise: promise
        )
    }
}
