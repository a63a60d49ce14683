/// A YAML node that remembers where it was written.
///
/// Mappings keep their keys in document order so that everything derived from them
/// (the JSON document, the GPT view) reads in the same order as `openapi.yaml`.
public indirect enum YAMLNode: Sendable, Hashable {
    case scalar(YAMLScalar)
    case mapping([YAMLPair], SourceLocation)
    case sequence([YAMLNode], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .scalar(let scalar): scalar.location
        case .mapping(_, let location), .sequence(_, let location): location
        }
    }

    /// A short name of the node kind, for diagnostics.
    public var kindName: String {
        switch self {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a sequence"
        }
    }

    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs, _) = self else { return nil }
        return pairs.first { $0.key.value == key }?.value
    }

    public var scalarValue: String? {
        guard case .scalar(let scalar) = self else { return nil }
        return scalar.value
    }
}

public struct YAMLPair: Sendable, Hashable {
    public var key: YAMLScalar
    public var value: YAMLNode
}

public struct YAMLScalar: Sendable, Hashable {
    public var value: String
    /// True when the scalar was written without quotes (and so may be a number, boolean or null).
    public var isPlain: Bool
    public var location: SourceLocation

    public init(value: String, isPlain: Bool, location: SourceLocation) {
        self.value = value
        self.isPlain = isPlain
        self.location = location
    }
}
