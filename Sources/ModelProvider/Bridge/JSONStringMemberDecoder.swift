/// Decodes one string member of a JSON object while the object's text arrives in pieces: a chat tool
/// call's arguments (`{"input":"*** Begin Patch\n…"}`) stream as fragments of JSON text, and the
/// decoded `input` can be passed on as it grows.
///
/// Only a member of the top-level object counts; other members (of any kind) are skipped. Text that
/// is not an object gives nothing; the caller decodes the whole text at the end as the authority.
package struct JSONStringMemberDecoder: Sendable, Hashable {
    private enum State: Sendable, Hashable {
        case scanning
        case value
        case done
    }

    /// The member's name.
    package let member: String
    /// The member's value decoded so far.
    package private(set) var decoded = ""

    private var state = State.scanning
    // Scanning: where we are in the object's syntax.
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var captured = ""
    private var key: String?
    private var sawColon = false
    // Value: an escape being read.
    private var inEscape = false
    private var hexDigits: [Character] = []
    private var readingHex = false
    private var highSurrogate: UInt32?

    package init(member: String) {
        self.member = member
    }

    /// Feeds the next piece of the JSON text; returns what it added to the member's value.
    package mutating func feed(_ text: String) -> String {
        var added = ""
        for scalar in text.unicodeScalars {
            switch state {
            case .scanning: scan(scalar)
            case .value: decode(scalar, into: &added)
            case .done: return finish(added)
            }
        }
        return finish(added)
    }

    private mutating func finish(_ added: String) -> String {
        decoded += added
        return added
    }

    private mutating func scan(_ scalar: Unicode.Scalar) {
        if inString {
            if escaped {
                escaped = false
                if depth == 1 { captured.unicodeScalars.append(scalar) }
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "\"" {
                inString = false
                guard depth == 1 else { return }
                if sawColon {  // that string was a value
                    key = nil
                    sawColon = false
                } else {
                    key = captured
                }
            } else if depth == 1 {
                captured.unicodeScalars.append(scalar)
            }
            return
        }
        switch scalar {
        case "\"":
            if depth == 1, sawColon, key == member {
                state = .value
            } else {
                inString = true
                captured = ""
            }
        case "{", "[":
            depth += 1
        case "}", "]":
            depth -= 1
            if depth == 0 { state = .done }
        case ":":
            if depth == 1, key != nil { sawColon = true }
        case ",":
            if depth == 1 {
                key = nil
                sawColon = false
            }
        case " ", "\n", "\r", "\t":
            break
        default:
            if depth == 1, sawColon {  // a number or literal value
                key = nil
                sawColon = false
            }
        }
    }

    private mutating func decode(_ scalar: Unicode.Scalar, into added: inout String) {
        if readingHex {
            hexDigits.append(Character(scalar))
            guard hexDigits.count == 4 else { return }
            readingHex = false
            let unit = UInt32(String(hexDigits), radix: 16) ?? 0xFFFD
            hexDigits = []
            appendUnit(unit, into: &added)
            return
        }
        if inEscape {
            inEscape = false
            switch scalar {
            case "u":
                readingHex = true
                return
            case "n": appendScalar("\n", into: &added)
            case "t": appendScalar("\t", into: &added)
            case "r": appendScalar("\r", into: &added)
            case "b": appendScalar("\u{08}", into: &added)
            case "f": appendScalar("\u{0C}", into: &added)
            default: appendScalar(scalar, into: &added)  // \" \\ \/
            }
            return
        }
        switch scalar {
        case "\\": inEscape = true
        case "\"":
            flushSurrogate(into: &added)
            state = .done
        default: appendScalar(scalar, into: &added)
        }
    }

    /// A UTF-16 code unit from `\uXXXX`: surrogate pairs are joined; a lone surrogate is U+FFFD.
    private mutating func appendUnit(_ unit: UInt32, into added: inout String) {
        if (0xD800...0xDBFF).contains(unit) {
            flushSurrogate(into: &added)
            highSurrogate = unit
        } else if (0xDC00...0xDFFF).contains(unit), let high = highSurrogate {
            highSurrogate = nil
            let value = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
            added.unicodeScalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        } else {
            appendScalar(Unicode.Scalar(unit) ?? "\u{FFFD}", into: &added)
        }
    }

    private mutating func appendScalar(_ scalar: Unicode.Scalar, into added: inout String) {
        flushSurrogate(into: &added)
        added.unicodeScalars.append(scalar)
    }

    private mutating func flushSurrogate(into added: inout String) {
        guard highSurrogate != nil else { return }
        highSurrogate = nil
        added.unicodeScalars.append("\u{FFFD}")
    }
}
