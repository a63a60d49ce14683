import GatewayRuntime

/// Reads the common shapes of a streamed chat chunk (a content delta, tool-call fragments, a
/// finish reason) with ``JSONSyntaxScanner``, without Codable: the bridge reads one per streamed
/// token.
///
/// It gives exactly what `JSONDecoder` would give for `ChatCompletionChunk`, or nil when it cannot
/// be sure of that: a non-null `usage` or `error`, a member of an unexpected kind, a repeated
/// member, a number that is not a plain integer, or text the scanner refuses. The caller then
/// decodes the chunk with Codable, which stays the authority.
package enum ChatChunkScanner {
    /// The chunk in `text`, or nil when Codable must decode it.
    package static func chunk(in text: String) -> ChatCompletionChunk? {
        var text = text
        return text.withUTF8 { chunk(in: UnsafeRawBufferPointer($0)) }
    }

    private static func chunk(in bytes: UnsafeRawBufferPointer) -> ChatCompletionChunk? {
        guard let members = try? JSONSyntaxScanner.topLevelMembers(of: bytes) else { return nil }
        var chunk = ChatCompletionChunk()
        var seen = Seen()
        for member in members {
            if member.keyIs("choices", in: bytes) {
                guard seen.first(0) else { return nil }
                switch member.kind {
                case .null: break
                case .array:
                    guard let elements = elements(of: member.value, in: bytes) else { return nil }
                    var choices: [ChatCompletionChunk.Choice] = []
                    choices.reserveCapacity(elements.count)
                    for element in elements {
                        guard let choice = choice(in: UnsafeRawBufferPointer(rebasing: bytes[element])) else { return nil }
                        choices.append(choice)
                    }
                    chunk.choices = choices
                default: return nil
                }
            } else if member.keyIs("id", in: bytes) {
                guard seen.first(1), let id = optionalString(member, in: bytes) else { return nil }
                chunk.id = id
            } else if member.keyIs("model", in: bytes) {
                guard seen.first(2), let model = optionalString(member, in: bytes) else { return nil }
                chunk.model = model
            } else if member.keyIs("usage", in: bytes) || member.keyIs("error", in: bytes) {
                guard member.kind == .null else { return nil }
            }
        }
        return chunk
    }

    private static func choice(in bytes: UnsafeRawBufferPointer) -> ChatCompletionChunk.Choice? {
        guard let members = objectMembers(bytes) else { return nil }
        var choice = ChatCompletionChunk.Choice()
        var seen = Seen()
        for member in members {
            if member.keyIs("index", in: bytes) {
                guard seen.first(0), let index = optionalInteger(member, in: bytes) else { return nil }
                choice.index = index
            } else if member.keyIs("delta", in: bytes) {
                guard seen.first(1) else { return nil }
                switch member.kind {
                case .null: break
                case .object:
                    guard let delta = delta(in: UnsafeRawBufferPointer(rebasing: bytes[member.value])) else { return nil }
                    choice.delta = delta
                default: return nil
                }
            } else if member.keyIs("finish_reason", in: bytes) {
                guard seen.first(2), let reason = optionalString(member, in: bytes) else { return nil }
                choice.finishReason = reason
            }
        }
        return choice
    }

    private static func delta(in bytes: UnsafeRawBufferPointer) -> ChatCompletionChunk.Delta? {
        guard let members = objectMembers(bytes) else { return nil }
        var delta = ChatCompletionChunk.Delta()
        var seen = Seen()
        for member in members {
            if member.keyIs("content", in: bytes) {
                guard seen.first(0), let content = optionalString(member, in: bytes) else { return nil }
                delta.content = content
            } else if member.keyIs("role", in: bytes) {
                guard seen.first(1), let role = optionalString(member, in: bytes) else { return nil }
                delta.role = role
            } else if member.keyIs("refusal", in: bytes) {
                guard seen.first(2), let refusal = optionalString(member, in: bytes) else { return nil }
                delta.refusal = refusal
            } else if member.keyIs("tool_calls", in: bytes) {
                guard seen.first(3) else { return nil }
                switch member.kind {
                case .null: break
                case .array:
                    guard let elements = elements(of: member.value, in: bytes) else { return nil }
                    var fragments: [ChatCompletionChunk.ToolCallFragment] = []
                    for element in elements {
                        guard let fragment = toolCall(in: UnsafeRawBufferPointer(rebasing: bytes[element])) else { return nil }
                        fragments.append(fragment)
                    }
                    delta.toolCalls = fragments
                default: return nil
                }
            }
        }
        return delta
    }

    private static func toolCall(in bytes: UnsafeRawBufferPointer) -> ChatCompletionChunk.ToolCallFragment? {
        guard let members = objectMembers(bytes) else { return nil }
        var index: Int?
        var id: String??
        var function: ChatCompletionChunk.ToolCallFragment.Function?
        var seen = Seen()
        for member in members {
            if member.keyIs("index", in: bytes) {
                guard seen.first(0), member.kind == .number else { return nil }
                index = JSONSyntaxScanner.integer(in: bytes, at: member.value)
                guard index != nil else { return nil }
            } else if member.keyIs("id", in: bytes) {
                guard seen.first(1) else { return nil }
                id = optionalString(member, in: bytes)
                guard id != nil else { return nil }
            } else if member.keyIs("function", in: bytes) {
                guard seen.first(2) else { return nil }
                switch member.kind {
                case .null: break
                case .object:
                    guard let read = self.function(in: UnsafeRawBufferPointer(rebasing: bytes[member.value])) else { return nil }
                    function = read
                default: return nil
                }
            }
        }
        guard let index else { return nil }
        return ChatCompletionChunk.ToolCallFragment(index: index, id: id ?? nil, function: function)
    }

    private static func function(in bytes: UnsafeRawBufferPointer) -> ChatCompletionChunk.ToolCallFragment.Function? {
        guard let members = objectMembers(bytes) else { return nil }
        var function = ChatCompletionChunk.ToolCallFragment.Function()
        var seen = Seen()
        for member in members {
            if member.keyIs("name", in: bytes) {
                guard seen.first(0), let name = optionalString(member, in: bytes) else { return nil }
                function.name = name
            } else if member.keyIs("arguments", in: bytes) {
                guard seen.first(1), let arguments = optionalString(member, in: bytes) else { return nil }
                function.arguments = arguments
            }
        }
        return function
    }

    // MARK: Values

    /// Which of an object's known members have been read (a repeated one is left to Codable).
    private struct Seen {
        private var bits: UInt8 = 0

        /// Whether member `number` is met for the first time.
        mutating func first(_ number: Int) -> Bool {
            let bit: UInt8 = 1 << number
            defer { bits |= bit }
            return bits & bit == 0
        }
    }

    /// The members of the object that is the whole of `bytes` (already checked by the scanner).
    private static func objectMembers(_ bytes: UnsafeRawBufferPointer) -> [JSONSyntaxScanner.Member]? {
        (try? JSONSyntaxScanner.topLevelMembers(of: bytes)) ?? nil
    }

    /// The ranges of the elements of the array at `range` of `bytes`, when all are objects.
    private static func elements(of range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        var index = range.lowerBound + 1  // [
        let end = range.upperBound - 1  // ]
        while true {
            index = skipWhitespace(bytes, from: index, to: end)
            guard index < end else { return ranges }
            guard bytes[index] == UInt8(ascii: "{"),
                let length = JSONSyntaxScanner.lengthOfValue(in: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
            else { return nil }
            ranges.append(index..<(index + length))
            index = skipWhitespace(bytes, from: index + length, to: end)
            if index < end, bytes[index] == UInt8(ascii: ",") { index += 1 }
        }
    }

    private static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        var index = start
        while index < end {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return index
            }
        }
        return index
    }

    /// A string or null member: `.some(nil)` for null, nil for any other kind or a string only
    /// `JSONDecoder` may judge (a `\u` escape).
    private static func optionalString(_ member: JSONSyntaxScanner.Member, in bytes: UnsafeRawBufferPointer) -> String?? {
        switch member.kind {
        case .null: return .some(nil)
        case .string: return unescaped(bytes, quoted: member.value).map { .some($0) }
        default: return nil
        }
    }

    /// An integer or null member: `.some(nil)` for null, nil for any other kind or number.
    private static func optionalInteger(_ member: JSONSyntaxScanner.Member, in bytes: UnsafeRawBufferPointer) -> Int?? {
        switch member.kind {
        case .null: return .some(nil)
        case .number: return JSONSyntaxScanner.integer(in: bytes, at: member.value).map { .some($0) }
        default: return nil
        }
    }

    /// The string whose quoted text (checked by the scanner) is at `range`, its escapes decoded; nil
    /// when it holds a `\u` escape.
    private static func unescaped(_ bytes: UnsafeRawBufferPointer, quoted range: Range<Int>) -> String? {
        let inner = UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound + 1)..<(range.upperBound - 1)])
        guard inner.contains(UInt8(ascii: "\\")) else {
            return String(decoding: inner, as: UTF8.self)
        }
        var failed = false
        let text = String(unsafeUninitializedCapacity: inner.count) { output in
            var written = 0
            var index = inner.startIndex
            while index < inner.endIndex {
                var byte = inner[index]
                index += 1
                if byte == UInt8(ascii: "\\") {
                    let escaped = inner[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "n"): byte = 0x0A
                    case UInt8(ascii: "t"): byte = 0x09
                    case UInt8(ascii: "r"): byte = 0x0D
                    case UInt8(ascii: "b"): byte = 0x08
                    case UInt8(ascii: "f"): byte = 0x0C
                    case UInt8(ascii: "u"):
                        failed = true
                        return 0
                    default: byte = escaped  // \" \\ \/
                    }
                }
                output[written] = byte
                written += 1
            }
            return written
        }
        return failed ? nil : text
    }
}
