import Foundation

/// Splits the child's standard output into its lines (JSON-RPC messages, one per line) as the
/// bytes arrive, in reads of any size: a line may span reads and a read may hold many lines.
///
/// It works on bytes, searching each read for `\n` once; a line is handed on without it (and
/// without a `\r` before it), and empty lines are skipped.
struct LineSplitter {
    /// A line grew beyond ``maxLength`` bytes before its `\n`.
    struct LineTooLong: Error, CustomStringConvertible {
        let maxLength: Int
        var description: String { "a line longer than \(maxLength) bytes" }
    }

    /// The longest line accepted, in bytes without its `\n`.
    let maxLength: Int
    /// The start of a line whose `\n` has not arrived yet.
    private var partial: [UInt8] = []

    init(maxLength: Int) {
        self.maxLength = maxLength
    }

    /// Calls `line` with each line that `bytes` completes, in order; the bytes after the last
    /// `\n` wait for the next read.
    mutating func append(_ bytes: UnsafeRawBufferPointer, line: (Data) -> Void) throws(LineTooLong) {
        var start = 0
        while let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")), let base = bytes.baseAddress {
            if partial.isEmpty {
                try check(end - start)
                emit(Data(bytes: base + start, count: end - start), line)
            } else {
                partial.append(contentsOf: bytes[start..<end])
                try check(partial.count)
                emit(Data(partial), line)
                partial.removeAll(keepingCapacity: true)
            }
            start = end + 1
        }
        partial.append(contentsOf: bytes[start...])
        try check(partial.count)
    }

    /// The last line, when the input ended without a `\n` after it.
    mutating func finish() -> Data? {
        defer { partial = [] }
        let last = Self.trimmed(Data(partial))
        return last.isEmpty ? nil : last
    }

    private func check(_ length: Int) throws(LineTooLong) {
        if length > maxLength { throw LineTooLong(maxLength: maxLength) }
    }

    private func emit(_ data: Data, _ line: (Data) -> Void) {
        let trimmed = Self.trimmed(data)
        if !trimmed.isEmpty { line(trimmed) }
    }

    private static func trimmed(_ data: Data) -> Data {
        data.last == UInt8(ascii: "\r") ? data.dropLast() : data
    }
}
