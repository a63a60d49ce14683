import Foundation

/// Decodes `application/x-www-form-urlencoded` bodies (``FormFields``) into the generated types.
///
/// Values are text, converted to what the property's type asks for (string, integer, number,
/// `true`/`false`, string enum). Unknown fields are ignored; a field sent more than once is an
/// error when the type reads it (RFC 6749 §3.2: parameters must not be repeated).
public struct FormDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try T(from: FormFieldsDecoder(fields: try FormFields(text[...]).values, codingPath: []))
    }
}

private struct FormFieldsDecoder: Decoder {
    let fields: [String: [String]]
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(FormKeyedContainer<Key>(fields: fields, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a form body is flat"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(String.self, .init(codingPath: codingPath, debugDescription: "a form body is a set of fields"))
    }
}

private struct FormKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [String: [String]]
    var codingPath: [any CodingKey]

    var allKeys: [Key] { fields.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { fields[key.stringValue] != nil }

    func decodeNil(forKey key: Key) throws -> Bool { fields[key.stringValue] == nil }

    func value(_ key: Key) throws -> String {
        guard let values = fields[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        guard values.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "is repeated; send it once"))
        }
        return values[0]
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let text = try value(key)
        let path = codingPath + [key]
        func mismatch(_ expected: String) -> DecodingError {
            .typeMismatch(T.self, .init(codingPath: path, debugDescription: "expected \(expected), found '\(text.prefix(40))'"))
        }
        switch type {
        case is String.Type: return text as! T
        case is Int.Type:
            guard let value = Int(text) else { throw mismatch("an integer") }
            return value as! T
        case is Double.Type:
            guard let value = Double(text) else { throw mismatch("a number") }
            return value as! T
        case is Bool.Type:
            guard let value = Bool(parameterValue: text) else { throw mismatch("true or false") }
            return value as! T
        default:
            // String enums and other single values decode themselves from the text.
            return try T(from: FormValueDecoder(text: text, codingPath: path))
        }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw DecodingError.typeMismatch([String: Any].self, .init(codingPath: codingPath + [key], debugDescription: "a form body is flat"))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath + [key], debugDescription: "a form body is flat"))
    }

    func superDecoder() throws -> any Decoder { FormFieldsDecoder(fields: fields, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { FormFieldsDecoder(fields: fields, codingPath: codingPath + [key]) }
}

/// One form value, for types that decode from a single value (string enums).
private struct FormValueDecoder: Decoder, SingleValueDecodingContainer {
    let text: String
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw DecodingError.typeMismatch([String: Any].self, .init(codingPath: codingPath, debugDescription: "a form value is text"))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a form value is text"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard type == String.self else {
            throw DecodingError.typeMismatch(T.self, .init(codingPath: codingPath, debugDescription: "a form value is text"))
        }
        return text as! T
    }
}
