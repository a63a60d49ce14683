import Foundation

/// Decoding helpers that generated `init(from:)` implementations call, so the rules a schema
/// states (required keys, limits, closed enums, unknown keys) are enforced in one tested place.
public enum Validation {
    static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        if range.lowerBound <= 0 { return "at most \(range.upperBound)" }
        if range.lowerBound == range.upperBound { return "exactly \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }
}

/// A coding key for keys only known at run time.
public struct DynamicCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(_ string: String) {
        self.stringValue = string
        self.intValue = nil
    }

    public init?(stringValue: String) { self.init(stringValue) }

    public init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension KeyedDecodingContainer {
    /// A key that must be present, whose value may be `null`.
    public func decodeRequiredNullable<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required (it may be null)"))
        }
        return try decodeIfPresent(type, forKey: key)
    }

    /// An optional property that may be any JSON value: absent is `nil`, an explicit `null` is
    /// `.null` (JSON-RPC tells a notification, without `id`, from a request with `"id": null`).
    public func decodeFreeFormIfPresent(forKey key: Key) throws -> JSONValue? {
        contains(key) ? try decode(JSONValue.self, forKey: key) : nil
    }

    public func validate(_ value: String?, length: PartialRangeFrom<Int>, forKey key: Key) throws {
        try validate(value, length: length.lowerBound...Int.max, forKey: key)
    }

    public func validate(_ value: String?, length: PartialRangeThrough<Int>, forKey key: Key) throws {
        try validate(value, length: 0...length.upperBound, forKey: key)
    }

    public func validate(_ value: String?, length: ClosedRange<Int>, forKey key: Key) throws {
        guard let value, !length.contains(value.count) else { return }
        throw DecodingError.dataCorruptedError(
            forKey: key,
            in: self,
            debugDescription: "must be \(Validation.describe(length)) characters long"
        )
    }

    /// A string of an open kind (`not: {enum: [...]}`): any value but the `excluded` ones, which
    /// name kinds with schemas of their own.
    public func validate(_ value: String?, excluding excluded: [String], forKey key: Key) throws {
        guard let value, excluded.contains(value) else { return }
        throw DecodingError.dataCorruptedError(
            forKey: key,
            in: self,
            debugDescription: "must not be \(excluded.map { "'\($0)'" }.joined(separator: ", ")) here"
        )
    }

    /// A string with a `pattern`: the regular expression must match it (anchor it to match all of it).
    public func validate(_ value: String?, matching pattern: String, forKey key: Key) throws {
        guard let value else { return }
        let regex = try NSRegularExpression(pattern: pattern)
        guard regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) == nil else { return }
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "does not have the form this field takes (pattern \(pattern))")
    }

    public func validate<C: Collection>(_ value: C?, count: PartialRangeFrom<Int>, forKey key: Key) throws {
        try validate(value, count: count.lowerBound...Int.max, forKey: key)
    }

    public func validate<C: Collection>(_ value: C?, count: PartialRangeThrough<Int>, forKey key: Key) throws {
        try validate(value, count: 0...count.upperBound, forKey: key)
    }

    public func validate<C: Collection>(_ value: C?, count: ClosedRange<Int>, forKey key: Key) throws {
        guard let value, !count.contains(value.count) else { return }
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must have \(Validation.describe(count)) items")
    }

    public func validate<T: Comparable>(_ value: T?, within range: ClosedRange<T>, forKey key: Key) throws {
        guard let value, !range.contains(value) else { return }
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be between \(range.lowerBound) and \(range.upperBound)")
    }

    public func validate<T: Comparable>(_ value: T?, within range: PartialRangeFrom<T>, forKey key: Key) throws {
        guard let value, !range.contains(value) else { return }
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be at least \(range.lowerBound)")
    }

    public func validate<T: Comparable>(_ value: T?, within range: PartialRangeThrough<T>, forKey key: Key) throws {
        guard let value, !range.contains(value) else { return }
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be at most \(range.upperBound)")
    }
}

extension Decoder {
    /// `additionalProperties: false`: any key outside `known` is an error.
    public func rejectUnknownKeys(known: Set<String>) throws {
        let container = try self.container(keyedBy: DynamicCodingKey.self)
        if let unknown = container.allKeys.map(\.stringValue).filter({ !known.contains($0) }).sorted().first {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath + [DynamicCodingKey(unknown)], debugDescription: "is not a known property")
            )
        }
    }

    /// `additionalProperties: <schema>`: every key outside `known`, typed.
    public func decodeAdditionalProperties<T: Decodable>(_ type: T.Type, known: Set<String>) throws -> [String: T] {
        let container = try self.container(keyedBy: DynamicCodingKey.self)
        var result: [String: T] = [:]
        for key in container.allKeys where !known.contains(key.stringValue) {
            result[key.stringValue] = try container.decode(T.self, forKey: key)
        }
        return result
    }

    /// A string enum, with an error that lists the allowed values.
    public func decodeEnumeration<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
        let container = try singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(raw)' is not one of \(allowed)")
        }
        return value
    }

    /// Reads the discriminator of a `oneOf` and checks it names a member.
    public func decodeDiscriminator(_ property: String, expecting tags: [String]) throws -> String {
        let container = try self.container(keyedBy: DynamicCodingKey.self)
        let key = DynamicCodingKey(property)
        let tag = try container.decode(String.self, forKey: key)
        guard tags.contains(tag) else {
            let allowed = tags.map { "'\($0)'" }.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "'\(tag)' is not one of \(allowed)")
        }
        return tag
    }
}

extension Encoder {
    public func encodeAdditionalProperties<T: Encodable>(_ properties: [String: T]) throws {
        var container = self.container(keyedBy: DynamicCodingKey.self)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: DynamicCodingKey(key))
        }
    }
}

extension Decoder {
    /// The error for a value that none of an undiscriminated `oneOf`'s members accept.
    public func noneOfMatched(_ members: String, failures: [any Error]) -> DecodingError {
        DecodingError.dataCorrupted(
            .init(codingPath: codingPath, debugDescription: "matches none of \(members)", underlyingError: failures.first)
        )
    }
}
