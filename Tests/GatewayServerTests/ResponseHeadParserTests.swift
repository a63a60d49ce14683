@testable import GatewayServer
import NIOCore
import NIOHTTP1
import Testing

@Suite("Reading a provider's response head (ResponseHeadParser)")
struct ResponseHeadParserTests {
    @Test func aHeadIsReadOnceWholeAndTheBodyStaysInTheBuffer() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding:chunked\r\nX-Empty:\r\nX-Spaces:   a b  \r\n\r\n5\r\nhello"
        let headLength = text.utf8.count - "5\r\nhello".utf8.count
        for cut in 0..<headLength {
            var partial = ByteBuffer(string: String(text.utf8.prefix(cut))!)
            #expect(try ResponseHeadParser.parse(&partial) == nil, "cut at \(cut)")
            #expect(partial.readableBytes == cut, "nothing consumed")
        }
        var buffer = ByteBuffer(string: text)
        let head = try #require(try ResponseHeadParser.parse(&buffer))
        #expect(head.version == .http1_1)
        #expect(head.status == .ok)
        #expect(head.headers["content-type"] == ["text/event-stream"])
        #expect(head.headers["Transfer-Encoding"] == ["chunked"])
        #expect(head.headers["X-Empty"] == [""])
        #expect(head.headers["X-Spaces"] == ["a b"])
        #expect(String(buffer: buffer) == "5\r\nhello")
    }

    @Test func statusLinesOfEveryKindAreRead() throws {
        for (line, version, code) in [
            ("HTTP/1.0 404 Not Found", HTTPVersion.http1_0, 404), ("HTTP/1.1 429 ", .http1_1, 429), ("HTTP/1.1 204", .http1_1, 204),
            ("HTTP/1.1 103 Early Hints", .http1_1, 103),
        ] {
            var buffer = ByteBuffer(string: line + "\r\n\r\n")
            let head = try #require(try ResponseHeadParser.parse(&buffer))
            #expect(head.version == version && head.status.code == code, "\(line)")
            #expect(buffer.readableBytes == 0)
        }
        var bareLF = ByteBuffer(string: "HTTP/1.1 200 OK\nA: b\n\nrest")
        #expect(try ResponseHeadParser.parse(&bareLF)?.headers["A"] == ["b"])
        #expect(String(buffer: bareLF) == "rest")
    }

    @Test func malformedHeadsAreErrors() {
        func error(_ text: String) -> ResponseHeadParser.HeadError? {
            var buffer = ByteBuffer(string: text)
            do {
                _ = try ResponseHeadParser.parse(&buffer)
                return nil
            } catch {
                return error
            }
        }
        #expect(error("HTTP/2 200 OK\r\n\r\n") == .malformedStatusLine)
        #expect(error("HTTP/1.1 20 OK\r\n\r\n") == .malformedStatusLine)
        #expect(error("HTTP/1.1 2000 OK\r\n\r\n") == .malformedStatusLine)
        #expect(error("HTTP/1.1 099 Low\r\n\r\n") == .malformedStatusLine)
        #expect(error("ICY 200 OK\r\n\r\n") == .malformedStatusLine)
        #expect(error("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n") == .malformedHeader)
        #expect(error("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n") == .malformedHeader)
        #expect(error("HTTP/1.1 200 OK\r\nA : b\r\n\r\n") == .malformedHeader)
        #expect(error("HTTP/1.1 200 OK\r\n: b\r\n\r\n") == .malformedHeader)
        #expect(error("HTTP/1.1 200 OK\r\nA: " + String(repeating: "x", count: 90 * 1024)) == .tooLong)
        #expect(error("HTTP/1.1 200 OK\r\nA: " + String(repeating: "x", count: 90 * 1024) + "\r\n\r\n") == .tooLong)
        #expect(error("HTTP/1.1 200 OK\r\nA: b\r\n") == nil, "not complete yet")
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ResponseHeadParser.BodyFraming.chunked),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", .chunked),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n", .chunked),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .untilClose),
        ("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", .length(42)),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .length(0)),
        ("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n", .length(7)),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", .untilClose),
        ("HTTP/1.1 204 No Content\r\nContent-Length: 12\r\n\r\n", .empty),
        ("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", .empty),
    ])
    func theBodyEndsAsItsFramingSays(text: String, framing: ResponseHeadParser.BodyFraming) throws {
        var buffer = ByteBuffer(string: text)
        let head = try #require(try ResponseHeadParser.parse(&buffer))
        #expect(try ResponseHeadParser.bodyFraming(head) == framing)
    }

    @Test(arguments: ["-1", "12a", "", "0x10", "5, 6", "99999999999999999999999"])
    func aContentLengthThatIsNotOneNumberIsAnError(value: String) throws {
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\n")
        let head = try #require(try ResponseHeadParser.parse(&buffer))
        #expect(throws: ResponseHeadParser.HeadError.invalidContentLength) { try ResponseHeadParser.bodyFraming(head) }
    }
}
