import Foundation
import OpenAPICodegen
import Testing

// Helpers shared by the generator tests. Only the public API of OpenAPICodegen is used, so the
// tests also build without `@testable` (e.g. `swift test -c release`).

/// Runs the whole pipeline on `yaml`, as the CLI does.
func generate(_ yaml: String, file: String = "openapi.yaml") throws -> [String: String] {
    try Generator(file: file).generate(yaml: yaml)
}

/// Every diagnostic the pipeline reports for `yaml`, in the order reported; empty when it succeeds.
func diagnostics(of yaml: String, file: String = "openapi.yaml", sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Diagnostic] {
    do {
        _ = try generate(yaml, file: file)
        return []
    } catch let list as DiagnosticList {
        return list.diagnostics
    } catch let diagnostic as Diagnostic {
        return [diagnostic]
    } catch {
        Issue.record("expected a Diagnostic or a DiagnosticList, got \(error)", sourceLocation: sourceLocation)
        return []
    }
}

/// The only diagnostic reported for `yaml`; records an issue (listing them all) when there is not exactly one.
func onlyDiagnostic(of yaml: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Diagnostic {
    let found = diagnostics(of: yaml, sourceLocation: sourceLocation)
    let listed = found.map(\.description).joined(separator: "\n")
    #expect(found.count == 1, "expected exactly one diagnostic, got:\n\(listed)", sourceLocation: sourceLocation)
    return try #require(found.first, sourceLocation: sourceLocation)
}

/// Expects `diagnostic` at `line:column` with a message containing every fragment.
func expect(
    _ diagnostic: Diagnostic,
    at line: Int,
    _ column: Int,
    says fragments: String...,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(
        "\(diagnostic.location.line):\(diagnostic.location.column)" == "\(line):\(column)",
        "diagnostic: \(diagnostic)",
        sourceLocation: sourceLocation
    )
    for fragment in fragments {
        #expect(diagnostic.message.contains(fragment), "'\(fragment)' not in: \(diagnostic.message)", sourceLocation: sourceLocation)
    }
}

/// Parses YAML the way the generator does.
func parseYAML(_ text: String) throws -> YAMLNode {
    try YAMLParser(file: "test.yaml").parse(text)
}

/// The diagnostic `YAMLParser` throws for `text`, or `nil` when it parses (or throws something else).
func yamlDiagnostic(_ text: String) -> Diagnostic? {
    do {
        _ = try parseYAML(text)
        return nil
    } catch {
        return error as? Diagnostic
    }
}

// MARK: - Looking at generated text

/// The lines of `text` with surrounding whitespace removed.
func trimmedLines(_ text: String) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
}

/// Expects a line of `text` that is exactly `line` once indentation is ignored.
func expectLine(_ line: String, in text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let lines = trimmedLines(text)
    if lines.contains(line) { return }
    // Show the lines that look closest, to make the failure readable.
    let words = line.split(separator: " ").prefix(3).joined(separator: " ")
    let near = lines.filter { !words.isEmpty && $0.contains(words) }.prefix(5)
    let similar: String = near.isEmpty ? "(no similar line)" : "similar lines:\n" + near.joined(separator: "\n")
    Issue.record("line not found: \(line)\n\(similar)", sourceLocation: sourceLocation)
}

/// Expects that no line of `text` contains `fragment`.
func expectNoLine(containing fragment: String, in text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let hits = trimmedLines(text).filter { $0.contains(fragment) }
    #expect(hits.isEmpty, "unexpected lines containing '\(fragment)':\n\(hits.joined(separator: "\n"))", sourceLocation: sourceLocation)
}

/// The declaration whose first line (indentation ignored) starts with `header`, from that line to
/// its closing brace; `nil` when there is none. Braces inside string literals are not counted.
func declaration(_ header: String, in text: String) -> String? {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(header) }) else { return nil }
    var depth = 0
    var opened = false
    var collected: [Substring] = []
    for line in lines[start...] {
        collected.append(line)
        var inString = false
        var escaped = false
        for character in line {
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
                continue
            }
            switch character {
            case "\"": inString = true
            case "{":
                depth += 1
                opened = true
            case "}": depth -= 1
            default: break
            }
        }
        if opened && depth <= 0 { break }
        if !opened { break }  // a one-line declaration without a body
    }
    return collected.joined(separator: "\n")
}

/// Every declaration whose first line (indentation ignored) starts with `header`, each up to its closing brace.
func declarations(startingWith header: String, in text: String) -> [String] {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return lines.indices.compactMap { index in
        guard lines[index].trimmingCharacters(in: .whitespaces).hasPrefix(header) else { return nil }
        return declaration(header, in: lines[index...].joined(separator: "\n"))
    }
}

/// Like ``declaration(_:in:)`` but records an issue when the declaration is missing.
func requireDeclaration(_ header: String, in text: String?, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
    let text = try #require(text, "no such file", sourceLocation: sourceLocation)
    return try #require(declaration(header, in: text), "no declaration starting with '\(header)'", sourceLocation: sourceLocation)
}

/// `text` with every line indented by `spaces`.
func indented(_ text: String, by spaces: Int) -> String {
    let pad = String(repeating: " ", count: spaces)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
}

// MARK: - Documents

/// A complete, valid document around the given `paths` and `components.schemas` entries.
///
/// It declares the three supported kinds of security scheme (the oauth2 one is needed for the GPT
/// Actions view), the reusable responses 400/401/413 and a `Problem` schema they use.
func snippetSpec(paths: String? = nil, schemas: String? = nil, security: String? = nil) -> String {
    var text = """
        openapi: 3.1.0
        info:
          title: Snippets
          version: "1"

        """
    if let security { text += "security:\n" + indented(security, by: 2) + "\n" }
    if let paths {
        text += "paths:\n" + indented(paths, by: 2) + "\n"
    } else {
        text += "paths: {}\n"
    }
    text += """
        components:
          securitySchemes:
            ApiKeyAuth:
              type: apiKey
              in: header
              name: X-API-Key
            BearerAuth:
              type: http
              scheme: bearer
            OAuth2:
              type: oauth2
              flows:
                authorizationCode:
                  authorizationUrl: /oauth/authorize
                  tokenUrl: /oauth/token
                  scopes:
                    read: Read things.
                    write: Write things.
          responses:
            BadRequest:
              description: Malformed request.
              content:
                application/json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            Unauthorized:
              description: Missing or invalid credentials.
              content:
                application/json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            ContentTooLarge:
              description: Body too large.
              content:
                application/json:
                  schema:
                    $ref: "#/components/schemas/Problem"
          schemas:
            Problem:
              type: object
              required: [message]
              properties:
                message:
                  type: string

        """
    if let schemas { text += indented(schemas, by: 4) + "\n" }
    return text
}

/// The folder of golden files, beside this source file (works through a symlinked test folder too).
let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

/// The product's `openapi.yaml`, two folders above this file in the package.
func productSpecURL() -> URL {
    let here = URL(fileURLWithPath: #filePath)
    let candidates = [here, here.resolvingSymlinksInPath()].map {
        $0.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("openapi.yaml")
    }
    return candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
}
