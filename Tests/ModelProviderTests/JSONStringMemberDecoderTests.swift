import ModelProvider
import Testing

@Suite("Decoding a string member of JSON text that arrives in pieces")
struct JSONStringMemberDecoderTests {
    static func decode(_ text: String, pieceSize: Int) -> [String] {
        var decoder = JSONStringMemberDecoder(member: "input")
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(decoder.feed(String(rest.prefix(pieceSize))))
            rest = rest.dropFirst(pieceSize)
        }
        #expect(pieces.joined() == decoder.decoded)
        return pieces
    }

    @Test func escapesAndSurrogatePairsDecodeWhateverTheSplit() {
        let text = #"{"other":{"input":"no"},"n":[1,"input"],"input" : "a\"b\\c\n\tä\u00e9\ud83d\ude00\/end","later":"x"}"#
        for size in 1...9 {
            #expect(Self.decode(text, pieceSize: size).joined() == "a\"b\\c\n\täé😀/end")
        }
    }

    @Test func theValueGrowsAsItsTextArrives() {
        #expect(Self.decode(#"{"input":"abcdef"}"#, pieceSize: 5) == ["", "", "abcde", "f"])
    }

    @Test func textThatIsNotSuchAnObjectGivesNothing() {
        #expect(Self.decode(#"["input","x"]"#, pieceSize: 3).joined() == "")
        #expect(Self.decode(#"{"input":5}"#, pieceSize: 3).joined() == "")
        #expect(Self.decode(#"{"input":"\ud83d"}"#, pieceSize: 2).joined() == "\u{FFFD}")
    }
}
