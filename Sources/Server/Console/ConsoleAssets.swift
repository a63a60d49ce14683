/// The console's files (`Console/Assets`), compiled into the binary by SwiftPM's `embedInCode`.
enum ConsoleAssets {
    enum Kind: Sendable {
        case css, javascript
    }

    /// `GET /console`.
    static let page = String(decoding: PackageResources.index_html, as: UTF8.self)

    /// `GET /console/{asset}`, by name.
    static let files: [String: (kind: Kind, text: String)] = [
        "console.js": (.javascript, String(decoding: PackageResources.console_js, as: UTF8.self)),
        "console.css": (.css, String(decoding: PackageResources.console_css, as: UTF8.self)),
    ]
}
