import Foundation
import NIOCore

/// The one JSON encoder and decoder of the wire types, and the messages that name a bad field.
package enum WireCoding {
    private struct TypeKey: CodingKey {
        var stringValue: String { "type" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) {}
        init?(intValue: Int) { nil }
    }

    /// Encodes `value`'s members plus `"type": type` into one object.
    package static func encode(_ value: some Encodable, type: String, to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(type, forKey: TypeKey())
        try value.encode(to: encoder)
    }

    /// `value` as compact JSON text (slashes not escaped).
    package static func data(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            // The wire types hold only strings, numbers, booleans and JSON values: nothing fails to encode.
            preconditionFailure("a wire type failed to encode: \(error)")
        }
    }

    /// `value` as compact JSON text, in a buffer.
    package static func json(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: data(value))
    }

    /// `value` as compact JSON text, as a `String`.
    package static func jsonString(_ value: some Encodable) -> String {
        String(buffer: json(value))
    }

    /// Decodes `T` from the readable bytes of `buffer`.
    package static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }

    /// Decodes `T` from JSON text.
    package static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// A client-facing sentence naming the field `error` is about (`input[2].call_id: …`), for an
    /// error decoding `body`.
    package static func message(for error: DecodingError, what: String, body: ByteBuffer) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): required."
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return "The body must be a JSON object (\(what))."
        case .typeMismatch(let type, let context):
            let expected = context.debugDescription.hasPrefix("expected") ? context.debugDescription : "expected \(describe(type))"
            return "\(path(context.codingPath)): \(expected)."
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type)), not null."
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // Foundation says "not valid JSON" also for a number too large for its field.
            guard (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed])) != nil else {
                return "The body must be a JSON object (\(what)). It is not valid JSON."
            }
            return "A number in the body does not fit its field (an integer field takes a whole number that fits in 64 bits)."
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "The body is not \(what)."
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        default: type is any Collection.Type ? "an array" : "an object"
        }
    }
}
