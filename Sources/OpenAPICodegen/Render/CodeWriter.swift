/// Accumulates indented Swift source.
struct CodeWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ line: String = "") {
        if line.isEmpty {
            text += "\n"
        } else {
            text += String(repeating: "    ", count: depth) + line + "\n"
        }
    }

    /// Writes `header {`, the body one level deeper, then `}`.
    mutating func block(_ header: String, _ body: (inout CodeWriter) -> Void) {
        line(header + " {")
        depth += 1
        body(&self)
        depth -= 1
        line("}")
    }

    /// `///` comment lines for a description, if any.
    mutating func doc(_ text: String?) {
        guard let text, !text.isEmpty else { return }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingTrailingSpaces() }
        var trimmed = lines[...]
        while trimmed.last?.isEmpty == true { trimmed = trimmed.dropLast() }
        for docLine in trimmed { line(docLine.isEmpty ? "///" : "/// " + docLine) }
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " || result.last == "\t" { result = result.dropLast() }
        return String(result)
    }
}
