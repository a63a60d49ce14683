import Crypto
import Foundation
import GatewayRuntime

/// The schema the protocol models come from, as checked in under
/// Sources/CodexAppServer/Protocol/schema by scripts/app-server-schema, and how a bundle the
/// installed binary generates compares with it.
enum SchemaBundle {
    static let directory = repositoryRoot.appendingPathComponent("Sources/CodexAppServer/Protocol/schema")

    /// The arguments of `codex` that print the bundle into the directory that follows them.
    static let generateArguments = ["app-server", "generate-json-schema", "--experimental", "--out"]

    /// The digest of the bundle the models come from (first line of bundle.sha256).
    static func checkedInDigest() throws -> String {
        let text = try String(contentsOf: directory.appendingPathComponent("bundle.sha256"), encoding: .utf8)
        return String(text.prefix { !$0.isNewline })
    }

    /// The used definitions and method variants (definitions.json).
    static func checkedInDefinitions() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: directory.appendingPathComponent("definitions.json")))
    }

    /// The SHA-256 (hex) of the text that has, for every file under `root` sorted by relative path
    /// (byte order), a line `"<sha256 of its bytes>  <relative path>\n"`: what scripts/app-server-schema
    /// and `find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum` compute.
    static func digest(of root: URL) throws -> String {
        let rootPath = root.resolvingSymlinksInPath().path
        var entries: [(path: String, digest: String)] = []
        let enumerator = FileManager.default.enumerator(at: root.resolvingSymlinksInPath(), includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
            let relative = String(url.resolvingSymlinksInPath().path.dropFirst(rootPath.count + 1))
            entries.append((relative, hex(SHA256.hash(data: try Data(contentsOf: url)))))
        }
        entries.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        let manifest = entries.map { "\($0.digest)  \($0.path)\n" }.joined()
        return hex(SHA256.hash(data: Data(manifest.utf8)))
    }

    /// The names of the checked-in entries that differ in `generated` (the `definitions` of a new
    /// codex_app_server_protocol.schemas.json): "<union>/<method>" for a method's variant,
    /// "<path>" for a definition; "(gone)" when the new bundle has no such entry.
    static func changedEntries(checkedIn: JSONValue, generated: JSONValue) -> [String] {
        var changed: [String] = []
        if case .object(let methods) = checkedIn["methods"] {
            for (key, variant) in methods.sorted(by: { $0.key < $1.key }) {
                let union = String(key.prefix { $0 != "/" })
                let method = String(key.dropFirst(union.count + 1))
                let now = variants(of: generated[union]).first { $0["properties"]?["method"]?["enum"] == .array([.string(method)]) }
                if now != variant { changed.append(now == nil ? "\(key) (gone)" : key) }
            }
        }
        if case .object(let definitions) = checkedIn["definitions"] {
            for (key, definition) in definitions.sorted(by: { $0.key < $1.key }) {
                let now = key.split(separator: "/").reduce(Optional(generated)) { node, part in node?[String(part)] }
                if now != definition { changed.append(now == nil ? "\(key) (gone)" : key) }
            }
        }
        return changed
    }

    private static func variants(of union: JSONValue?) -> [JSONValue] {
        if case .array(let variants) = union?["oneOf"] { return variants }
        return []
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
