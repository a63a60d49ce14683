import Foundation
import GatewayServer
import ModelProvider
import NIOCore
import GatewayRuntime
import Testing

@Suite("JSONSyntaxScanner: the relay's one-pass JSON check")
struct JSONSyntaxScannerTests {
    static func scan(_ text: String) throws -> [JSONSyntaxScanner.Member]? {
        try Array(text.utf8).withUnsafeBytes { try JSONSyntaxScanner.topLevelMembers(of: $0) }
    }

    /// Whether the scanner takes `bytes` as one well-formed JSON value, object or not.
    static func valid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            do {
                _ = try JSONSyntaxScanner.topLevelMembers(of: raw)
                return true
            } catch {
                return false
            }
        }
    }

    /// Foundation's parser is the reference: the scanner must accept exactly what it accepts.
    static func foundationAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
    }

    @Test(arguments: [
        #"{}"#, #"[]"#, #" {"a":1} "#, #"{"a":[1,2,{"b":null}],"c":"x\"y\\z\/\u00e9\n"}"#, #""text""#, "0", "-0", "-12.5e+3",
        "1E2", "true", "false", "null", #"[1.0,-2,3e-2]"#, "{\"k\":\"caf\u{e9} \u{1F600}\"}", "\t[\r\n]\n",
        // Malformed: every one of these must be refused.
        "", " ", "{", "}", #"{"a"}"#, #"{"a":}"#, #"[1 2]"#, "[,1]", #"{,"a":1}"#, "01", "1.", ".5", "-", "1e", "+1", "tru",
        "nul", #""unterminated"#, "\"tab\there\"", #""\x""#, #""\u12""#, #"{'a':1}"#, #"{"a":1}x"#, "[1]]", "NaN",
        #"{a:1}"#, "[\"\\uZZZZ\"]",
    ])
    func acceptsExactlyWhatFoundationAccepts(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(Self.valid(bytes) == Self.foundationAccepts(bytes), "\(text.debugDescription)")
    }

    /// Foundation forgives a trailing comma; RFC 8259 (and OpenAI's API) do not, so neither does the scanner.
    @Test(arguments: [#"{"a":1,}"#, "[1,]", #"{"a":[1,2,],"b":2}"#])
    func refusesTrailingCommasThatFoundationForgives(_ text: String) {
        #expect(!Self.valid(Array(text.utf8)))
    }

    @Test func refusesMalformedUTF8InStrings() {
        for bytes: [UInt8] in [
            [0x22, 0xC3, 0x22],  // truncated two-byte sequence
            [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-16 surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xFF, 0x22],
        ] {
            #expect(!Self.valid(bytes), "\(bytes)")
        }
        #expect(Self.valid([0x22, 0xE2, 0x82, 0xAC, 0x22]))  // "€"
    }

    @Test func reportsTheTopLevelMembersAndWhatTheirValuesAre() throws {
        let text = #"{ "model" : "gpt-x", "messages":[{"role":"user"},{}], "stream":true, "n":null, "tags":["a",{}], "m\u006fdel":"again" }"#
        let members = try #require(try Self.scan(text))
        let bytes = Array(text.utf8)
        func slice(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        #expect(members.map { slice($0.key) } == ["model", "messages", "stream", "n", "tags", #"m\u006fdel"#])
        #expect(members.map(\.kind) == [.string, .array, .bool, .null, .array, .string])
        #expect(slice(members[0].value) == #""gpt-x""#)
        #expect(members[1].elementCount == 2 && members[1].allElementsAreObjects)
        #expect(members[4].elementCount == 2 && !members[4].allElementsAreObjects)
        bytes.withUnsafeBytes { raw in
            // A key written with escapes is compared decoded.
            #expect(members[5].keyIs("model", in: raw))
            #expect(!members[2].keyIs("model", in: raw))
            #expect(JSONSyntaxScanner.string(in: raw, quoted: members[0].value) == "gpt-x")
        }
        #expect(try Self.scan("[1,2]") == nil)
        #expect(try Self.scan(#""just a string""#) == nil)
    }

    @Test func saysWhereTheSyntaxIsWrong() {
        #expect {
            _ = try Self.scan(#"{"messages":[1,,2]}"#)
        } throws: { error in
            (error as? JSONSyntaxScanner.SyntaxError)?.offset == 15
        }
    }

    @Test func refusesNestingDeeperThanTheLimitWithoutCrashing() {
        let depth = JSONSyntaxScanner.maximumDepth
        let allowed = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let tooDeep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(Self.valid(Array(allowed.utf8)))
        #expect(!Self.valid(Array(tooDeep.utf8)))
    }

    @Test func measuresTheValueAtTheStartAndReadsIntegers() {
        Array(#"{"a":[1,"}"]} trailing"#.utf8).withUnsafeBytes { raw in
            #expect(JSONSyntaxScanner.lengthOfValue(in: raw) == 13)
        }
        Array("{oops".utf8).withUnsafeBytes { raw in
            #expect(JSONSyntaxScanner.lengthOfValue(in: raw) == nil)
        }
        Array("[42,-7,1.5]".utf8).withUnsafeBytes { raw in
            #expect(JSONSyntaxScanner.integer(in: raw, at: 1..<3) == 42)
            #expect(JSONSyntaxScanner.integer(in: raw, at: 4..<6) == -7)
            #expect(JSONSyntaxScanner.integer(in: raw, at: 7..<10) == nil)
        }
    }

    @Test func quotesStringsAsJSON() throws {
        for value in ["plain", "with \"quotes\" and \\", "line\nbreak\ttab", "\u{01}control", "émoji 😀"] {
            let literal = JSONSyntaxScanner.quoted(value)
            let decoded = try JSONDecoder().decode(String.self, from: Data(literal.utf8))
            #expect(decoded == value)
        }
    }
}

@Suite("RelayUsageSniffer: token usage read from relayed answers")
struct RelayUsageSnifferTests {
    static func sniff(_ chunks: [String], isStream: Bool) -> TokenUsage? {
        var sniffer = RelayUsageSniffer(isStream: isStream)
        for chunk in chunks { sniffer.observe(ByteBuffer(string: chunk)) }
        return sniffer.usage()
    }

    @Test func readsTheUsageOfAWholeAnswerWhereverTheChunksSplitIt() {
        let answer = #"{"id":"x","choices":[{"message":{"content":"a \"usage\": {\"prompt_tokens\": 999} b"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":3},"total_tokens":17}}"#
        let expected = TokenUsage(inputTokens: 12, cachedInputTokens: 3, outputTokens: 5)
        #expect(Self.sniff([answer], isStream: false) == expected)
        for split in stride(from: 1, to: answer.utf8.count, by: 7) {
            let bytes = Array(answer.utf8)
            let chunks = [String(decoding: bytes[..<split], as: UTF8.self), String(decoding: bytes[split...], as: UTF8.self)]
            #expect(Self.sniff(chunks, isStream: false) == expected, "split at \(split)")
        }
        #expect(Self.sniff([#"{"choices":[],"usage":null}"#], isStream: false) == nil)
        #expect(Self.sniff([#"{"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":1}"}}]}"#], isStream: false) == nil)
    }

    @Test func readsTheUsageChunkAtTheEndOfAStream() {
        var chunks = (0..<200).map { #"data: {"choices":[{"delta":{"content":"tick \#($0) "}}],"usage":null}"# + "\n\n" }
        chunks.append(#"data: {"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":200}}"# + "\n\n")
        chunks.append("data: [DONE]\n\n")
        #expect(Self.sniff(chunks, isStream: true) == TokenUsage(inputTokens: 40, outputTokens: 200))
        // The same bytes cut into 3-byte pieces: the usage line spans many chunks.
        let bytes = Array(chunks.joined().utf8)
        let pieces = stride(from: 0, to: bytes.count, by: 3).map { String(decoding: bytes[$0..<min($0 + 3, bytes.count)], as: UTF8.self) }
        #expect(Self.sniff(pieces, isStream: true) == TokenUsage(inputTokens: 40, outputTokens: 200))
        // Without include_usage there is no usage chunk.
        #expect(Self.sniff(Array(chunks.dropLast(2)) + ["data: [DONE]\n\n"], isStream: true) == nil)
    }

    @Test func givesUpOnAnswersTooLargeToKeep() {
        let filler = String(repeating: "x", count: 1 << 20)
        #expect(Self.sniff([#"{"content":""#, filler, #"","usage":{"prompt_tokens":1,"completion_tokens":1}}"#], isStream: false) == nil)
    }
}

@Suite("RelayEndDetector: when a relayed answer's end passes")
struct RelayEndDetectorTests {
    @Test func findsDoneWhereverTheChunksSplitIt() {
        let stream = #"data: {"choices":[]}"# + "\n\n" + "data: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        let marker = bytes.count - "data: [DONE]\n\n".utf8.count
        for size in 1...bytes.count {
            var detector = RelayEndDetector(isStream: true, contentLength: nil)
            var endedAt: Int?
            for start in stride(from: 0, to: bytes.count, by: size) {
                let chunk = ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)])
                if detector.isLast(chunk) {
                    #expect(endedAt == nil, "ended twice with chunks of \(size)")
                    endedAt = start + chunk.readableBytes
                }
            }
            // The chunk that completes the marker, not earlier and not later.
            let markerEnd = marker + "data: [DONE]".utf8.count
            let expected = ((markerEnd - 1) / size + 1) * size
            #expect(endedAt == min(expected, bytes.count), "chunks of \(size)")
        }
    }

    @Test func aSizedAnswerEndsWithItsLastByteAndAnUnsizedOneNever() {
        var sized = RelayEndDetector(isStream: false, contentLength: 10)
        let ends = [sized.isLast(ByteBuffer(string: "12345")), sized.isLast(ByteBuffer(string: "67890"))]
        #expect(ends == [false, true])
        var unsized = RelayEndDetector(isStream: false, contentLength: nil)
        let unsizedEnds = unsized.isLast(ByteBuffer(string: "{}"))
        #expect(!unsizedEnds)
    }
}
