import Foundation
import GatewayRuntime
import Logging

/// Writes one log event per line to standard error: JSON (`{"ts","level","msg",…metadata}`) for
/// log pipelines, or `key=value` text for people.
public struct StructuredLogHandler: LogHandler {
    public enum Format: Sendable {
        case json, text
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: Format
    let sink: LogSink

    public init(label: String, level: Logger.Level, format: Format, sink: LogSink = .standardError) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let timestamp = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        let line: String
        switch format {
        case .json:
            var object: [(String, String)] = [
                ("ts", Self.quote(timestamp)), ("level", Self.quote(event.level.rawValue)), ("logger", Self.quote(label)),
                ("msg", Self.quote(event.message.description)),
            ]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                object.append((key, Self.json(value)))
            }
            line = "{" + object.map { "\(Self.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        case .text:
            let fields = merged.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(timestamp) \(event.level.rawValue.uppercased()) \(event.message)" + (fields.isEmpty ? "" : " " + fields)
        }
        sink.write(line + "\n")
    }

    static func json(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): quote(string)
        case .stringConvertible(let convertible):
            if let number = convertible as? any BinaryInteger { "\(number)" }
            else if let number = convertible as? Double, number.isFinite { "\(number)" }
            else if let flag = convertible as? Bool { flag ? "true" : "false" }
            else { quote(convertible.description) }
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let values): "{" + values.sorted(by: { $0.key < $1.key }).map { "\(quote($0.key)):\(json($0.value))" }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ text: String) -> String {
        JSONSyntaxScanner.quoted(text)
    }
}

/// Where log lines go. Writes are serialised so lines from concurrent tasks never interleave.
public final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private let write: (String) -> Void

    public init(_ write: @escaping (String) -> Void) {
        self.write = write
    }

    public static let standardError = LogSink { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        write(line)
    }
}
