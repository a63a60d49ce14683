import Foundation

/// The standard `process_*` metrics of Prometheus clients, read from `/proc/self` at each scrape
/// (Linux; elsewhere there are none): resident and virtual memory, CPU seconds, open and maximum
/// file descriptors, and the start time.
enum ProcessMetrics {
    /// The families in the text exposition format, each with `# HELP` and `# TYPE`; empty where
    /// `/proc` cannot be read.
    static func exposition() -> String {
        #if os(Linux)
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        let stat = selfStat()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        family(
            "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
            stat.map { Double($0.userTicks + $0.systemTicks) / ticks })
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", stat.map { Double($0.residentPages) * pageSize })
        family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.map { Double($0.virtualBytes) })
        family(
            "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            stat.flatMap { stat in bootTime().map { $0 + Double(stat.startTicks) / ticks } })
        family("process_open_fds", "gauge", "Number of open file descriptors.", openFileDescriptors())
        family("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFileDescriptors())
        return text
        #else
        return ""
        #endif
    }

    /// The fields of `/proc/self/stat` used here (proc(5); fields counted from 1, after the
    /// command name in parentheses, which may itself contain spaces or parentheses).
    struct Stat {
        var userTicks: Int
        var systemTicks: Int
        var startTicks: Int
        var virtualBytes: Int
        var residentPages: Int
    }

    static func parseStat(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // Field 3 (state) is the first after the name.
        let fields = text[text.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Int? {
            let index = number - 3
            return fields.indices.contains(index) ? Int(fields[index].trimmingCharacters(in: .whitespacesAndNewlines)) : nil
        }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23), let resident = field(24) else {
            return nil
        }
        return Stat(userTicks: user, systemTicks: system, startTicks: start, virtualBytes: virtual, residentPages: resident)
    }

    private static func selfStat() -> Stat? {
        (try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)).flatMap(parseStat)
    }

    /// `btime` of `/proc/stat`: when the system booted, in seconds since the epoch.
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("btime ") }
        return line.flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) }
    }

    private static func openFileDescriptors() -> Double? {
        // The listing's own descriptor is counted too, as other clients do.
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { Double($0.count) }
    }

    /// The soft limit of `Max open files` in `/proc/self/limits`.
    private static func maxFileDescriptors() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") })
        else { return nil }
        return line.dropFirst("Max open files".count).split(separator: " ").first.flatMap { Double($0) }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
