import OpenAPICodegen
import Testing

@Suite("YAML layer")
struct YAMLParserTests {
    static let sample = """
        name: demo
        count: 42
        quoted: "42"
        ratio: 3.5
        empty: null
        tilde: ~
        flag: true
        nothing:
        negative: -7
        version: 0.1.0
        single: 'true'
        nested:
          inner:
            deep_key: value
        list:
          - a
          - 'b'
        """

    @Test("Mappings keep their keys in document order")
    func mappingsKeepKeyOrder() throws {
        let root = try parseYAML(Self.sample)
        guard case .mapping(let pairs, _) = root else {
            Issue.record("root is \(root.kindName)")
            return
        }
        #expect(
            pairs.map(\.key.value)
                == ["name", "count", "quoted", "ratio", "empty", "tilde", "flag", "nothing", "negative", "version", "single", "nested", "list"]
        )
        guard case .object(let values) = DocumentValue(root) else {
            Issue.record("root is not an object")
            return
        }
        #expect(values.map(\.0) == pairs.map(\.key.value))
    }

    @Test("Nodes report their kind: scalars, mappings and sequences")
    func nodeKinds() throws {
        let root = try parseYAML(Self.sample)
        #expect(root.kindName == "a mapping")
        #expect(root["name"]?.kindName == "a scalar")
        #expect(root["nested"]?.kindName == "a mapping")
        #expect(root["list"]?.kindName == "a sequence")
        #expect(root["nested"]?["inner"]?["deep_key"]?.scalarValue == "value")
        #expect(root["missing"] == nil)
        #expect(root["list"]?["a"] == nil, "a sequence has no keys")
    }

    @Test("Plain scalars resolve with the YAML 1.2 core schema, quoted ones stay strings")
    func scalarResolution() throws {
        let value = DocumentValue(try parseYAML(Self.sample))
        #expect(value["name"] == .string("demo"))
        #expect(value["count"] == .integer(42))
        #expect(value["quoted"] == .string("42"))
        #expect(value["ratio"] == .number(3.5))
        #expect(value["empty"] == .null)
        #expect(value["tilde"] == .null)
        #expect(value["flag"] == .bool(true))
        #expect(value["nothing"] == .null, "an empty plain value is null")
        #expect(value["negative"] == .integer(-7))
        #expect(value["version"] == .string("0.1.0"), "a version number is not a float")
        #expect(value["single"] == .string("true"), "single-quoted is a string")
        #expect(value["list"] == .array([.string("a"), .string("b")]))
        #expect(value["nested"] == .object([("inner", .object([("deep_key", .string("value"))]))]))
    }

    @Test("Scalars remember whether they were quoted")
    func scalarsRememberQuoting() throws {
        let root = try parseYAML(Self.sample)
        guard case .scalar(let plain)? = root["count"], case .scalar(let quoted)? = root["quoted"] else {
            Issue.record("expected scalars")
            return
        }
        #expect(plain.isPlain && plain.value == "42")
        #expect(!quoted.isPlain && quoted.value == "42")
    }

    @Test("Every node knows the line and column it was written at")
    func sourceLocations() throws {
        let root = try parseYAML(Self.sample)
        guard case .mapping(let nested, let nestedLocation)? = root["nested"]?["inner"] else {
            Issue.record("nested.inner is not a mapping")
            return
        }
        let key = try #require(nested.first?.key)
        #expect(key.value == "deep_key")
        #expect(key.location.description == "14:5")
        #expect(nestedLocation.description == "14:5", "a block mapping starts at its first key")
        #expect(root["nested"]?["inner"]?["deep_key"]?.location.description == "14:15")
        #expect(root["list"]?.location.description == "16:3", "a block sequence starts at its first dash")
        #expect(root["quoted"]?.location.description == "3:9", "a quoted scalar starts at its opening quote")
        #expect(root.location.description == "1:1")
    }

    @Test("A duplicate key is refused where it is repeated, naming the first occurrence")
    func duplicateKey() throws {
        let diagnostic = try #require(
            yamlDiagnostic(
                """
                a: 1
                b:
                  c: 1
                  c: 2
                """
            )
        )
        expect(diagnostic, at: 4, 3, says: "duplicate key 'c'", "first defined at line 3")
        #expect(diagnostic.file == "test.yaml")
    }

    @Test("Anchors are refused at the anchor")
    func anchorsAreRefused() throws {
        let onMapping = try #require(
            yamlDiagnostic(
                """
                base: &base
                  x: 1
                copy: 2
                """
            )
        )
        expect(onMapping, at: 1, 7, says: "YAML anchors are not supported", "$ref")
        let onScalar = try #require(yamlDiagnostic("a: 1\nb: &b 2\n"))
        expect(onScalar, at: 2, 4, says: "YAML anchors are not supported")
    }

    @Test("Aliases are refused at the alias")
    func aliasesAreRefused() throws {
        let diagnostic = try #require(yamlDiagnostic("a: 1\nb: *a\n"))
        expect(diagnostic, at: 2, 4, says: "YAML aliases are not supported", "$ref")
    }

    @Test("Tags are refused at the tag, naming it")
    func tagsAreRefused() throws {
        let core = try #require(yamlDiagnostic("a: 1\nb: !!str 42\n"))
        expect(core, at: 2, 4, says: "YAML tag 'tag:yaml.org,2002:str' is not supported")
        let local = try #require(yamlDiagnostic("a:\n  - !thing {x: 1}\n"))
        expect(local, at: 2, 5, says: "YAML tag '!thing' is not supported")
        let onSequence = try #require(yamlDiagnostic("a: !!seq [1]\n"))
        expect(onSequence, at: 1, 4, says: "YAML tag 'tag:yaml.org,2002:seq' is not supported")
    }

    @Test("A syntax error names libyaml's problem at its position")
    func syntaxErrors() throws {
        let unclosed = try #require(yamlDiagnostic("a: [1, 2\nb: 3\n"))
        // In flow context "2 b" would be one multi-line scalar; libyaml stops at the ':' after it.
        expect(unclosed, at: 2, 2, says: "YAML syntax:", "did not find expected ',' or ']'", "while parsing a flow sequence")

        let tab = try #require(yamlDiagnostic("a:\n\tb: 1\n"))
        expect(tab, at: 2, 1, says: "YAML syntax:", "found character that cannot start any token")

        let badIndent = try #require(yamlDiagnostic("a:\n  b: 1\n c: 2\n"))
        expect(badIndent, at: 3, 2, says: "YAML syntax:", "did not find expected key", "while parsing a block mapping")
    }

    @Test("An empty file and a file of several documents are refused")
    func documentCount() throws {
        let empty = try #require(yamlDiagnostic(""))
        expect(empty, at: 1, 1, says: "the document is empty")
        let several = try #require(yamlDiagnostic("a: 1\n---\nb: 2\n"))
        expect(several, at: 1, 1, says: "more than one YAML document")
    }

    @Test("A diagnostic prints as file:line:column: error: message")
    func diagnosticFormat() {
        let diagnostic = Diagnostic(file: "openapi.yaml", location: .init(line: 12, column: 7), message: "something is wrong")
        #expect(diagnostic.description == "openapi.yaml:12:7: error: something is wrong")
        let list = DiagnosticList([
            Diagnostic(file: "f", location: .init(line: 9, column: 1), message: "late"),
            Diagnostic(file: "f", location: .init(line: 2, column: 5), message: "early"),
            Diagnostic(file: "f", location: .init(line: 2, column: 3), message: "earliest"),
        ])
        #expect(list.description == "f:2:3: error: earliest\nf:2:5: error: early\nf:9:1: error: late")
    }

    @Test("Number-like plain scalars resolve to the narrowest JSON value")
    func numberResolution() throws {
        let value = DocumentValue(
            try parseYAML(
                """
                - 0
                - +3
                - -0.5
                - 1e3
                - 1.0
                - 3.5.1
                - 12abc
                - e5
                - "-7"
                - False
                - NULL
                - yes
                """
            )
        )
        #expect(
            value
                == .array([
                    .integer(0), .integer(3), .number(-0.5), .number(1000), .number(1.0), .string("3.5.1"), .string("12abc"),
                    .string("e5"), .string("-7"), .bool(false), .null, .string("yes"),
                ])
        )
    }

    @Test("DocumentValue equality is order-sensitive for objects")
    func objectEqualityIsOrdered() {
        let ab = DocumentValue.object([("a", .integer(1)), ("b", .integer(2))])
        let ba = DocumentValue.object([("b", .integer(2)), ("a", .integer(1))])
        #expect(ab != ba)
        #expect(ab == .object([("a", .integer(1)), ("b", .integer(2))]))
        #expect(DocumentValue.integer(1) != .number(1))
        var edited = ab
        edited["a"] = nil
        edited["c"] = .bool(true)
        #expect(edited == .object([("b", .integer(2)), ("c", .bool(true))]))
    }
}
