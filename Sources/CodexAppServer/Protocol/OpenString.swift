/// A string enumeration of the protocol that may grow: the values the models know are static members,
/// and a value Codex adds later decodes as itself instead of failing. `switch` over the known members
/// with a `default`.
public protocol AppServerOpenString: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral where RawValue == String
{
    init(rawValue: String)
}

extension AppServerOpenString {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
}
