import Foundation
import Testing

@testable import CodexAppServer

@Suite("Splitting the child's output into lines")
struct LineSplitterTests {
    /// The lines `reads` make, fed one read after another, then the end of the input.
    static func lines(_ reads: [String], maxLength: Int = 1 << 20) throws -> [String] {
        var splitter = LineSplitter(maxLength: maxLength)
        var lines: [String] = []
        for read in reads {
            try Array(read.utf8).withUnsafeBytes { bytes in
                try splitter.append(bytes) { lines.append(String(decoding: $0, as: UTF8.self)) }
            }
        }
        if let last = splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
        return lines
    }

    @Test func aLineSplitAcrossReadsArrivesWholeAndManyLinesInOneReadArriveInOrder() throws {
        #expect(try Self.lines([#"{"id":1,"res"#, #"ult":{}}"#, "\n{\"method\":\"a\"}\n{\"method\":\"b\"}\n"])
            == [#"{"id":1,"result":{}}"#, #"{"method":"a"}"#, #"{"method":"b"}"#])
        #expect(try Self.lines(["{", "}", "\n"]) == ["{}"])
    }

    @Test func emptyLinesAreSkippedACarriageReturnIsDroppedAndALastLineWithoutNewlineCounts() throws {
        #expect(try Self.lines(["\n\n{}\r\n\r\n", "{\"last\":1}"]) == ["{}", #"{"last":1}"#])
        #expect(try Self.lines([]) == [])
        #expect(try Self.lines(["", "\n"]) == [])
    }

    @Test func aLineLongerThanTheLimitIsAnErrorWhetherItComesInOneReadOrSeveral() throws {
        #expect(try Self.lines(["12345\n"], maxLength: 5) == ["12345"])
        #expect(throws: LineSplitter.LineTooLong.self) { try Self.lines(["123456\n"], maxLength: 5) }
        #expect(throws: LineSplitter.LineTooLong.self) { try Self.lines(["123", "456\n"], maxLength: 5) }
        #expect(throws: LineSplitter.LineTooLong.self) { try Self.lines(["123", "456"], maxLength: 5) }
    }
}
