import GatewayRuntime
import ModelProvider
import NIOCore
import Testing

@Suite("Responses delta events written without Codable")
struct ResponsesDeltaEventWriterTests {
    /// Every ASCII character (controls, quote, backslash, slash), then UTF-8 of two to four bytes.
    static let awkwardText = String(decoding: (0..<0x80).map { UInt8($0) }, as: UTF8.self) + "é\u{7F}\u{85}漢字😀\u{2028}"

    static func codable(_ type: String, contentIndex: Int?, delta: String) -> ByteBuffer {
        var event = ResponseStreamEvent(type: type)
        event.sequenceNumber = 12
        event.outputIndex = 3
        event.itemID = "msg_\"odd\"/id"
        event.contentIndex = contentIndex
        event.delta = delta
        if contentIndex != nil { event.logprobs = [] }
        var out = ByteBuffer(string: "event: \(type)\ndata: ")
        var json = WireCoding.json(event)
        out.writeBuffer(&json)
        out.writeString("\n\n")
        return out
    }

    /// The events in `buffer`: their names and their JSON as values (`JSONEncoder` orders members
    /// as its dictionary does, so their order is not compared).
    static func events(in buffer: ByteBuffer) throws -> [(String?, JSONValue)] {
        var parser = SSEParser()
        return try parser.feed(buffer.readableBytesView).map { ($0.event, try WireCoding.decode(JSONValue.self, from: $0.data)) }
    }

    @Test(arguments: ["", "Hello", "{\"input\":\"*** Begin Patch\\n", awkwardText])
    func eachDeltaEventIsTheEventCodableWrites(_ delta: String) throws {
        var text = ByteBuffer()
        ResponsesDeltaEventWriter.write(
            type: "response.output_text.delta", sequenceNumber: 12, outputIndex: 3, itemID: "msg_\"odd\"/id", contentIndex: 0, delta: delta,
            into: &text)
        let expected = try Self.events(in: Self.codable("response.output_text.delta", contentIndex: 0, delta: delta))
        let written = try Self.events(in: text)
        #expect(written.map(\.0) == expected.map(\.0))
        #expect(written.map(\.1) == expected.map(\.1))
        #expect(written.count == 1)
        for type: StaticString in ["response.function_call_arguments.delta", "response.custom_tool_call_input.delta"] {
            var call = ByteBuffer()
            ResponsesDeltaEventWriter.write(
                type: type, sequenceNumber: 12, outputIndex: 3, itemID: "msg_\"odd\"/id", contentIndex: nil, delta: delta, into: &call)
            let expected = try Self.events(in: Self.codable("\(type)", contentIndex: nil, delta: delta))
            let written = try Self.events(in: call)
            #expect(written.map(\.0) == expected.map(\.0))
            #expect(written.map(\.1) == expected.map(\.1))
        }
    }

    @Test func controlCharactersAreEscapedAsJSONEncoderEscapesThemAndSlashesAreNot() {
        var out = ByteBuffer()
        ResponsesDeltaEventWriter.writeQuoted("a/b\"\\\u{08}\u{0C}\n\r\t\u{01}\u{1F}\u{7F}é", into: &out)
        #expect(String(buffer: out) == #""a/b\"\\\b\f\n\r\t\u0001\u001f\#u{7F}é""#)
        var encoded = ByteBuffer()
        ResponsesDeltaEventWriter.writeQuoted(Self.awkwardText, into: &encoded)
        #expect(String(buffer: encoded) == WireCoding.jsonString(Self.awkwardText))
    }
}
