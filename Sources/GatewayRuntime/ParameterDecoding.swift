public import HTTPTypes
import Foundation

/// A value that can travel as a path, query or header parameter.
public protocol ParameterValue: Sendable {
    init?(parameterValue: String)
    var parameterValue: String { get }
}

extension String: ParameterValue {
    public init?(parameterValue: String) { self = parameterValue }
    public var parameterValue: String { self }
}

extension Int: ParameterValue {
    public init?(parameterValue: String) { self.init(parameterValue, radix: 10) }
    public var parameterValue: String { String(self) }
}

extension Double: ParameterValue {
    public init?(parameterValue: String) {
        guard let value = Double(parameterValue), value.isFinite else { return nil }
        self = value
    }
    public var parameterValue: String { String(self) }
}

extension Bool: ParameterValue {
    public init?(parameterValue: String) {
        switch parameterValue {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
    public var parameterValue: String { self ? "true" : "false" }
}

extension ParameterValue where Self: RawRepresentable, RawValue == String {
    public init?(parameterValue: String) { self.init(rawValue: parameterValue) }
    public var parameterValue: String { rawValue }
}

/// Decodes parameters for generated routes; every failure is a 400 naming the parameter.
public enum ParameterDecoding {
    public enum Location: String, Sendable {
        case path, query, header
    }

    public static func required<T: ParameterValue>(_ raw: String?, name: String, in location: Location) throws -> T {
        guard let value: T = try optional(raw, name: name, in: location) else {
            throw GatewayError.badRequest("The \(location.rawValue) parameter '\(name)' is required.")
        }
        return value
    }

    public static func optional<T: ParameterValue>(_ raw: String?, name: String, in location: Location) throws -> T? {
        guard var raw else { return nil }
        if location == .path {
            raw = raw.removingPercentEncoding ?? raw
        }
        guard let value = T(parameterValue: raw) else {
            throw GatewayError.badRequest("The \(location.rawValue) parameter '\(name)' must be \(expectation(T.self)).")
        }
        return value
    }

    public static func array<T: ParameterValue>(_ raws: [String], name: String, in location: Location) throws -> [T] {
        try raws.map { try required($0, name: name, in: location) }
    }

    // Constrained variants: the schema's limits, enforced.

    public static func required(_ raw: String?, name: String, in location: Location, length: ClosedRange<Int>) throws -> String {
        let value: String = try required(raw, name: name, in: location)
        return try check(value, name: name, in: location, length: length)
    }

    public static func optional(_ raw: String?, name: String, in location: Location, length: ClosedRange<Int>) throws -> String? {
        guard let value: String = try optional(raw, name: name, in: location) else { return nil }
        return try check(value, name: name, in: location, length: length)
    }

    public static func required<T: ParameterValue & Comparable>(_ raw: String?, name: String, in location: Location, within range: ClosedRange<T>) throws -> T {
        let value: T = try required(raw, name: name, in: location)
        return try check(value, name: name, in: location, within: range)
    }

    public static func optional<T: ParameterValue & Comparable>(_ raw: String?, name: String, in location: Location, within range: ClosedRange<T>) throws -> T? {
        guard let value: T = try optional(raw, name: name, in: location) else { return nil }
        return try check(value, name: name, in: location, within: range)
    }

    public static func array<T: ParameterValue>(_ raws: [String], name: String, in location: Location, count: ClosedRange<Int>) throws -> [T] {
        guard count.contains(raws.count) else {
            throw GatewayError.badRequest("The \(location.rawValue) parameter '\(name)' must be given \(Validation.describe(count)) times.")
        }
        return try array(raws, name: name, in: location)
    }

    static func check(_ value: String, name: String, in location: Location, length: ClosedRange<Int>) throws -> String {
        guard length.contains(value.count) else {
            throw GatewayError.badRequest("The \(location.rawValue) parameter '\(name)' must be \(Validation.describe(length)) characters long.")
        }
        return value
    }

    static func check<T: Comparable>(_ value: T, name: String, in location: Location, within range: ClosedRange<T>) throws -> T {
        guard range.contains(value) else {
            throw GatewayError.badRequest("The \(location.rawValue) parameter '\(name)' must be between \(range.lowerBound) and \(range.upperBound).")
        }
        return value
    }

    static func expectation<T>(_ type: T.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case let enumeration as any CaseIterable.Type:
            let values = enumeration.allCases.compactMap { ($0 as? any RawRepresentable)?.rawValue as? String }
            return "one of: " + values.joined(separator: ", ")
        default: return "a valid value"
        }
    }
}

extension HTTPFields {
    /// The value of a header named at run time (generated code reads documented header parameters this way).
    public func parameter(named name: String) -> String? {
        guard let name = HTTPField.Name(name) else { return nil }
        // One field is the usual case; `self[name]` builds a joined string through a lazy
        // sequence every time (it showed in the relay's profile).
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }  // several: joined as HTTPTypes does (", ", "; " for Cookie)
            found = field.value
        }
        return found
    }

    /// Sets a documented response header, if it has a value.
    public mutating func setParameter<T: ParameterValue>(_ value: T?, named name: String) {
        guard let value, let field = HTTPField.Name(name) else { return }
        self[field] = value.parameterValue
    }
}
