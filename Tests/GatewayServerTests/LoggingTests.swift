import Foundation
import GatewayServer
import Logging
import Testing

@Suite("Log lines")
struct LoggingTests {
    static let hostile = "a\nforged=line\r\u{1B}[31mred\u{7}\u{7F}\u{9B}2J\tend"

    @Test func textLinesEscapeControlCharactersSoAValueCannotForgeALineOrATerminalEscape() throws {
        let capture = LogCapture(format: .text)
        capture.logger.info("prompt \n INFO forged", metadata: ["user.value": .string(Self.hostile), "spaced": "two words", "quote": "say \"hi\""])
        let line = try #require(capture.lines.first)
        #expect(line.hasSuffix("\n"))
        let body = line.dropLast()
        #expect(!body.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(body)")
        #expect(body.contains(#"prompt \n INFO forged"#))
        #expect(body.contains(#"user.value="a\nforged=line\r\u{1B}[31mred\u{7}\u{7F}\u{9B}2J\tend""#))
        #expect(body.contains(#"spaced="two words""#))
        #expect(body.contains(#"quote="say \"hi\"""#))
    }

    @Test func jsonLinesEscapeEveryControlCharacterAndKeepTheValue() throws {
        let capture = LogCapture(format: .json)
        capture.logger.info("event", metadata: ["user.value": .string(Self.hostile)])
        let line = try #require(capture.lines.first)
        #expect(!line.dropLast().unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(line)")
        #expect(capture.records.first?["user.value"] as? String == Self.hostile)
    }

    @Test func timestampsCarryTheirTimeZoneInBothFormats() throws {
        let json = LogCapture(format: .json)
        json.logger.info("event")
        let text = LogCapture(format: .text)
        text.logger.info("event")
        let stamp = try #require(json.records.first?["ts"] as? String)
        let textStamp = try #require(text.lines.first?.split(separator: " ").first.map(String.init))
        for stamp in [stamp, textStamp] {
            #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:?\d\d)/) != nil, "\(stamp)")
            #expect((try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(stamp)) != nil, "\(stamp)")
        }
    }
}
