/// Renders a ``DocumentValue`` as JSON or YAML text, deterministically.
public enum DocumentEmitter {
    /// Pretty JSON with two-space indentation, keys in document order.
    public static func json(_ value: DocumentValue) -> String {
        var out = ""
        writeJSON(value, indent: 0, into: &out)
        out += "\n"
        return out
    }

    private static func writeJSON(_ value: DocumentValue, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += formatNumber(d)
        case .string(let s): out += quoted(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += pad
                writeJSON(item, indent: indent + 1, into: &out)
                out += index == items.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{\n"
            for (index, (key, item)) in pairs.enumerated() {
                out += pad + quoted(key) + ": "
                writeJSON(item, indent: indent + 1, into: &out)
                out += index == pairs.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        }
    }

    static func formatNumber(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) + ".0" }
        return String(d)
    }

    /// A JSON string literal. YAML's double-quoted style accepts the same escapes, so the YAML
    /// emitter uses it too.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // YAML reads U+0085, U+2028 and U+2029 as line breaks, and a raw U+FEFF is a byte order
            // mark to some readers, so those are escaped too.
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || [0x85, 0x2028, 0x2029, 0xFEFF].contains(scalar.value):
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Block-style YAML. Strings that could be read back as anything but themselves are
    /// double-quoted; the output parses to exactly the value given.
    public static func yaml(_ value: DocumentValue) -> String {
        var out = ""
        switch value {
        case .object(let pairs) where !pairs.isEmpty:
            writeYAMLPairs(pairs, indent: 0, into: &out)
        case .array(let items) where !items.isEmpty:
            writeYAMLItems(items, indent: 0, into: &out)
        default:
            out += inlineYAML(value) + "\n"
        }
        return out
    }

    private static func writeYAMLPairs(_ pairs: [(String, DocumentValue)], indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent)
        for (key, item) in pairs {
            out += pad + yamlString(key) + ":"
            switch item {
            case .object(let nested) where !nested.isEmpty:
                out += "\n"
                writeYAMLPairs(nested, indent: indent + 1, into: &out)
            case .array(let nested) where !nested.isEmpty:
                out += "\n"
                writeYAMLItems(nested, indent: indent + 1, into: &out)
            default:
                out += " " + inlineYAML(item) + "\n"
            }
        }
    }

    private static func writeYAMLItems(_ items: [DocumentValue], indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent)
        for item in items {
            switch item {
            case .object(let nested) where !nested.isEmpty:
                // First pair on the dash line, the rest aligned under it.
                var first = ""
                writeYAMLPairs([nested[0]], indent: indent + 1, into: &first)
                out += pad + "- " + first.dropFirst(pad.count + 2)
                writeYAMLPairs(Array(nested.dropFirst()), indent: indent + 1, into: &out)
            case .array(let nested) where !nested.isEmpty:
                out += pad + "-\n"
                writeYAMLItems(nested, indent: indent + 1, into: &out)
            default:
                out += pad + "- " + inlineYAML(item) + "\n"
            }
        }
    }

    private static func inlineYAML(_ value: DocumentValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .integer(let i): String(i)
        case .number(let d): formatNumber(d)
        case .string(let s): yamlString(s)
        case .array: "[]"
        case .object: "{}"
        }
    }

    private static let reservedPlain: Set<String> = [
        "", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n",
    ]

    /// Plain when the text is unmistakably a string; double-quoted otherwise.
    static func yamlString(_ s: String) -> String {
        let plainSafe = s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_-./{}() ,'".unicodeScalars.contains(c)
        }
        let startsSafe = s.unicodeScalars.first.map { c in (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "/" || c == "_" } ?? false
        if plainSafe, startsSafe, !reservedPlain.contains(s.lowercased()), s.last != " ", !s.contains(" #"),
            case .string = DocumentValue.resolve(YAMLScalar(value: s, isPlain: true, location: .init(line: 0, column: 0)))
        {
            return s
        }
        return quoted(s)
    }
}
