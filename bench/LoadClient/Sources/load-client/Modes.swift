import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Common bookkeeping: status codes and errors seen in the measured part of a run.
class Tally {
    var statuses: [Int: Int] = [:]
    var errors = 0
    var firstError: String?

    func error(_ text: String) {
        errors += 1
        if firstError == nil { firstError = text }
    }

    var json: String {
        "\"status\":\(statusJSON(statuses)),\"errors\":\(errors)" + (firstError.map { ",\"first_error\":\(jsonString($0))" } ?? "")
    }
}

// MARK: Sequential: latency, or time to first token when the body streams

/// One connection, one request at a time: `warmup` unmeasured requests, then `requests` measured.
final class SequentialDriver: Tally, ConnectionDriver {
    let request: ByteBuffer
    let warmup: Int
    let requests: Int
    let deadline: UInt64
    let promise: EventLoopPromise<Void>
    var done = 0
    var latencies: [UInt64] = []
    var firstContent: [UInt64] = []
    var noContent = 0
    var measureStart: UInt64 = 0
    var measureEnd: UInt64 = 0

    init(request: ByteBuffer, warmup: Int, requests: Int, maxSeconds: Double, promise: EventLoopPromise<Void>) {
        self.request = request
        self.warmup = warmup
        self.requests = requests
        self.deadline = nowNanos() + UInt64(maxSeconds * 1e9)
        self.promise = promise
        latencies.reserveCapacity(requests)
        firstContent.reserveCapacity(requests)
    }

    func contentEvents(_ connection: HTTPConnection, count: Int, at now: UInt64) {
        if connection.firstContentAt == 0 { connection.firstContentAt = now }
        connection.contentCount += count
    }

    func responseComplete(_ connection: HTTPConnection, status: Int, at now: UInt64) {
        if done == warmup { measureStart = connection.sentAt }
        if done >= warmup {
            latencies.append(now - connection.sentAt)
            if connection.scansSSE {
                if connection.firstContentAt != 0 {
                    firstContent.append(connection.firstContentAt - connection.sentAt)
                } else {
                    noContent += 1
                }
            }
            statuses[status, default: 0] += 1
        }
        done += 1
        if done < warmup + requests && now < deadline {
            connection.send(request)
        } else {
            measureEnd = now
            promise.succeed(())
        }
    }

    func connectionFailed(_ connection: HTTPConnection, error: String) {
        self.error(error)
        measureEnd = nowNanos()
        promise.succeed(())
    }
}

func runSequential(_ options: Options, stream: Bool) throws -> String {
    let target = try Target(url: options.string("url"))
    let request = encodeRequest(method: "POST", target: target, headers: options.all("header"), body: try options.string("body"))
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let loop = group.next()
    let promise = loop.makePromise(of: Void.self)
    let driver = SequentialDriver(
        request: request, warmup: options.int("warmup", 200), requests: options.int("requests", 5000),
        maxSeconds: options.double("max-seconds", 60), promise: promise
    )
    let connections = try openConnections(count: 1, target: target, eventLoop: loop, scansSSE: stream, driver: driver).wait()
    let cpu = CPUWindow(pids: options.pids)
    loop.execute { connections[0].send(request) }
    try promise.futureResult.wait()
    let cpuJSON = cpu.finish()
    connections[0].close()
    let seconds = Double(driver.measureEnd &- driver.measureStart) / 1e9
    var out = "{\"mode\":\(jsonString(stream ? "ttft" : "latency")),\"label\":\(jsonString(options.string("label", ""))),"
    out += "\"requests\":\(driver.latencies.count),\"seconds\":\(fmt(seconds)),\(driver.json),"
    out += Summary(nanoseconds: driver.latencies).json("latency")
    if stream {
        out += "," + Summary(nanoseconds: driver.firstContent).json("ttft") + ",\"no_content\":\(driver.noContent)"
    }
    out += cpuJSON + "}"
    return out
}

// MARK: Throughput: N keep-alive connections, closed loop, for a fixed time

final class ThroughputDriver: Tally, ConnectionDriver {
    let request: ByteBuffer
    let measureStart: UInt64
    let measureEnd: UInt64
    let promise: EventLoopPromise<Void>
    var active: Int
    var completed = 0
    var latencies: [UInt64] = []

    init(request: ByteBuffer, connections: Int, warmupSeconds: Double, seconds: Double, promise: EventLoopPromise<Void>) {
        self.request = request
        let start = nowNanos()
        measureStart = start + UInt64(warmupSeconds * 1e9)
        measureEnd = measureStart + UInt64(seconds * 1e9)
        self.promise = promise
        active = connections
        latencies.reserveCapacity(200_000)
    }

    func contentEvents(_ connection: HTTPConnection, count: Int, at now: UInt64) {}

    func responseComplete(_ connection: HTTPConnection, status: Int, at now: UInt64) {
        if now >= measureStart && now < measureEnd {
            completed += 1
            latencies.append(now - connection.sentAt)
            statuses[status, default: 0] += 1
        }
        if now < measureEnd {
            connection.send(request)
        } else {
            finishOne()
        }
    }

    func connectionFailed(_ connection: HTTPConnection, error: String) {
        self.error(error)
        finishOne()
    }

    private func finishOne() {
        active -= 1
        if active == 0 { promise.succeed(()) }
    }
}

func runThroughput(_ options: Options) throws -> String {
    let target = try Target(url: options.string("url"))
    let request = encodeRequest(method: "POST", target: target, headers: options.all("header"), body: try options.string("body"))
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let loop = group.next()
    let count = options.int("connections", 32)
    let warmupSeconds = options.double("warmup-seconds", 2)
    let seconds = options.double("seconds", 10)
    let promise = loop.makePromise(of: Void.self)
    // The driver (and its clock) is created once the connections are open.
    var driver: ThroughputDriver!
    let placeholder = ThroughputDriver(request: request, connections: count, warmupSeconds: 0, seconds: 0, promise: loop.makePromise())
    let connections = try openConnections(count: count, target: target, eventLoop: loop, scansSSE: false, driver: placeholder).wait()
    placeholder.promise.succeed(())
    var cpu: CPUWindow?
    try loop.submit {
        driver = ThroughputDriver(request: request, connections: count, warmupSeconds: warmupSeconds, seconds: seconds, promise: promise)
        for connection in connections { connection.driver = driver }
        loop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(driver.measureStart)) { cpu = CPUWindow(pids: options.pids) }
        loop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(driver.measureEnd) + .seconds(30)) { promise.succeed(()) }
        for connection in connections { connection.send(request) }
    }.wait()
    try promise.futureResult.wait()
    let cpuJSON = try loop.submit { cpu?.finish(seconds: seconds) ?? "" }.wait()
    for connection in connections { connection.close() }
    var out = "{\"mode\":\"throughput\",\"label\":\(jsonString(options.string("label", ""))),\"connections\":\(count),"
    out += "\"seconds\":\(fmt(seconds)),\"requests\":\(driver.completed),\"rps\":\(fmt(Double(driver.completed) / seconds)),"
    out += "\(driver.json)," + Summary(nanoseconds: driver.latencies).json("latency") + cpuJSON + "}"
    return out
}

// MARK: CPU time of other processes over a window (from /proc/PID/stat)

struct CPUWindow {
    let pids: [(String, Int32)]
    let start: [Double]
    let selfStart: Double
    let machineStart: Double
    let startedAt: UInt64

    init(pids: [(String, Int32)]) {
        self.pids = pids
        start = pids.map { cpuSeconds(pid: $0.1) }
        selfStart = ownCPUSeconds()
        machineStart = machineBusySeconds()
        startedAt = nowNanos()
    }

    /// `,"cpu":{"gateway":1.23,"client":0.4,"window_s":10}` (CPU seconds used in the window).
    func finish(seconds: Double? = nil) -> String {
        let window = seconds ?? Double(nowNanos() - startedAt) / 1e9
        var parts: [String] = []
        for (index, (name, pid)) in pids.enumerated() {
            parts.append("\(jsonString(name)):\(fmt3(cpuSeconds(pid: pid) - start[index]))")
        }
        parts.append("\"client\":\(fmt3(ownCPUSeconds() - selfStart))")
        // All CPUs, every process: what the listed ones and the client did not use is someone else's.
        parts.append("\"machine\":\(fmt3(machineBusySeconds() - machineStart))")
        parts.append("\"window_s\":\(fmt3(window))")
        return ",\"cpu\":{" + parts.joined(separator: ",") + "}"
    }
}

func fmt3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return String(scaled)
}

/// utime + stime of a process, in seconds; 0 when unreadable.
func cpuSeconds(pid: Int32) -> Double {
    guard let text = readFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Busy time of all CPUs together (first line of /proc/stat, less idle and iowait), in seconds.
func machineBusySeconds() -> Double {
    guard let text = readFile("/proc/stat"), let line = text.split(separator: "\n").first else { return 0 }
    let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard fields.count >= 5 else { return 0 }
    let total = fields.prefix(8).reduce(0, +)
    return (total - fields[3] - fields[4]) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// VmRSS of a process in KiB (from /proc/PID/status), or nil.
func rssKiB(pid: Int32) -> Int? {
    guard let text = readFile("/proc/\(pid)/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}
