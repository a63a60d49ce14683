import CodexAppServer
import Foundation

/// `codex app-server` started by a test with its own `CODEX_HOME`: JSON lines written to its
/// stdin, its stdout's lines decoded as ``AppServer/Message``s in order.
final class AppServerTestChild: @unchecked Sendable {
    /// How long a test waits for one line before it gives up (a bound against a silent child, not a
    /// check of speed).
    static let lineTimeout: TimeInterval = 60

    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let condition = NSCondition()
    private var pending = Data()
    private var lines: [Data] = []
    private var ended = false

    init(codex: CodexBinary, home: URL) throws {
        process.executableURL = URL(fileURLWithPath: codex.path)
        process.arguments = ["app-server"]
        var environment = ProcessInfo.processInfo.environment
        environment["CODEX_HOME"] = home.path
        process.environment = environment
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.receive(handle.availableData) }
        try process.run()
    }

    func send(_ value: some Encodable) throws {
        var line = try JSONEncoder().encode(value)
        line.append(UInt8(ascii: "\n"))
        try input.fileHandleForWriting.write(contentsOf: line)
    }

    /// The next line, decoded; nil when the child ended or wrote nothing for ``lineTimeout``.
    func nextMessage() throws -> AppServer.Message? {
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: Self.lineTimeout)
        while lines.isEmpty && !ended && condition.wait(until: deadline) {}
        let line = lines.isEmpty ? nil : lines.removeFirst()
        condition.unlock()
        return try line.map { try JSONDecoder().decode(AppServer.Message.self, from: $0) }
    }

    /// Reads until a message matches, returning it and the messages read before it.
    func read(until matches: (AppServer.Message) -> Bool) throws -> (match: AppServer.Message?, before: [AppServer.Message]) {
        var before: [AppServer.Message] = []
        while let message = try nextMessage() {
            if matches(message) { return (message, before) }
            before.append(message)
        }
        return (nil, before)
    }

    /// Closes the child's stdin (it exits) and waits for it.
    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }

    private func receive(_ data: Data) {
        condition.lock()
        if data.isEmpty {
            ended = true
        } else {
            pending.append(data)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(Data(pending[pending.startIndex..<newline]))
                pending = Data(pending[(newline + 1)...])
            }
        }
        condition.broadcast()
        condition.unlock()
    }
}
