/// A JSON-shaped value with ordered object keys: the document as it is served.
public indirect enum DocumentValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([DocumentValue])
    case object([(String, DocumentValue)])

    public static func == (lhs: DocumentValue, rhs: DocumentValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let v): hasher.combine(v)
        case .integer(let v): hasher.combine(v)
        case .number(let v): hasher.combine(v)
        case .string(let v): hasher.combine(v)
        case .array(let v): hasher.combine(v)
        case .object(let pairs):
            for (key, value) in pairs {
                hasher.combine(key)
                hasher.combine(value)
            }
        }
    }

    public subscript(key: String) -> DocumentValue? {
        get {
            guard case .object(let pairs) = self else { return nil }
            return pairs.first { $0.0 == key }?.1
        }
        set {
            guard case .object(var pairs) = self else { return }
            if let index = pairs.firstIndex(where: { $0.0 == key }) {
                if let newValue { pairs[index].1 = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append((key, newValue))
            }
            self = .object(pairs)
        }
    }
}

extension DocumentValue {
    /// Converts YAML to JSON values with the YAML 1.2 core schema: plain `null`, `~` and empty
    /// are null, `true`/`false` booleans, digits numbers; anything quoted is a string.
    public init(_ node: YAMLNode) {
        switch node {
        case .scalar(let scalar):
            self = Self.resolve(scalar)
        case .sequence(let items, _):
            self = .array(items.map(DocumentValue.init))
        case .mapping(let pairs, _):
            self = .object(pairs.map { ($0.key.value, DocumentValue($0.value)) })
        }
    }

    static func resolve(_ scalar: YAMLScalar) -> DocumentValue {
        guard scalar.isPlain else { return .string(scalar.value) }
        let text = scalar.value
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if Self.isInteger(text), let value = Int(text.hasPrefix("+") ? String(text.dropFirst()) : text) {
            return .integer(value)
        }
        if Self.isFloat(text), let value = Double(text) {
            return .number(value)
        }
        return .string(text)
    }

    static func isInteger(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func isFloat(_ text: String) -> Bool {
        let allowed = Set("0123456789.eE+-")
        return text.contains(where: \.isNumber) && text.allSatisfy { allowed.contains($0) } && text.first != "e" && text.first != "E"
    }
}
