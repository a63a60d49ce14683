import Foundation
import ModelProvider

/// The process environment merged with a `.env` file; real variables win over the file.
public struct Environment: Sendable {
    public private(set) var values: [String: String]
    /// Which keys came from the `.env` file, for error messages.
    private var fromFile: Set<String> = []
    private var fileName = ".env"

    public init(_ values: [String: String]) {
        self.values = values
    }

    /// The current process environment plus `dotEnvPath` when it exists.
    public static func load(dotEnvPath: String? = ".env", processEnvironment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> Environment
    {
        var environment = Environment(processEnvironment)
        if let dotEnvPath, FileManager.default.fileExists(atPath: dotEnvPath) {
            let text = try String(contentsOfFile: dotEnvPath, encoding: .utf8)
            let parsed = try DotEnv.parse(text, file: dotEnvPath)
            environment.fileName = dotEnvPath
            for (key, value) in parsed where environment.values[key] == nil {
                environment.values[key] = value
                environment.fromFile.insert(key)
            }
        }
        return environment
    }

    public subscript(key: String) -> String? {
        values[key]
    }

    /// The value, or nil when unset or blank.
    public func nonEmpty(_ key: String) -> String? {
        guard let value = values[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func source(of key: String) -> String {
        fromFile.contains(key) ? fileName : "environment"
    }

    func error(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(source: source(of: key), key: key, message: message)
    }

    /// `key` as a whole number within `range`, or nil when unset; otherwise an error naming `key`
    /// that says what was `expected`.
    func integer(_ key: String, in range: ClosedRange<Int>, expected: String) throws -> Int? {
        guard let raw = nonEmpty(key) else { return nil }
        guard let value = Int(raw), range.contains(value) else { throw error(key, "expected \(expected), found '\(raw)'") }
        return value
    }

    /// `key` as a number of seconds within `range`, or nil when unset; otherwise an error naming
    /// `key` that says what was `expected`.
    func seconds(_ key: String, in range: ClosedRange<Double>, expected: String) throws -> Duration? {
        guard let raw = nonEmpty(key) else { return nil }
        guard let value = Double(raw), value.isFinite, range.contains(value) else { throw error(key, "expected \(expected), found '\(raw)'") }
        return .milliseconds(Int64(value * 1000))
    }
}

/// Parser for `.env` files: `KEY=value` lines (LF or CRLF), `#` comments, optional `export `, single or double
/// quotes (double quotes understand `\n`, `\"` and `\\`).
public enum DotEnv {
    public static func parse(_ text: String, file: String = ".env") throws -> [String: String] {
        var result: [String: String] = [:]
        // Split on Unicode scalars: a Swift Character joins "\r\n" into one, so CRLF lines would not split on "\n".
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        for (index, rawLine) in lines.enumerated() {
            var line = rawLine
            if line.unicodeScalars.last == "\r" { line.unicodeScalars.removeLast() }
            line = line.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(source: "\(file):\(index + 1)", key: line, message: "expected KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError(source: "\(file):\(index + 1)", key: key, message: "not a valid variable name")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'" {
                guard value.count >= 2, let closing = value.dropFirst().lastIndex(of: quote) else {
                    throw ConfigurationError(source: "\(file):\(index + 1)", key: key, message: "unterminated quoted value")
                }
                let inner = String(value[value.index(after: value.startIndex)..<closing])
                value = quote == "\"" ? unescape(inner) : inner
            } else if let comment = value.range(of: " #") {
                value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            result[key] = value
        }
        return result
    }

    private static func unescape(_ text: String) -> String {
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: result.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}
