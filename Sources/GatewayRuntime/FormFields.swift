import Foundation

/// The fields of `application/x-www-form-urlencoded` text: a form body, or a URL's query string
/// (RFC 6749 §4.1.1 sends the authorization request's parameters in this format).
///
/// `&` separates `name=value` pairs (a pair without `=` has the empty value); in names and values
/// `+` is a space and `%XX` is a byte of UTF-8, so `%2B` is a literal `+`. A field may appear more
/// than once; its values keep their order.
public struct FormFields: Sendable {
    public private(set) var values: [String: [String]] = [:]

    /// Throws `DecodingError.dataCorrupted` when a name or value is not percent-encoded correctly.
    public init(_ text: Substring) throws {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.unescape(parts[0])
            values[name, default: []].append(parts.count > 1 ? try Self.unescape(parts[1]) : "")
        }
    }

    /// A request's query string (`nil`: none); a malformed one is a 400.
    public static func query(_ query: String?) throws -> FormFields {
        do {
            return try FormFields(query?[...] ?? "")
        } catch let error as DecodingError {
            guard case .dataCorrupted(let context) = error else { throw error }
            throw GatewayError.badRequest("The query string is not valid: \(context.debugDescription).")
        }
    }

    /// The first value of `name`.
    public func first(_ name: String) -> String? { values[name]?.first }

    /// Every value of `name`, in order.
    public func all(_ name: String) -> [String] { values[name] ?? [] }

    static func unescape(_ part: Substring) throws -> String {
        guard let value = part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "'\(part.prefix(40))' is not percent-encoded correctly"))
        }
        return value
    }
}
