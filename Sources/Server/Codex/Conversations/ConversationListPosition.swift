import Foundation

/// What the conversation index knows without parsing a rollout file: its `session_meta`.
struct ConversationMeta: Sendable {
    var owner: String?
    var createdAt: Date
}

/// A place in a list of conversations, ordered by creation time, then ID; carried between pages
/// as an opaque cursor.
public struct ConversationListPosition: Sendable, Comparable {
    public var createdAt: Date
    public var id: String

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.createdAt != rhs.createdAt ? lhs.createdAt < rhs.createdAt : lhs.id < rhs.id
    }

    /// The opaque cursor clients hand back (base64url of a versioned text). The time is the
    /// `Date`'s own value (seconds since 2001), which reads back exactly; seconds since 1970 could
    /// come back one rounding off and move the cursor past its own conversation.
    public var cursor: String {
        SecretToken.base64URL(Data("v1|\(createdAt.timeIntervalSinceReferenceDate)|\(id)".utf8))
    }

    /// Reads a cursor made by ``cursor``; nil when it is not one.
    public init?(cursor: String) {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard cursor.count <= 200, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let seconds = Double(parts[1]), seconds.isFinite, !parts[2].isEmpty else { return nil }
        self.init(createdAt: Date(timeIntervalSinceReferenceDate: seconds), id: String(parts[2]))
    }

    public init(createdAt: Date, id: String) {
        self.createdAt = createdAt
        self.id = id
    }
}
