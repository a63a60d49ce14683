import Foundation
import GatewayRuntime
import Logging

/// Writes one log event per line to standard error: JSON (`{"ts","level","msg",…metadata}`) for
/// log pipelines, or `key=value` text for people. Timestamps are ISO 8601 in UTC (`…Z`).
///
/// No value can break a line or reach a terminal as a control sequence: JSON strings escape every
/// control character; in text, control characters are written as escapes (`\n`, `\u{1B}`) and a
/// metadata value with a space, `=` or `"` is quoted, so one event is always one line of its own fields.
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

    /// - Parameter metadataProvider: metadata added to every line; by default the request the
    ///   logging task serves (``RequestLogScope``).
    public init(
        label: String,
        level: Logger.Level,
        format: Format,
        sink: LogSink = .standardError,
        metadataProvider: Logger.MetadataProvider? = RequestLogScope.metadataProvider
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let timestamp = Date().formatted(Self.timestampStyle)
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
            let fields = merged.sorted(by: { $0.key < $1.key })
                .map { Self.textEscaped($0.key) + "=" + Self.textValue($0.value.description) }
                .joined(separator: " ")
            line = "\(timestamp) \(event.level.rawValue.uppercased()) \(Self.textEscaped(event.message.description))" + (fields.isEmpty ? "" : " " + fields)
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

    /// `2026-12-07T02:30:38.123Z`: date, time with milliseconds, and the zone (always UTC).
    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// A metadata value in text: as it is when it is one plain word, else quoted (`"a b"`, `\"`, `\\`).
    static func textValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0 != " " && $0 != "=" && $0 != "\"" && $0 != "\\" }
        guard !plain else { return textEscaped(value) }
        return "\"" + textEscaped(value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")) + "\""
    }

    /// `text` with every C0 and C1 control character and DEL written as an escape (`\n`, `\r`,
    /// `\t`, else `\u{1B}`), so it can neither start a new line nor drive a terminal.
    static func textEscaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where isControl(scalar): escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
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
