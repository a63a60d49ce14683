@testable import GatewayServer
import NIOCore
import Testing

@Suite("Reading chunked framing as it passes (ChunkedBodyScanner)")
struct ChunkedBodyScannerTests {
    /// A chunked body: its chunks (with extensions on some), the terminal chunk, trailers on some.
    struct Encoded {
        var bytes: [UInt8] = []
        var data: [UInt8] = []
        /// Where the terminal chunk's size line starts: everything before it is passed on.
        var terminalStart = 0
    }

    static func encode(_ chunks: [[UInt8]], extensions: Bool, trailers: Bool, uppercase: Bool) -> Encoded {
        var encoded = Encoded()
        for (number, chunk) in chunks.enumerated() {
            var size = String(chunk.count, radix: 16, uppercase: uppercase)
            if extensions && number % 2 == 0 { size += ";name=\"v\"" }
            encoded.bytes += Array((size + "\r\n").utf8) + chunk + Array("\r\n".utf8)
            encoded.data += chunk
        }
        encoded.terminalStart = encoded.bytes.count
        encoded.bytes += Array((extensions ? "0;last\r\n" : "0\r\n").utf8)
        if trailers { encoded.bytes += Array("X-Checksum: abc\r\nX-Other: 1\r\n".utf8) }
        encoded.bytes += Array("\r\n".utf8)
        return encoded
    }

    /// Feeds `bytes` in reads cut at `cuts` and returns what the scanner passed on and saw.
    static func feed(_ bytes: [UInt8], cuts: [Int]) throws -> (forward: [UInt8], data: [UInt8], completeAt: [Int]) {
        var scanner = ChunkedBodyScanner()
        var forward: [UInt8] = []
        var data: [UInt8] = []
        var completeAt: [Int] = []
        let bounds = [0] + cuts.sorted() + [bytes.count]
        for read in 0..<(bounds.count - 1) {
            // Each read in a buffer of its own with bytes before its reader index, as NIO hands them over.
            var buffer = ByteBuffer(bytes: [0xEE, 0xEE] + bytes[bounds[read]..<bounds[read + 1]])
            buffer.moveReaderIndex(forwardBy: 2)
            let scan = try scanner.scan(buffer)
            for part in scan.forward { forward += part.readableBytesView }
            for part in scan.data { data += part.readableBytesView }
            if scan.isComplete { completeAt.append(read) }
        }
        return (forward, data, completeAt)
    }

    @Test func everySplitOfManyBodiesPassesOnAllButTheTerminalChunkAndSeesAllTheData() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let chunkCount = Int.random(in: 0...12, using: &generator)
            // Data full of the bytes the framing uses.
            let alphabet = Array("0aF\r\n;: data\n".utf8)
            let chunks = (0..<chunkCount).map { _ in
                (0..<Int.random(in: 1...300, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            }
            let encoded = Self.encode(chunks, extensions: round % 3 == 0, trailers: round % 5 == 0, uppercase: round % 2 == 0)
            let cuts = (0..<Int.random(in: 0...20, using: &generator)).map { _ in Int.random(in: 0...encoded.bytes.count, using: &generator) }
            let result = try Self.feed(encoded.bytes, cuts: cuts)
            let bounds = [0] + cuts.sorted() + [encoded.bytes.count]
            let lastRead = try #require((0..<(bounds.count - 1)).last { bounds[$0] < bounds[$0 + 1] })
            #expect(result.data == encoded.data, "round \(round), cuts \(cuts.sorted())")
            #expect(result.forward == Array(encoded.bytes[..<encoded.terminalStart]), "round \(round), cuts \(cuts.sorted())")
            #expect(result.completeAt == [lastRead], "round \(round): complete once, in the read with the last byte")
        }
    }

    @Test func aTerminalChunkWhoseSizeLineIsSplitIsNeverPassedOn() throws {
        let body = Array("5\r\nhello\r\n0\r\n\r\n".utf8)
        for cut in 0...body.count {
            let result = try Self.feed(body, cuts: [cut])
            #expect(result.forward == Array("5\r\nhello\r\n".utf8), "cut at \(cut)")
            #expect(result.data == Array("hello".utf8))
            #expect(result.completeAt.count == 1)
        }
    }

    @Test func badFramingIsAnError() throws {
        func error(_ text: String) -> ChunkedBodyScanner.FramingError? {
            var scanner = ChunkedBodyScanner()
            do {
                _ = try scanner.scan(ByteBuffer(string: text))
                return nil
            } catch {
                return error
            }
        }
        #expect(error("zz\r\n") == .invalidChunkSize)
        #expect(error("\r\n") == .invalidChunkSize)
        #expect(error(";ext\r\n") == .invalidChunkSize)
        #expect(error("1234567890abcdef0\r\n") == .invalidChunkSize)
        #expect(error("3\r\nabcX") == .missingCRLFAfterData)
        #expect(error("3\r\nabc\rX") == .missingCRLFAfterData)
        #expect(error("3;" + String(repeating: "x", count: 5000)) == .lineTooLong)
        #expect(error("0\r\n" + String(repeating: "X-A: b\r\n", count: 3000)) == .trailersTooLong)
        #expect(error("0\r\n\r\nHTTP/1.1 200 OK\r\n") == .bytesAfterTheEnd)
        #expect(error("3\r\nabc\r\n0\r\n\r\n") == nil)

        var scanner = ChunkedBodyScanner()
        _ = try scanner.scan(ByteBuffer(string: "0\r\n\r\n"))
        #expect(scanner.isComplete)
        #expect(throws: ChunkedBodyScanner.FramingError.bytesAfterTheEnd) { try scanner.scan(ByteBuffer(string: "x")) }
    }
}
