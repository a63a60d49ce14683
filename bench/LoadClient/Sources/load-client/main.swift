// load-client: the benchmark's load generator. One JSON line on stdout per run.
//
//   load-client latency    --url URL --body JSON [--header 'Name: value']... [--warmup N] [--requests N]
//   load-client ttft       (same options; the body must ask for "stream": true)
//   load-client throughput --url URL --body JSON [--connections 32] [--warmup-seconds 2] [--seconds 10]
//   load-client gaps       --url URL --body JSON [--streams 128] [--rounds 3] [--warmup-rounds 1] [--expect-content 10]
//   load-client streams    --url URL --body JSON [--streams 1000] [--ramp-seconds 2] [--warmup-seconds 3] [--seconds 5]
//                          [--expect-content 100]   (steady state: each connection streams back to back)
//   load-client websockets --url URL [--header ...] [--count 10000] [--parallel 128] [--hold-seconds 5]
//   load-client coldstart  --exec PATH --port N [--runs 10] [--warmup 1] [--log FILE]
//   load-client upstream   [--host 127.0.0.1] [--port 0] [--threads 1]   (a lean upstream for 4a; see Upstream.swift)
//   load-client proxy      --target HOST:PORT [--port 0] [--threads 2]    (a byte-level TCP relay; see Proxy.swift)
//
// Common: --label TEXT (echoed), --pids name=PID,... (their CPU seconds over the measured window;
// websockets reads the first one's VmRSS), --max-seconds S (a bound on the run), --content-key KEY
// (the JSON key whose non-empty string makes an SSE event a content event: `content` by default,
// `delta` for a Responses stream's `response.output_text.delta` events).

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var values: [String: [String]] = [:]

    init(_ arguments: ArraySlice<String>) throws {
        var arguments = arguments
        while let argument = arguments.popFirst() {
            guard argument.hasPrefix("--") else { throw UsageError("unexpected argument \(argument)") }
            var name = String(argument.dropFirst(2))
            var value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                guard let next = arguments.popFirst() else { throw UsageError("\(argument) needs a value") }
                value = next
            }
            values[name, default: []].append(value)
        }
    }

    func string(_ name: String) throws -> String {
        guard let value = values[name]?.last else { throw UsageError("--\(name) is required") }
        return value
    }

    func string(_ name: String, _ fallback: String) -> String { values[name]?.last ?? fallback }
    func int(_ name: String, _ fallback: Int) -> Int { values[name]?.last.flatMap { Int($0) } ?? fallback }
    func double(_ name: String, _ fallback: Double) -> Double { values[name]?.last.flatMap { Double($0) } ?? fallback }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// `--pids gateway=123,fake=456`
    var pids: [(String, Int32)] {
        all("pids").flatMap { $0.split(separator: ",") }.compactMap { item in
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let pid = Int32(parts[1]) else { return nil }
            return (String(parts[0]), pid)
        }
    }
}

func main() -> Int32 {
    let arguments = CommandLine.arguments
    guard arguments.count >= 2 else {
        fputs("usage: load-client latency|ttft|throughput|gaps|streams|websockets|coldstart|upstream|proxy --option value ...\n", stderr)
        return 64
    }
    signal(SIGPIPE, SIG_IGN)
    do {
        let options = try Options(arguments.dropFirst(2))
        SSEContentScanner.pattern = Array("\"\(options.string("content-key", "content"))\":".utf8)
        let line: String
        // Thousands of connections (and, for upstream and proxy, as many accepted ones).
        if ["gaps", "streams", "upstream", "proxy"].contains(arguments[1]) { raiseFileLimit() }
        switch arguments[1] {
        case "latency": line = try runSequential(options, stream: false)
        case "ttft": line = try runSequential(options, stream: true)
        case "throughput": line = try runThroughput(options)
        case "gaps": line = try runGaps(options)
        case "streams": line = try runSteadyStreams(options)
        case "websockets": line = try runWebSockets(options)
        case "coldstart": line = try runColdStart(options)
        case "upstream": line = try runUpstream(options)
        case "proxy": line = try runProxy(options)
        default: throw UsageError("unknown mode \(arguments[1])")
        }
        print(line)
        fflush(stdout)
        return 0
    } catch {
        fputs("load-client: \(error)\n", stderr)
        return 1
    }
}

exit(main())
