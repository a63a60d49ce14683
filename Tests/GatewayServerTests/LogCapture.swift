import Foundation
import GatewayServer
import Logging

/// The lines a logger writes through the gateway's own ``StructuredLogHandler``, kept in memory:
/// tests read exactly what an operator would see on standard error.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var written: [String] = []
    let format: StructuredLogHandler.Format

    init(format: StructuredLogHandler.Format = .json) {
        self.format = format
    }

    /// A logger at `trace` level whose lines land here.
    var logger: Logger {
        let sink = LogSink { [self] line in
            lock.lock()
            defer { lock.unlock() }
            written.append(line)
        }
        let format = self.format
        return Logger(label: "codex-gateway") { label in StructuredLogHandler(label: label, level: .trace, format: format, sink: sink) }
    }

    /// Every line written so far, each with its final newline.
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return written
    }

    /// The JSON lines as objects.
    var records: [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The records with message `message`.
    func records(_ message: String) -> [[String: Any]] {
        records.filter { $0["msg"] as? String == message }
    }
}
