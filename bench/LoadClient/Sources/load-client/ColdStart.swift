#if canImport(Glibc)
import Glibc
#endif

/// Cold start: posix_spawn the server, then probe `GET /health` on loopback with blocking sockets
/// (a refused connect costs microseconds) until it answers 200. Repeated; SIGTERM between runs.
func runColdStart(_ options: Options) throws -> String {
    let executable = try options.string("exec")
    let port = options.int("port", 0)
    guard port > 0 else { throw UsageError("--port is required") }
    let runs = options.int("runs", 10)
    let warmup = options.int("warmup", 1)
    let log = options.string("log", "/dev/null")
    let path = options.string("path", "/health")
    let interval = options.double("poll-us", 200)
    setenv("PORT", String(port), 1)

    var firstConnect: [UInt64] = []
    var healthy: [UInt64] = []
    var shutdown: [UInt64] = []
    var failures: [String] = []
    for run in 0..<(warmup + runs) {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
        let started = nowNanos()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        for pointer in argv { free(pointer) }
        guard spawned == 0 else { throw UsageError("posix_spawn \(executable): \(String(cString: strerror(spawned)))") }

        var connectedAt: UInt64 = 0
        var readyAt: UInt64 = 0
        var status: Int32 = 0
        let deadline = started + 30_000_000_000
        while nowNanos() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                break
            }
            switch probe(port: port, path: path) {
            case .refused:
                break
            case .answered(let code):
                if connectedAt == 0 { connectedAt = nowNanos() }
                if code == 200 { readyAt = nowNanos() }
            }
            if readyAt != 0 { break }
            usleep(UInt32(interval))
        }
        if readyAt == 0 {
            failures.append(pid == 0 ? "run \(run): exited with status \(status) before answering" : "run \(run): no 200 in 30 s")
        } else if run >= warmup {
            healthy.append(readyAt - started)
            firstConnect.append(connectedAt - started)
        }
        if pid != 0 {
            let stopping = nowNanos()
            kill(pid, SIGTERM)
            var exited = false
            while nowNanos() - stopping < 20_000_000_000 {
                if waitpid(pid, &status, WNOHANG) == pid {
                    exited = true
                    break
                }
                usleep(1000)
            }
            if !exited {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                failures.append("run \(run): still running 20 s after SIGTERM")
            } else if run >= warmup {
                shutdown.append(nowNanos() - stopping)
            }
        }
    }
    let samples = healthy.map { String(fmt(Double($0) / 1e6)) }.joined(separator: ",")
    var out = "{\"mode\":\"coldstart\",\"label\":\(jsonString(options.string("label", ""))),\"runs\":\(healthy.count),"
    out += Summary(nanoseconds: healthy).json("ready") + "," + Summary(nanoseconds: firstConnect).json("first_answer") + ","
    out += Summary(nanoseconds: shutdown).json("sigterm_exit") + ",\"ready_ms\":[\(samples)]"
    out += ",\"failures\":[" + failures.map(jsonString).joined(separator: ",") + "]}"
    return out
}

enum ProbeResult {
    case refused
    case answered(Int)
}

/// One `GET` on a new connection; the status of the answer, or `.refused`.
func probe(port: Int, path: String) -> ProbeResult {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return .refused }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return .refused }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { return .refused }
    var buffer = [UInt8](repeating: 0, count: 1024)
    var have = 0
    while have < 12 {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + have, 1024 - have) }
        if n <= 0 { break }
        have += n
    }
    guard have >= 12 else { return .answered(0) }
    return .answered(Int(buffer[9] - 48) * 100 + Int(buffer[10] - 48) * 10 + Int(buffer[11] - 48))
}
