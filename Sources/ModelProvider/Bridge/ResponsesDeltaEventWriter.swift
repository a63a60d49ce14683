import NIOCore

/// Writes the Responses events a stream sends once per token (`response.output_text.delta`,
/// `response.function_call_arguments.delta`, `response.custom_tool_call_input.delta`) straight
/// into a buffer, as `event: <type>\ndata: <json>\n\n`.
///
/// The JSON is the value `WireCoding.json` writes for the same ``ResponseStreamEvent``, its
/// members in their declaration order and its strings escaped exactly as `JSONEncoder` escapes
/// them (slashes not escaped); the rarer events are still encoded with Codable.
package enum ResponsesDeltaEventWriter {
    /// Writes one delta event. `contentIndex` and an empty `logprobs` array are written when
    /// `contentIndex` is given (`response.output_text.delta`).
    package static func write(
        type: StaticString, sequenceNumber: Int, outputIndex: Int, itemID: String, contentIndex: Int?, delta: String,
        into out: inout ByteBuffer
    ) {
        out.writeStaticString("event: ")
        out.writeStaticString(type)
        out.writeStaticString("\ndata: {\"type\":\"")
        out.writeStaticString(type)
        out.writeStaticString("\",\"sequence_number\":")
        out.writeString(String(sequenceNumber))
        out.writeStaticString(",\"output_index\":")
        out.writeString(String(outputIndex))
        out.writeStaticString(",\"item_id\":")
        writeQuoted(itemID, into: &out)
        if let contentIndex {
            out.writeStaticString(",\"content_index\":")
            out.writeString(String(contentIndex))
        }
        out.writeStaticString(",\"delta\":")
        writeQuoted(delta, into: &out)
        if contentIndex != nil { out.writeStaticString(",\"logprobs\":[]") }
        out.writeStaticString("}\n\n")
    }

    /// `value` as a JSON string literal, escaped as `JSONEncoder` escapes it: `"` and `\`, the
    /// control characters below U+0020 (`\b \f \n \r \t` by name, the others as `\u00xx`); all
    /// else, `/` included, as it is.
    package static func writeQuoted(_ value: String, into out: inout ByteBuffer) {
        out.writeInteger(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): out.writeStaticString("\\\\")
                case 0x08: out.writeStaticString("\\b")
                case 0x0C: out.writeStaticString("\\f")
                case 0x0A: out.writeStaticString("\\n")
                case 0x0D: out.writeStaticString("\\r")
                case 0x09: out.writeStaticString("\\t")
                default:
                    out.writeStaticString("\\u00")
                    out.writeInteger(hexDigit(byte >> 4))
                    out.writeInteger(hexDigit(byte & 0x0F))
                }
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[start...]))
        }
        out.writeInteger(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
