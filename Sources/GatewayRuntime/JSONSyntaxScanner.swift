import Foundation

/// Checks JSON text (RFC 8259, UTF-8) in one pass without building any values, and reports where
/// the members of the top-level object are.
///
/// The OpenAI-compatible relay forwards request and answer bodies byte for byte; it only needs to
/// know that a body is well-formed JSON and what a few top-level members hold (`model`, `stream`,
/// `messages`, `usage`). Decoding the whole body into values to learn that was the largest single
/// cost of a relayed request. This scanner allocates nothing but the member list.
public struct JSONSyntaxScanner {
    /// What a JSON value is, from its first byte.
    public enum Kind: Equatable, Sendable {
        case object, array, string, number, bool, null
    }

    /// A member of the top-level object: the key's bytes between the quotes (escapes left as
    /// they are) and the value's bytes.
    public struct Member: Sendable {
        public var key: Range<Int>
        public var value: Range<Int>
        public var kind: Kind
        /// For an array value: how many elements it has and whether all of them are objects.
        public var elementCount = 0
        public var allElementsAreObjects = true
    }

    public struct SyntaxError: Error, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Deeper nesting is refused rather than risking the stack on hostile input.
    public static let maximumDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The members of `bytes` as a top-level object, in document order. Nil when the text is
    /// well-formed JSON but not an object; throws ``SyntaxError`` when it is not JSON.
    public static func topLevelMembers(of bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> [Member]? {
        var scanner = JSONSyntaxScanner(bytes)
        scanner.skipWhitespace()
        var members: [Member]?
        if scanner.peek == UInt8(ascii: "{") {
            members = try scanner.scanTopLevelObject()
        } else {
            _ = try scanner.scanValue(depth: 0)
        }
        scanner.skipWhitespace()
        guard scanner.index == bytes.count else { throw scanner.error("unexpected text after the JSON value") }
        return members
    }

    /// The length of the well-formed JSON value at the start of `bytes` (nothing may precede it;
    /// anything may follow), or nil when there is none.
    public static func lengthOfValue(in bytes: UnsafeRawBufferPointer) -> Int? {
        var scanner = JSONSyntaxScanner(bytes)
        do {
            _ = try scanner.scanValue(depth: 0)
            return scanner.index
        } catch {
            return nil
        }
    }

    // MARK: Scanning

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func error(_ reason: String) -> SyntaxError {
        SyntaxError(offset: index, reason: index < bytes.count ? reason : "unexpected end of the text")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
        guard peek == byte else { throw error("expected \(what)") }
        index += 1
    }

    private mutating func scanTopLevelObject() throws(SyntaxError) -> [Member] {
        index += 1  // {
        var members: [Member] = []
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a member name in quotes") }
            let keyStart = index + 1
            try scanString()
            let key = keyStart..<(index - 1)
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            skipWhitespace()
            let valueStart = index
            var member = Member(key: key, value: valueStart..<valueStart, kind: .null)
            if peek == UInt8(ascii: "[") {
                member.kind = .array
                try scanArray(depth: 1) { kind in
                    member.elementCount += 1
                    if kind != .object { member.allElementsAreObjects = false }
                }
            } else {
                member.kind = try scanValue(depth: 1)
            }
            member.value = valueStart..<index
            members.append(member)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return members
            default: throw error("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func scanValue(depth: Int) throws(SyntaxError) -> Kind {
        guard let byte = peek else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "{"):
            try scanObject(depth: depth + 1)
            return .object
        case UInt8(ascii: "["):
            try scanArray(depth: depth + 1, element: nil)
            return .array
        case UInt8(ascii: "\""):
            try scanString()
            return .string
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            return .bool
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            return .bool
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            return .number
        default:
            throw error("expected a value")
        }
    }

    private mutating func scanObject(depth: Int) throws(SyntaxError) {
        guard depth <= Self.maximumDepth else { throw error("nested more than \(Self.maximumDepth) levels deep") }
        index += 1  // {
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a member name in quotes") }
            try scanString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            skipWhitespace()
            _ = try scanValue(depth: depth)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw error("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func scanArray(depth: Int, element: ((Kind) -> Void)?) throws(SyntaxError) {
        guard depth <= Self.maximumDepth else { throw error("nested more than \(Self.maximumDepth) levels deep") }
        index += 1  // [
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            let kind = try scanValue(depth: depth)
            element?(kind)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw error("expected ',' or ']' in an array")
            }
        }
    }

    private mutating func scanLiteral(_ literal: StaticString) throws(SyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("expected a value") }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            throw error("expected a value")
        }
        index += count
    }

    private mutating func scanDigits() -> Int {
        let start = index
        while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        return index - start
    }

    private mutating func scanNumber() throws(SyntaxError) {
        if peek == UInt8(ascii: "-") { index += 1 }
        if peek == UInt8(ascii: "0") {
            index += 1
        } else if scanDigits() == 0 {
            throw error("expected a digit")
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard scanDigits() > 0 else { throw error("expected a digit after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard scanDigits() > 0 else { throw error("expected a digit in the exponent") }
        }
    }

    /// From the opening quote to just after the closing one: escapes, control characters and UTF-8.
    private mutating func scanString() throws(SyntaxError) {
        index += 1  // "
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard let escaped = peek else { break }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    index += 1
                    for _ in 0..<4 {
                        guard let hex = peek, Self.isHexDigit(hex) else { throw error("expected four hex digits after \\u") }
                        index += 1
                    }
                default:
                    throw error("invalid escape in a string")
                }
            case 0..<0x20:
                throw error("unescaped control character in a string")
            case 0x20..<0x80:
                index += 1
            default:
                try scanUTF8Sequence()
            }
        }
        throw error("unterminated string")
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    /// One multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
    private mutating func scanUTF8Sequence() throws(SyntaxError) {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default: throw error("invalid UTF-8")
        }
        guard index + length <= bytes.count else { throw error("invalid UTF-8") }
        guard secondRange.contains(bytes[index + 1]) else { throw error("invalid UTF-8") }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            throw error("invalid UTF-8")
        }
        index += length
    }
}

extension JSONSyntaxScanner.Member {
    /// Whether the key is `name` (a key written with escapes is decoded first).
    public func keyIs(_ name: String, in bytes: UnsafeRawBufferPointer) -> Bool {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[key])
        if !raw.contains(UInt8(ascii: "\\")) { return raw.elementsEqual(name.utf8) }
        return JSONSyntaxScanner.string(in: bytes, quoted: (key.lowerBound - 1)..<(key.upperBound + 1)) == name
    }
}

extension JSONSyntaxScanner {
    /// The string value whose quoted text is at `range` of `bytes` (escapes decoded).
    public static func string(in bytes: UnsafeRawBufferPointer, quoted range: Range<Int>) -> String? {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard raw.count >= 2 else { return nil }
        if !raw.contains(UInt8(ascii: "\\")) {
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[(raw.startIndex + 1)..<(raw.endIndex - 1)]), as: UTF8.self)
        }
        return try? JSONDecoder().decode(String.self, from: Data(raw))
    }

    /// The number at `range` of `bytes` as an integer, when it is one (no fraction or exponent).
    public static func integer(in bytes: UnsafeRawBufferPointer, at range: Range<Int>) -> Int? {
        Int(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
    }

    /// `value` as a JSON string literal. Control characters (C0, DEL and C1) are escaped as well as
    /// those JSON requires, so the literal shows no raw control character (in a log, on a terminal).
    public static func quoted(_ value: String) -> String {
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
                let hex = String(scalar.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
