/// Turns names from the document into Swift identifiers following the API Design Guidelines:
/// `conversation_id` → `conversationID`, `X-API-Key` → `xAPIKey`, `getHealth` → `GetHealth`.
public enum SwiftName {
    /// Words written in capitals whatever their position but the first of a lowerCamel name.
    static let acronyms: [String: String] = [
        "id": "ID", "ids": "IDs", "url": "URL", "urls": "URLs", "uri": "URI", "api": "API", "json": "JSON", "jsonl": "JSONL",
        "jsonrpc": "JSONRPC", "http": "HTTP", "https": "HTTPS", "html": "HTML", "uuid": "UUID", "sse": "SSE", "ttl": "TTL",
        "ip": "IP", "ws": "WS", "gpt": "GPT", "mcp": "MCP", "yaml": "YAML", "oauth": "OAuth", "pkce": "PKCE", "ndjson": "NDJSON",
    ]

    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout", "internal",
        "let", "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "static", "struct",
        "subscript", "typealias", "var", "break", "case", "catch", "continue", "default", "defer", "do", "else",
        "fallthrough", "for", "guard", "if", "in", "repeat", "return", "throw", "switch", "where", "while", "Any", "as",
        "false", "is", "nil", "self", "Self", "super", "throws", "true", "try", "Type", "Protocol",
    ]

    /// Splits on punctuation and lower→upper case changes, keeping runs of capitals together.
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previous: Character?
        let characters = Array(name)
        for (index, character) in characters.enumerated() {
            guard character.isLetter || character.isNumber else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previous = nil
                continue
            }
            if let previous, !current.isEmpty {
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                let lowerToUpper = (previous.isLowercase || previous.isNumber) && character.isUppercase
                let acronymEnd = previous.isUppercase && character.isUppercase && (next?.isLowercase ?? false)
                if lowerToUpper || acronymEnd {
                    words.append(current)
                    current = ""
                }
            }
            current.append(character)
            previous = character
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    private static func capitalized(_ word: String) -> String {
        if let acronym = acronyms[word.lowercased()] { return acronym }
        return word.prefix(1).uppercased() + word.dropFirst()
    }

    /// Names a nested type cannot have: `Foo.Type` and `Foo.Protocol` are metatypes, `Self` is reserved.
    static let reservedMemberTypeNames: Set<String> = ["Type", "Protocol", "Self"]

    /// `UpperCamelCase`, for types.
    public static func type(_ name: String) -> String {
        let result = words(name).map(capitalized).joined()
        guard let first = result.first else { return "_" }
        if reservedMemberTypeNames.contains(result) { return result + "_" }
        return first.isNumber ? "_" + result : result
    }

    /// `lowerCamelCase`, for properties, cases and methods; keywords are escaped with backticks.
    public static func member(_ name: String) -> String {
        let parts = words(name)
        guard let head = parts.first else { return "_" }
        var result: String
        if acronyms[head.lowercased()] != nil || head == head.uppercased() {
            result = head.lowercased()
        } else {
            result = head.prefix(1).lowercased() + head.dropFirst()
        }
        result += parts.dropFirst().map(capitalized).joined()
        if result.first?.isNumber ?? false { result = "_" + result }
        // `self` cannot be escaped: a parameter named `self` hides the instance in an initialiser.
        if result == "self" { return "self_" }
        return keywords.contains(result) ? "`\(result)`" : result
    }

    /// A member name without backticks, for use inside another identifier.
    public static func bare(_ name: String) -> String {
        member(name).replacingOccurrences(of: "`", with: "")
    }

    /// A Swift string literal.
    public static func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[rest.startIndex..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        let needle = Array(target)
        guard !needle.isEmpty else { return nil }
        var index = startIndex
        while index < endIndex {
            if self[index...].starts(with: needle) {
                return index..<self.index(index, offsetBy: needle.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}
