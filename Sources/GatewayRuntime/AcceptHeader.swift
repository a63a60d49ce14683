/// The media types a client accepts, by preference (RFC 9110 §12.5.1).
public struct AcceptHeader: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var mediaType: String
        public var quality: Double
    }

    /// In order of preference; empty when the request had no `Accept` header.
    public var entries: [Entry]

    public init(_ header: String? = nil) {
        var entries: [(Entry, Int)] = []
        for (index, part) in (header ?? "").split(separator: ",").enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard let type = pieces.first?.lowercased(), !type.isEmpty else { continue }
            var quality = 1.0
            for parameter in pieces.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 1.0
            }
            entries.append((Entry(mediaType: type, quality: quality), index))
        }
        self.entries = entries.sorted { ($0.0.quality, -$0.1) > ($1.0.quality, -$1.1) }.map(\.0)
    }

    /// The first of `offered` that the client prefers most; the first offered when anything goes.
    /// `nil` when the client accepts none of them.
    public func preferred(among offered: [String]) -> String? {
        if entries.isEmpty { return offered.first }
        var best: (type: String, quality: Double, specificity: Int)?
        for type in offered {
            let lowered = type.lowercased()
            let major = lowered.split(separator: "/").first.map(String.init) ?? lowered
            var match: (Double, Int)?
            for entry in entries {
                let specificity: Int
                if entry.mediaType == lowered {
                    specificity = 2
                } else if entry.mediaType == "\(major)/*" {
                    specificity = 1
                } else if entry.mediaType == "*/*" {
                    specificity = 0
                } else {
                    continue
                }
                if match == nil || specificity > match!.1 { match = (entry.quality, specificity) }
            }
            guard let (quality, specificity) = match, quality > 0 else { continue }
            if best == nil || quality > best!.quality || (quality == best!.quality && specificity > best!.specificity) {
                best = (type, quality, specificity)
            }
        }
        return best?.type
    }

    /// The media type of a `Content-Type` or `Accept` value, without parameters, lower-cased.
    public static func mediaType(of value: String) -> String {
        (value.split(separator: ";").first.map(String.init) ?? value).trimmingCharacters(in: " \t").lowercased()
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
