import Foundation
import OpenAPICodegen
import Testing

/// Whole-file golden tests: `Golden/petstore.yaml` in, `Golden/<file>.golden` out.
///
/// After an intended change to the generator, refresh the golden files and review their diff:
///
///     GOLDEN_UPDATE=1 swift test --filter GoldenTests
@Suite("Golden files")
struct GoldenTests {
    static var isUpdating: Bool { ProcessInfo.processInfo.environment["GOLDEN_UPDATE"] == "1" }

    static func goldenURL(_ fileName: String) -> URL {
        goldenDirectory.appendingPathComponent(fileName + ".golden")
    }

    @Test("The petstore document generates exactly the checked-in Swift files")
    func petstoreMatchesGoldenFiles() throws {
        let spec = try String(contentsOf: goldenDirectory.appendingPathComponent("petstore.yaml"), encoding: .utf8)
        let files = try generate(spec, file: "petstore.yaml")
        #expect(files.keys.sorted() == Generator.outputFiles.sorted())
        if Self.isUpdating {
            // Drop golden files of outputs the generator no longer writes.
            let current = Set(Generator.outputFiles.map { $0 + ".golden" })
            let existing = try FileManager.default.contentsOfDirectory(atPath: goldenDirectory.path)
            for stale in existing where stale.hasSuffix(".golden") && !current.contains(stale) {
                try FileManager.default.removeItem(at: goldenDirectory.appendingPathComponent(stale))
            }
        }
        for name in Generator.outputFiles {
            let actual = try #require(files[name])
            let url = Self.goldenURL(name)
            if Self.isUpdating {
                try actual.write(to: url, atomically: true, encoding: .utf8)
                continue
            }
            guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
                Issue.record("missing golden file \(url.path); create it with GOLDEN_UPDATE=1 swift test --filter GoldenTests")
                continue
            }
            if let difference = firstDifference(expected: expected, actual: actual) {
                let refresh = "refresh with GOLDEN_UPDATE=1 swift test --filter GoldenTests if intended"
                Issue.record("\(name) differs from Golden/\(name).golden (\(refresh))\n\(difference)")
            }
        }
    }

    @Test("The Golden folder holds one golden file per generated file and nothing stale", .enabled(if: !isUpdating))
    func noStaleGoldenFiles() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: goldenDirectory.path).filter { $0.hasSuffix(".golden") }
        #expect(names.sorted() == Generator.outputFiles.map { $0 + ".golden" }.sorted())
    }

    @Test("The golden document exercises the features the snippet tests cover")
    func goldenDocumentCoversTheFeatures() throws {
        // Guards against the golden spec being trimmed until it no longer tests anything.
        let spec = try String(contentsOf: goldenDirectory.appendingPathComponent("petstore.yaml"), encoding: .utf8)
        let files = try generate(spec, file: "petstore.yaml")
        let all = Generator.outputFiles.compactMap { files[$0] }.joined(separator: "\n")
        for fragment in [
            "JSONLinesBody<PetEvent>", "ServerSentEventsBody", "case html(String)", "case yaml(String)", "decodeDiscriminator",
            "rejectUnknownKeys", "decodeRequiredNullable", "decodeAdditionalProperties", "container.validate(", "kind: .oauth2",
            "kind: .httpBearer", "kind: .apiKeyHeader(name: \\\"X-API-Key\\\")", "security: []", "public var rawBody: ByteBuffer",
            "ParameterDecoding.array(", "request.headers.parameter(named:", "context.parameters.get(", "case undocumented(status: Int",
            "fields.setParameter(", "bodyLimit: 65536", "application/x-www-form-urlencoded",
            "throw decoder.noneOfMatched(\\\"StaffMember, AdopterName\\\", failures: failures)", "case v2_0 = \\\"2.0\\\"",
        ] {
            #expect(all.contains(fragment.replacingOccurrences(of: "\\\"", with: "\"")), "golden output lacks \(fragment)")
        }
    }

    @Test("The line diff shows the first differing line with context")
    func lineDiff() {
        #expect(firstDifference(expected: "a\nb\n", actual: "a\nb\n") == nil)
        let difference = firstDifference(expected: "one\ntwo\nthree\nfour", actual: "one\ntwo\nTHREE\nfour")
        #expect(
            difference
                == """
                first difference at line 3, column 1 (expected 4 lines, got 4):
                      1 | one
                      2 | two
                -     3 | three
                +     3 | THREE
                      4 | four
                """
        )
        let missingLine = firstDifference(expected: "a\nb", actual: "a")
        #expect(missingLine?.contains("-     2 | b") == true)
        #expect(missingLine?.contains("+     2 | <end of file>") == true)
        let long = String(repeating: "x", count: 500)
        let clipped = firstDifference(expected: long + "a" + long, actual: long + "b" + long)
        #expect(clipped?.contains("column 501") == true)
        #expect((clipped?.count ?? 0) < 600, "long lines are shown around the difference only")
    }
}

/// A small line diff: the first line where `actual` departs from `expected`, with two lines of
/// context, or `nil` when they are equal. Long lines are clipped around the first differing column.
func firstDifference(expected: String, actual: String, context: Int = 2) -> String? {
    guard expected != actual else { return nil }
    let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var index = 0
    while index < expectedLines.count, index < actualLines.count, expectedLines[index] == actualLines[index] { index += 1 }
    let expectedLine = index < expectedLines.count ? expectedLines[index] : nil
    let actualLine = index < actualLines.count ? actualLines[index] : nil
    let column = zip(expectedLine ?? "", actualLine ?? "").prefix { $0 == $1 }.count + 1

    func clip(_ line: String) -> String {
        guard line.count > 160 else { return line }
        let start = max(0, column - 60)
        let window = line.dropFirst(start).prefix(160)
        return (start > 0 ? "…" : "") + window + (start + window.count < line.count ? "…" : "")
    }
    func row(_ mark: String, _ number: Int, _ text: String?) -> String {
        let label = String(number)
        return mark + String(repeating: " ", count: max(0, 6 - label.count)) + label + " | " + (text.map(clip) ?? "<end of file>")
    }

    var rows = ["first difference at line \(index + 1), column \(column) (expected \(expectedLines.count) lines, got \(actualLines.count)):"]
    for before in max(0, index - context)..<index { rows.append(row(" ", before + 1, expectedLines[before])) }
    rows.append(row("-", index + 1, expectedLine))
    rows.append(row("+", index + 1, actualLine))
    if index + 1 < expectedLines.count {
        for after in (index + 1)..<min(expectedLines.count, index + 1 + context) { rows.append(row(" ", after + 1, expectedLines[after])) }
    }
    return rows.joined(separator: "\n")
}
