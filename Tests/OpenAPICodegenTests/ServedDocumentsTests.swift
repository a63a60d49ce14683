import Foundation
import OpenAPICodegen
import Testing

/// The documents the server publishes: the full contract and the GPT Actions view.
@Suite("Served documents")
struct ServedDocumentsTests {
    static let spec = """
        openapi: 3.1.1
        info:
          title: Served
          version: "2"
        servers:
          - url: http://localhost:9000
            description: Dev.
          - url: http://other.example
        paths:
          /things/{id}:
            parameters:
              - name: id
                in: path
                required: true
                schema: {type: string}
              - name: X-Trace
                in: header
                schema: {type: string}
            get:
              operationId: getThing
              security:
                - ApiKeyAuth: []
              parameters:
                - name: X-Tenant
                  in: header
                  schema: {type: string}
                - name: verbose
                  in: query
                  schema: {type: boolean}
              responses:
                "200":
                  description: The thing.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Thing"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "429": {description: Too many requests.}
            put:
              operationId: putThing
              x-raw-body: true
              x-relay: true
              x-body-limit: 2048
              security:
                - OAuth2: [write]
                - BearerAuth: []
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/ThingUpdate"}
                  application/x-www-form-urlencoded:
                    schema: {$ref: "#/components/schemas/ThingUpdate"}
              responses:
                "204": {description: Saved.}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "429": {description: Too many requests.}
                "413": {$ref: "#/components/responses/ContentTooLarge"}
          /admin:
            delete:
              operationId: purge
              x-gpt-action: false
              responses:
                "204": {description: Purged.}
                "401": {$ref: "#/components/responses/AdminOnly"}
                "429": {description: Too many requests.}
          /status:
            get:
              operationId: status
              security: []
              x-gpt-action: true
              responses:
                "200":
                  description: Status.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          extra:
                            type: object
                          maybe:
                            type: [object, "null"]
                          default:
                            type: object
        security:
          - OAuth2: []
        components:
          securitySchemes:
            ApiKeyAuth: {type: apiKey, in: header, name: X-API-Key}
            BearerAuth: {type: http, scheme: bearer}
            OAuth2:
              type: oauth2
              flows:
                authorizationCode:
                  authorizationUrl: /oauth/authorize
                  tokenUrl: /oauth/token
                  refreshUrl: https://auth.example.com/refresh
                  scopes:
                    write: Write.
          responses:
            BadRequest:
              description: Bad.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Problem"}
            Unauthorized:
              description: Who are you?
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Problem"}
            ContentTooLarge:
              description: Too large.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Problem"}
            AdminOnly:
              description: Admins only.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/AdminProblem"}
          schemas:
            Problem:
              type: object
              required: [message]
              properties:
                message: {type: string}
            AdminProblem:
              type: object
              properties:
                detail: {$ref: "#/components/schemas/Detail"}
            Detail:
              type: string
            Thing:
              type: object
              properties:
                name: {type: string}
                owner: {$ref: "#/components/schemas/Owner"}
                attributes:
                  type: object
                  additionalProperties: {type: string}
              example:
                name: x
                attributes: {type: object}
            ThingUpdate:
              type: object
              properties:
                name: {type: string}
            Owner:
              type: object
            Orphan:
              type: string
        """

    static func derive(_ text: String, file: String = "openapi.yaml") throws -> (source: DocumentValue, documents: ServedDocuments) {
        let root = try YAMLParser(file: file).parse(text)
        var parser = OpenAPIParser(file: file)
        let api = try parser.parse(root)
        return (DocumentValue(root), try ServedDocuments.derive(from: root, api: api, file: file))
    }

    static let placeholder = ServedDocuments.serverURLPlaceholder

    // MARK: Full view

    @Test("The full view serves the placeholder as its one server, keeping the first description")
    func fullViewServer() throws {
        let (_, documents) = try Self.derive(Self.spec)
        #expect(documents.full["servers"] == .array([.object([("url", .string(Self.placeholder)), ("description", .string("Dev."))])]))
    }

    @Test("The full view makes relative OAuth URLs absolute under the placeholder and leaves absolute ones")
    func fullViewOAuthURLs() throws {
        let (_, documents) = try Self.derive(Self.spec)
        let flow = documents.full["components"]?["securitySchemes"]?["OAuth2"]?["flows"]?["authorizationCode"]
        #expect(flow?["authorizationUrl"] == .string(Self.placeholder + "/oauth/authorize"))
        #expect(flow?["tokenUrl"] == .string(Self.placeholder + "/oauth/token"))
        #expect(flow?["refreshUrl"] == .string("https://auth.example.com/refresh"))
    }

    @Test("The full view is otherwise the document as written, in document order")
    func fullViewIsTheDocument() throws {
        let (source, documents) = try Self.derive(Self.spec)
        var restored = documents.full
        restored["servers"] = source["servers"]
        restored["components"]?["securitySchemes"]?["OAuth2"] = source["components"]?["securitySchemes"]?["OAuth2"]
        #expect(restored == source)
    }

    // MARK: GPT view

    @Test("The GPT view is OpenAPI 3.1.0 with the placeholder as its only server")
    func gptViewHeader() throws {
        let gpt = try Self.derive(Self.spec).documents.gpt
        guard case .object(let pairs) = gpt else {
            Issue.record("not an object")
            return
        }
        #expect(pairs.map(\.0) == ["openapi", "info", "servers", "paths", "components", "security"])
        #expect(gpt["openapi"] == .string("3.1.0"))
        #expect(gpt["info"] == .object([("title", .string("Served")), ("version", .string("2"))]))
        #expect(gpt["servers"] == .array([.object([("url", .string(Self.placeholder))])]))
    }

    @Test("The GPT view has exactly one security scheme, the oauth2 one, required at the top")
    func gptViewSecurity() throws {
        let (_, documents) = try Self.derive(Self.spec)
        let gpt = documents.gpt
        guard case .object(let schemes)? = gpt["components"]?["securitySchemes"] else {
            Issue.record("no securitySchemes")
            return
        }
        #expect(schemes.map(\.0) == ["OAuth2"])
        #expect(schemes.first?.1 == documents.full["components"]?["securitySchemes"]?["OAuth2"], "with the absolute URLs of the full view")
        #expect(gpt["security"] == .array([.object([("OAuth2", .array([]))])]))
        // every secured operation asks for the oauth2 scheme with the scopes of all its alternatives
        #expect(gpt["paths"]?["/things/{id}"]?["get"]?["security"] == .array([.object([("OAuth2", .array([]))])]))
        #expect(gpt["paths"]?["/things/{id}"]?["put"]?["security"] == .array([.object([("OAuth2", .array([.string("write")]))])]))
        #expect(gpt["paths"]?["/status"]?["get"]?["security"] == .array([]), "a public operation stays public")
    }

    @Test("The GPT view drops header parameters at path and operation level")
    func gptViewHasNoHeaderParameters() throws {
        let gpt = try Self.derive(Self.spec).documents.gpt
        #expect(gpt["paths"]?["/things/{id}"]?["parameters"]?.arrayNames == ["id"])
        #expect(gpt["paths"]?["/things/{id}"]?["get"]?["parameters"]?.arrayNames == ["verbose"])
        #expect(gpt["paths"]?["/things/{id}"]?["put"]?["parameters"] == nil)
        #expect(allValues(named: "in", in: gpt).allSatisfy { $0 != .string("header") })
    }

    @Test("The GPT view leaves out operations marked x-gpt-action: false, and paths left empty")
    func gptViewExcludesOperations() throws {
        let gpt = try Self.derive(Self.spec).documents.gpt
        guard case .object(let paths)? = gpt["paths"] else {
            Issue.record("no paths")
            return
        }
        #expect(paths.map(\.0) == ["/things/{id}", "/status"])
        #expect(gpt["paths"]?["/things/{id}"]?["get"]?["operationId"] == .string("getThing"))
        #expect(gpt["paths"]?["/things/{id}"]?["put"]?["operationId"] == .string("putThing"))
        #expect(!allValues(named: "operationId", in: gpt).contains(.string("purge")))
    }

    @Test("The GPT view carries none of the generator's own extensions")
    func gptViewHasNoGeneratorExtensions() throws {
        let (_, documents) = try Self.derive(Self.spec)
        for key in ["x-body-limit", "x-raw-body", "x-relay", "x-gpt-action"] {
            #expect(allValues(named: key, in: documents.gpt).isEmpty, "\(key) in the GPT view")
            #expect(!allValues(named: key, in: documents.full).isEmpty, "\(key) is kept in the full view")
        }
    }

    @Test("The GPT view keeps only JSON request bodies")
    func gptViewKeepsJSONBodies() throws {
        let gpt = try Self.derive(Self.spec).documents.gpt
        guard case .object(let content)? = gpt["paths"]?["/things/{id}"]?["put"]?["requestBody"]?["content"] else {
            Issue.record("no request body")
            return
        }
        #expect(content.map(\.0) == ["application/json"])
    }

    @Test("The GPT view prunes components nothing it keeps refers to")
    func gptViewPrunesComponents() throws {
        let gpt = try Self.derive(Self.spec).documents.gpt
        #expect(gpt["components"]?["schemas"]?.keys == ["Problem", "Thing", "ThingUpdate", "Owner"])
        #expect(gpt["components"]?["responses"]?.keys == ["BadRequest", "Unauthorized", "ContentTooLarge"])
        // every remaining $ref resolves inside the view
        for case .string(let reference) in allValues(named: "$ref", in: gpt) {
            let parts = reference.split(separator: "/").map(String.init)
            #expect(parts.count == 4 && gpt[parts[1]]?[parts[2]]?[parts[3]] != nil, "dangling \(reference)")
        }
    }

    @Test("The GPT view gives property-less objects an empty properties, leaving examples alone")
    func gptViewAddsEmptyProperties() throws {
        let gpt = try Self.derive(Self.spec).documents.gpt
        let schemas = gpt["components"]?["schemas"]
        #expect(schemas?["Owner"] == .object([("type", .string("object")), ("properties", .object([]))]))
        #expect(schemas?["Thing"]?["properties"]?["attributes"]?["properties"] == .object([]))
        #expect(schemas?["Thing"]?["example"] == .object([("name", .string("x")), ("attributes", .object([("type", .string("object"))]))]))
        let status = gpt["paths"]?["/status"]?["get"]?["responses"]?["200"]?["content"]?["application/json"]?["schema"]?["properties"]
        #expect(status?["extra"]?["properties"] == .object([]))
        #expect(status?["maybe"]?["properties"] == .object([]), "type: [object, \"null\"] is an object too")
        #expect(status?["default"]?["properties"] == .object([]), "a property named like a keyword is still a schema")
        // and schemas that have properties, or are not objects, are unchanged
        let source = try Self.derive(Self.spec).source
        #expect(schemas?["Problem"] == source["components"]?["schemas"]?["Problem"])
    }

    @Test("The GPT views of the snippet and golden documents keep every invariant")
    func gptInvariants() throws {
        for (name, text) in try Self.allSpecs() {
            let (source, documents) = try Self.derive(text, file: name)
            checkGPTInvariants(documents.gpt, source: source, name: name)
        }
    }

    // MARK: Documents.swift

    @Test("Documents.swift embeds both views as YAML and JSON, with the placeholder and the operation count")
    func documentsFile() throws {
        let (_, documents) = try Self.derive(Self.spec)
        let text = try #require(try generate(Self.spec)["Documents.swift"])
        expectLine("public enum APIDocuments {", in: text)
        expectLine("public static let serverURLPlaceholder = \"https://codex-gateway.invalid\"", in: text)
        expectLine("public static let operationCount = 4", in: text)
        expectLine("public static let yaml = " + SwiftName.literal(DocumentEmitter.yaml(documents.full)), in: text)
        expectLine("public static let json = " + SwiftName.literal(DocumentEmitter.json(documents.full)), in: text)
        expectLine("public static let gptYAML = " + SwiftName.literal(DocumentEmitter.yaml(documents.gpt)), in: text)
        expectLine("public static let gptJSON = " + SwiftName.literal(DocumentEmitter.json(documents.gpt)), in: text)
        expectNoLine(containing: "import ", in: text)
    }

    // MARK: Emitters

    @Test("Emitted YAML parses back to the same document, for every view of every document")
    func yamlRoundTrip() throws {
        for (name, text) in try Self.allSpecs() {
            let (_, documents) = try Self.derive(text)
            for (view, value) in [("full", documents.full), ("gpt", documents.gpt)] {
                let reparsed = DocumentValue(try parseYAML(DocumentEmitter.yaml(value)))
                #expect(reparsed == value, "\(name) \(view) view changed in a YAML round trip")
            }
        }
    }

    @Test("Emitted JSON is valid JSON with the same values, and keeps key order")
    func jsonRoundTrip() throws {
        for (name, text) in try Self.allSpecs() {
            let (_, documents) = try Self.derive(text)
            for (view, value) in [("full", documents.full), ("gpt", documents.gpt)] {
                let json = DocumentEmitter.json(value)
                let object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
                #expect(jsonMatches(object, value), "\(name) \(view) view: JSONSerialization reads different values")
                // JSON is YAML too: read that way, key order is visible
                #expect(DocumentValue(try parseYAML(json)) == value, "\(name) \(view) view: order or types changed")
            }
        }
    }

    @Test("Strings that look like other YAML values, keys and numbers survive both emitters")
    func trickyValuesRoundTrip() throws {
        let strings = [
            "true", "false", "null", "Null", "~", "", "yes", "No", "on", "OFF", "y", "42", "-7", "+1", "3.5", "1e5", "0x1F", ".inf", "NaN",
            "0.1.0", "1_000", "- item", "-", "a: b", "a:b", "#comment", "x #y", "trailing ", " leading", "multi\nline", "tab\there",
            "quote\"d", "back\\slash", "'single'", "@at", "`tick", "%pct", "!bang", "&amp", "*star", "[x]", "{y}", "/pets/{id}",
            "é ✓ 🐾", "\u{7}bell", "\u{7F}del", "a,b", "?q", "|pipe", ">gt", "e5", "E5", "=", "<<", "a\r\nb", "end:",
            // line breaks to YAML, and a byte order mark, inside a string
            "next\u{85}line", "line\u{2028}separator", "paragraph\u{2029}separator", "\u{FEFF}bom", "nul\u{0}", "no\u{A0}break",
        ]
        let keys = [
            "200", "true", "null", "", "a: b", "$ref", "x-gpt-action", "/pets/{id}", "application/json", "- k", "with space", "a\u{2028}b",
        ]
        let value = DocumentValue.object(
            [("strings", .array(strings.map(DocumentValue.string))), ("keys", .object(keys.map { ($0, .string($0)) }))]
                + [
                    (
                        "numbers",
                        .array([
                            .integer(0), .integer(-12), .integer(Int.max), .number(3.5), .number(-0.25), .number(1e20), .number(1.0),
                            .number(0.1), .number(123456.0),
                        ])
                    ),
                    ("scalars", .array([.null, .bool(true), .bool(false)])),
                    ("empties", .object([("array", .array([])), ("object", .object([])), ("string", .string(""))])),
                    ("nested", .array([.array([.integer(1), .array([])]), .object([("a", .array([.object([("b", .null)])]))]), .object([])])),
                ]
        )
        let reparsedYAML = DocumentValue(try parseYAML(DocumentEmitter.yaml(value)))
        #expect(reparsedYAML == value)
        for (expected, actual) in zip(strings, reparsedYAML["strings"]?.arrayStrings ?? []) where expected != actual {
            Issue.record("YAML changed \(expected.debugDescription) into \(actual.debugDescription)")
        }
        let json = DocumentEmitter.json(value)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        #expect(jsonMatches(object, value))
        #expect(DocumentValue(try parseYAML(json)) == value)
    }

    /// The product's openapi.yaml is checked the same way in ProductDocumentTests.
    @Test("YAML quotes strings that YAML 1.1 readers (PyYAML, importers) would take for booleans, nulls or numbers")
    func yamlQuotesAmbiguousStrings() {
        for text in ["yes", "No", "ON", "off", "y", "N", "true", "False", "null", "Null", "~", "", "42", "3.5", "1e5", "0.1.0", "-x", " x", "x "] {
            #expect(DocumentEmitter.yaml(.object([("k", .string(text))])) == "k: " + DocumentEmitter.quoted(text) + "\n", "\(text.debugDescription)")
        }
        // and leaves ordinary text readable
        for text in ["hello", "Hello, world.", "/pets/{pet_id}", "application/json", "x-gpt-action", "caller's key", "e5"] {
            #expect(DocumentEmitter.yaml(.object([("k", .string(text))])) == "k: \(text)\n", "\(text.debugDescription)")
        }
        #expect(DocumentEmitter.yaml(.object([("200", .object([("description", .string("OK"))]))])) == "\"200\":\n  description: OK\n")
        let list = DocumentValue.object([("list", .array([.object([("a", .integer(1)), ("b", .array([]))])]))])
        #expect(DocumentEmitter.yaml(list) == "list:\n  - a: 1\n    b: []\n")
        let numbers = DocumentValue.object([("a", .array([.integer(1), .number(2.5), .null]))])
        #expect(DocumentEmitter.json(numbers) == "{\n  \"a\": [\n    1,\n    2.5,\n    null\n  ]\n}\n")
    }

    static func allSpecs() throws -> [(String, String)] {
        [
            ("served", spec),
            ("petstore", try String(contentsOf: goldenDirectory.appendingPathComponent("petstore.yaml"), encoding: .utf8)),
        ]
    }
}

// MARK: - Helpers

extension DocumentValue {
    /// The keys of an object, in order.
    var keys: [String]? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.map(\.0)
    }

    /// The `name` of each element of an array of objects.
    var arrayNames: [String]? {
        guard case .array(let items) = self else { return nil }
        return items.compactMap { if case .string(let name)? = $0["name"] { name } else { nil } }
    }

    var arrayStrings: [String]? {
        guard case .array(let items) = self else { return nil }
        return items.compactMap { if case .string(let text) = $0 { text } else { nil } }
    }
}

/// Every value stored under `key`, anywhere in `value`.
func allValues(named key: String, in value: DocumentValue) -> [DocumentValue] {
    switch value {
    case .object(let pairs): pairs.flatMap { ($0.0 == key ? [$0.1] : []) + allValues(named: key, in: $0.1) }
    case .array(let items): items.flatMap { allValues(named: key, in: $0) }
    default: []
    }
}

/// Whether a `JSONSerialization` result holds the same values as `value`.
func jsonMatches(_ json: Any, _ value: DocumentValue) -> Bool {
    switch value {
    case .null: return json is NSNull
    case .bool(let bool): return (json as? Bool) == bool
    case .integer(let integer): return (json as? NSNumber).map { $0.int64Value == Int64(integer) } ?? false
    case .number(let number): return (json as? NSNumber).map { $0.doubleValue == number } ?? false
    case .string(let string): return (json as? String) == string
    case .array(let items):
        guard let array = json as? [Any], array.count == items.count else { return false }
        return zip(array, items).allSatisfy { jsonMatches($0, $1) }
    case .object(let pairs):
        guard let object = json as? [String: Any], object.count == pairs.count else { return false }
        return pairs.allSatisfy { key, item in object[key].map { jsonMatches($0, item) } ?? false }
    }
}

/// What the GPT Actions importer needs, checked on a whole view.
func checkGPTInvariants(_ gpt: DocumentValue, source: DocumentValue, name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(gpt["openapi"] == .string("3.1.0"), "\(name)", sourceLocation: sourceLocation)
    #expect(gpt["servers"] == .array([.object([("url", .string(ServedDocuments.serverURLPlaceholder))])]), "\(name)", sourceLocation: sourceLocation)
    let schemes = gpt["components"]?["securitySchemes"]
    #expect(schemes?.keys?.count == 1, "\(name): one security scheme", sourceLocation: sourceLocation)
    if case .object(let pairs)? = schemes, let (schemeName, scheme) = pairs.first {
        #expect(scheme["type"] == .string("oauth2"), "\(name)", sourceLocation: sourceLocation)
        #expect(gpt["security"] == .array([.object([(schemeName, .array([]))])]), "\(name)", sourceLocation: sourceLocation)
        for requirement in allValues(named: "security", in: gpt["paths"] ?? .null) {
            guard case .array(let alternatives) = requirement else { continue }
            #expect(alternatives.allSatisfy { $0.keys == [schemeName] }, "\(name): \(requirement)", sourceLocation: sourceLocation)
        }
    }
    #expect(allValues(named: "in", in: gpt).allSatisfy { $0 != .string("header") }, "\(name): header parameter", sourceLocation: sourceLocation)
    for key in ["x-body-limit", "x-raw-body", "x-relay", "x-gpt-action"] {
        #expect(allValues(named: key, in: gpt).isEmpty, "\(name): \(key)", sourceLocation: sourceLocation)
    }
    // operations: exactly those of the source not marked x-gpt-action: false
    var expected: [DocumentValue] = []
    if case .object(let paths)? = source["paths"] {
        for (_, item) in paths {
            guard case .object(let operations) = item else { continue }
            for (_, operation) in operations where operation["x-gpt-action"] != .bool(false) {
                if let id = operation["operationId"] { expected.append(id) }
            }
        }
    }
    #expect(allValues(named: "operationId", in: gpt) == expected, "\(name): operations", sourceLocation: sourceLocation)
    // every component kept is referenced, every reference resolves
    let references = Set(allValues(named: "$ref", in: gpt).compactMap { if case .string(let r) = $0 { r } else { nil } })
    for reference in references {
        let parts = reference.split(separator: "/").map(String.init)
        #expect(parts.count == 4 && gpt[parts[1]]?[parts[2]]?[parts[3]] != nil, "\(name): dangling \(reference)", sourceLocation: sourceLocation)
    }
    for section in ["schemas", "responses"] {
        for key in gpt["components"]?[section]?.keys ?? [] {
            #expect(references.contains("#/components/\(section)/\(key)"), "\(name): unreferenced \(section).\(key)", sourceLocation: sourceLocation)
        }
    }
    // every object schema has properties
    func visit(_ value: DocumentValue, path: String) {
        switch value {
        case .object(let pairs):
            let isObject = value["type"] == .string("object") || (value["type"]?.arrayStrings?.contains("object") ?? false)
            if isObject && value["$ref"] == nil {
                #expect(value["properties"] != nil, "\(name): \(path) has no properties", sourceLocation: sourceLocation)
            }
            for (key, item) in pairs where !["example", "examples", "enum", "default"].contains(key) || path.hasSuffix("/properties") {
                visit(item, path: path + "/" + key)
            }
        case .array(let items):
            for (index, item) in items.enumerated() { visit(item, path: path + "/\(index)") }
        default: break
        }
    }
    visit(gpt, path: "#")
}
