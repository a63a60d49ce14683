import OpenAPICodegen
import Testing

/// Snippet tests for `Types.swift`: a few schemas in, the Swift declarations they become out.
@Suite("Schemas → Types.swift")
struct TypesSnippetTests {
    static let conversation = """
        Conversation:
          type: object
          description: A conversation with the agent.
          required: [conversation_id, title, archived_at]
          additionalProperties: false
          properties:
            conversation_id:
              type: string
              minLength: 1
              maxLength: 64
            title:
              type: string
              description: Shown in lists.
            archived_at:
              type: [string, "null"]
            note:
              type: [string, "null"]
            turn_count:
              type: integer
              minimum: 0
              maximum: 1000
            temperature:
              type: number
              minimum: 0
              maximum: 2
            tags:
              type: array
              minItems: 1
              items:
                type: string
            metadata:
              type: object
            status:
              type: string
              enum: [open, closed, in_progress]
            retry:
              type: boolean
        """

    static func types(_ schemas: String) throws -> String {
        try #require(try generate(snippetSpec(schemas: schemas))["Types.swift"])
    }

    @Test("An object schema becomes a struct with camelCase fields and snake_case CodingKeys raw values")
    func objectBecomesStruct() throws {
        let types = try Self.types(Self.conversation)
        expectLine("/// A conversation with the agent.", in: types)
        let conversation = try requireDeclaration("public struct Conversation:", in: types)
        expectLine("public struct Conversation: Codable, Hashable, Sendable {", in: conversation)
        expectLine("public var conversationID: String", in: conversation)
        expectLine("/// Shown in lists.", in: conversation)
        expectLine("public var title: String", in: conversation)
        expectLine("public var turnCount: Int?", in: conversation)
        expectLine("public var temperature: Double?", in: conversation)
        expectLine("public var tags: [String]?", in: conversation)
        expectLine("public var retry: Bool?", in: conversation)

        let keys = try requireDeclaration("public enum CodingKeys:", in: conversation)
        #expect(
            trimmedLines(keys) == [
                "public enum CodingKeys: String, CodingKey, CaseIterable {",
                "case conversationID = \"conversation_id\"",
                "case title",
                "case archivedAt = \"archived_at\"",
                "case note",
                "case turnCount = \"turn_count\"",
                "case temperature",
                "case tags",
                "case metadata",
                "case status",
                "case retry",
                "}",
            ]
        )
    }

    @Test("Required, optional and nullable properties decode and encode differently")
    func requiredOptionalNullable() throws {
        let conversation = try requireDeclaration("public struct Conversation:", in: try Self.types(Self.conversation))
        // required, not nullable
        expectLine("self.conversationID = try container.decode(String.self, forKey: .conversationID)", in: conversation)
        expectLine("try container.encode(self.conversationID, forKey: .conversationID)", in: conversation)
        // required and nullable: the key must be present, null allowed, and null is written back
        expectLine("public var archivedAt: String?", in: conversation)
        expectLine("self.archivedAt = try container.decodeRequiredNullable(String.self, forKey: .archivedAt)", in: conversation)
        expectLine("try container.encode(self.archivedAt, forKey: .archivedAt)", in: conversation)
        // optional (and nullable): may be absent
        expectLine("public var note: String?", in: conversation)
        expectLine("self.note = try container.decodeIfPresent(String.self, forKey: .note)", in: conversation)
        expectLine("try container.encodeIfPresent(self.note, forKey: .note)", in: conversation)
        // the memberwise initialiser defaults only what may be absent or null
        expectLine(
            "public init(conversationID: String, title: String, archivedAt: String? = nil, note: String? = nil, turnCount: Int? = nil, "
                + "temperature: Double? = nil, tags: [String]? = nil, metadata: [String: JSONValue]? = nil, status: Status? = nil, retry: Bool? = nil) {",
            in: conversation
        )
    }

    @Test("A string with 'not: {enum: [...]}' is validated to be none of those values")
    func notEnumBecomesExclusion() throws {
        let types = try Self.types("""
            HostedTool:
              type: object
              required: [type]
              properties:
                type:
                  type: string
                  not:
                    enum: [function, custom]
            """)
        let tool = try requireDeclaration("public struct HostedTool:", in: types)
        expectLine("try container.validate(self.type, excluding: [\"function\", \"custom\"], forKey: .type)", in: tool)
    }

    @Test("A string's pattern is validated after decoding")
    func patternBecomesValidation() throws {
        let types = try Self.types("""
            Workspace:
              type: object
              properties:
                name:
                  type: string
                  pattern: '^[a-z]+$'
            """)
        let workspace = try requireDeclaration("public struct Workspace:", in: types)
        expectLine("try container.validate(self.name, matching: \"^[a-z]+$\", forKey: .name)", in: workspace)
    }

    @Test("Length, range and count limits become validate calls after decoding")
    func constraintsBecomeValidation() throws {
        let conversation = try requireDeclaration("public struct Conversation:", in: try Self.types(Self.conversation))
        expectLine("try container.validate(self.conversationID, length: 1...64, forKey: .conversationID)", in: conversation)
        expectLine("try container.validate(self.turnCount, within: 0...1000, forKey: .turnCount)", in: conversation)
        expectLine("try container.validate(self.temperature, within: 0.0...2.0, forKey: .temperature)", in: conversation)
        expectLine("try container.validate(self.tags, count: 1..., forKey: .tags)", in: conversation)
        let validations = trimmedLines(conversation).filter { $0.hasPrefix("try container.validate(") }
        #expect(validations.count == 4, "only constrained properties are validated: \(validations)")
    }

    @Test("One-sided limits become partial ranges")
    func oneSidedLimits() throws {
        let types = try Self.types(
            """
            Limits:
              type: object
              properties:
                short:
                  type: string
                  maxLength: 10
                positive:
                  type: integer
                  minimum: 1
                few:
                  type: array
                  maxItems: 3
                  items:
                    type: integer
            """
        )
        expectLine("try container.validate(self.short, length: ...10, forKey: .short)", in: types)
        expectLine("try container.validate(self.positive, within: 1..., forKey: .positive)", in: types)
        expectLine("try container.validate(self.few, count: ...3, forKey: .few)", in: types)
    }

    @Test("additionalProperties: false rejects unknown keys, listing the known ones")
    func additionalPropertiesFalse() throws {
        let conversation = try requireDeclaration("public struct Conversation:", in: try Self.types(Self.conversation))
        expectLine(
            "try decoder.rejectUnknownKeys(known: [\"conversation_id\", \"title\", \"archived_at\", \"note\", \"turn_count\", \"temperature\", "
                + "\"tags\", \"metadata\", \"status\", \"retry\"])",
            in: conversation
        )
        let lenient = try Self.types(
            """
            Lenient:
              type: object
              properties:
                name:
                  type: string
            """
        )
        expectNoLine(containing: "rejectUnknownKeys", in: lenient)
    }

    @Test("A string enum becomes a String enum usable as a parameter, with raw values where names differ")
    func stringEnum() throws {
        let conversation = try requireDeclaration("public struct Conversation:", in: try Self.types(Self.conversation))
        expectLine("public var status: Status?", in: conversation)
        let status = try requireDeclaration("public enum Status:", in: conversation)
        #expect(
            trimmedLines(status).filter { !$0.isEmpty } == [
                "public enum Status: String, Codable, Hashable, Sendable, CaseIterable, ParameterValue {",
                "case `open`",  // a contextual keyword, escaped to be safe
                "case closed",
                "case inProgress = \"in_progress\"",
                "public init(from decoder: any Decoder) throws {",
                "self = try decoder.decodeEnumeration(Self.self)",
                "}",
                "}",
            ]
        )
        let named = try Self.types(
            """
            Color:
              type: string
              description: A colour.
              enum: [red, dark-blue, "default"]
            """
        )
        expectLine("public enum Color: String, Codable, Hashable, Sendable, CaseIterable, ParameterValue {", in: named)
        expectLine("case darkBlue = \"dark-blue\"", in: named)
        expectLine("case `default`", in: named)
    }

    @Test("A nullable enum drops null from its cases and makes the property optional")
    func nullableEnum() throws {
        let types = try Self.types(
            """
            Light:
              type: object
              required: [state]
              properties:
                state:
                  type: [string, "null"]
                  enum: [on, off, null]
            """
        )
        expectLine("public var state: State?", in: types)
        expectLine("self.state = try container.decodeRequiredNullable(State.self, forKey: .state)", in: types)
        let state = try requireDeclaration("public enum State:", in: types)
        #expect(trimmedLines(state).filter { $0.hasPrefix("case ") } == ["case on", "case off"])
    }

    @Test("A schema without a type is any JSON value; a free-form object is an object of any values")
    func freeFormSchemas() throws {
        let types = try Self.types(
            Self.conversation + "\n"
                + """
                Anything: {}
                Bag:
                  type: object
                Event:
                  type: object
                  properties:
                    id:
                      description: Anything, and null is told apart from absent.
                """
        )
        // `type: object` without properties: `true` or `[]` is a decoding error, not a value
        expectLine("public var metadata: [String: JSONValue]?", in: types)
        expectLine("self.metadata = try container.decodeIfPresent([String: JSONValue].self, forKey: .metadata)", in: types)
        let bag = try requireDeclaration("public struct Bag:", in: types)
        expectLine("self.additionalProperties = try decoder.decodeAdditionalProperties(JSONValue.self, known: [])", in: bag)
        // no type at all: any JSON value, an explicit null kept as `.null`
        expectLine("public typealias Anything = JSONValue", in: types)
        let event = try requireDeclaration("public struct Event:", in: types)
        expectLine("public var id: JSONValue?", in: event)
        expectLine("self.id = try container.decodeFreeFormIfPresent(forKey: .id)", in: event)
    }

    @Test("Typed additionalProperties become a dictionary, inline, alone or beside properties")
    func typedAdditionalProperties() throws {
        let types = try Self.types(
            """
            Labels:
              type: object
              additionalProperties:
                type: string
            Settings:
              type: object
              required: [name]
              properties:
                name:
                  type: string
                counts:
                  type: object
                  additionalProperties:
                    type: [integer, "null"]
              additionalProperties:
                type: integer
            """
        )
        // A named schema of only additionalProperties is a struct around the dictionary.
        let labels = try requireDeclaration("public struct Labels:", in: types)
        expectLine("public var additionalProperties: [String: String]", in: labels)
        expectLine("self.additionalProperties = try decoder.decodeAdditionalProperties(String.self, known: [])", in: labels)
        // Inline, it is the dictionary itself.
        expectLine("public var counts: [String: Int?]?", in: types)
        let settings = try requireDeclaration("public struct Settings:", in: types)
        expectLine("public var additionalProperties: [String: Int]", in: settings)
        expectLine("public init(name: String, counts: [String: Int?]? = nil, additionalProperties: [String: Int] = [:]) {", in: settings)
        expectLine("self.additionalProperties = try decoder.decodeAdditionalProperties(Int.self, known: [\"name\", \"counts\"])", in: settings)
        expectLine("try encoder.encodeAdditionalProperties(self.additionalProperties)", in: settings)
        // additionalProperties stays out of CodingKeys: it is not a key of the JSON object
        let keys = try requireDeclaration("public enum CodingKeys:", in: settings)
        expectNoLine(containing: "additionalProperties", in: keys)
    }

    @Test("Arrays map to Swift arrays; inline item objects become nested types")
    func arrays() throws {
        let types = try Self.types(
            """
            Names:
              type: array
              items:
                type: string
            Gaps:
              type: array
              items:
                type: [integer, "null"]
            Order:
              type: object
              required: [lines]
              properties:
                lines:
                  type: array
                  items:
                    type: object
                    required: [sku]
                    properties:
                      sku:
                        type: string
                related:
                  type: array
                  items:
                    $ref: "#/components/schemas/Names"
            """
        )
        expectLine("public typealias Names = [String]", in: types)
        expectLine("public typealias Gaps = [Int?]", in: types)
        let order = try requireDeclaration("public struct Order:", in: types)
        expectLine("public var lines: [LinesItem]", in: order)
        expectLine("public var related: [Names]?", in: order)
        let item = try requireDeclaration("public struct LinesItem:", in: order)
        expectLine("public var sku: String", in: item)
    }

    @Test("oneOf with a discriminator becomes an enum decoded by the discriminator's value")
    func oneOfWithDiscriminator() throws {
        let types = try Self.types(
            """
            Pet:
              description: A cat or a dog.
              oneOf:
                - $ref: "#/components/schemas/Cat"
                - $ref: "#/components/schemas/Dog"
              discriminator:
                propertyName: kind
                mapping:
                  feline: "#/components/schemas/Cat"
            Cat:
              type: object
              required: [kind]
              properties:
                kind:
                  type: string
                  enum: [feline]
            Dog:
              type: object
              required: [kind]
              properties:
                kind:
                  type: string
            """
        )
        let pet = try requireDeclaration("public enum Pet:", in: types)
        expectLine("/// A cat or a dog.", in: types)
        expectLine("public enum Pet: Codable, Hashable, Sendable {", in: pet)
        // the mapping names Cat's tag; Dog, unmapped, is tagged by its schema name
        expectLine("case feline(Cat)", in: pet)
        expectLine("case dog(Dog)", in: pet)
        expectLine("public static let discriminator = \"kind\"", in: pet)
        expectLine("switch try decoder.decodeDiscriminator(Self.discriminator, expecting: [\"feline\", \"Dog\"]) {", in: pet)
        expectLine("case \"feline\": self = .feline(try Cat(from: decoder))", in: pet)
        expectLine("case \"Dog\": self = .dog(try Dog(from: decoder))", in: pet)
        expectLine("case .feline(let value): try value.encode(to: encoder)", in: pet)
    }

    @Test("oneOf without a discriminator becomes an enum that tries its members in document order")
    func oneOfWithoutDiscriminator() throws {
        let types = try Self.types(
            """
            Reply:
              description: A structured answer or plain text.
              oneOf:
                - $ref: "#/components/schemas/StructuredAnswer"
                - $ref: "#/components/schemas/plain_text"
            StructuredAnswer:
              type: object
              required: [answer]
              additionalProperties: false
              properties:
                answer:
                  type: string
            plain_text:
              type: string
            Message:
              type: object
              required: [content]
              properties:
                content:
                  oneOf:
                    - $ref: "#/components/schemas/plain_text"
                    - $ref: "#/components/schemas/Reply"
            """
        )
        expectLine("/// A structured answer or plain text.", in: types)
        let reply = try requireDeclaration("public enum Reply:", in: types)
        // one case per member, named after its schema; members are tried in the order written,
        // not in name order, and the error names them all when none decodes
        #expect(
            trimmedLines(reply).filter { !$0.isEmpty } == [
                "public enum Reply: Codable, Hashable, Sendable {",
                "case structuredAnswer(StructuredAnswer)",
                "case plainText(PlainText)",
                "/// Without a discriminator the members are tried in order; the first that decodes wins.",
                "public init(from decoder: any Decoder) throws {",
                "var failures: [any Error] = []",
                "do { self = .structuredAnswer(try StructuredAnswer(from: decoder)); return } catch { failures.append(error) }",
                "do { self = .plainText(try PlainText(from: decoder)); return } catch { failures.append(error) }",
                "throw decoder.noneOfMatched(\"StructuredAnswer, plain_text\", failures: failures)",
                "}",
                "public func encode(to encoder: any Encoder) throws {",
                "switch self {",
                "case .structuredAnswer(let value): try value.encode(to: encoder)",
                "case .plainText(let value): try value.encode(to: encoder)",
                "}",
                "}",
                "}",
            ]
        )
        expectNoLine(containing: "static let discriminator", in: reply)
        expectNoLine(containing: "decodeDiscriminator", in: reply)
        // a member need not be an object: PlainText is a String
        expectLine("public typealias PlainText = String", in: types)

        // inline, as a property, it is a nested enum named after the property
        let message = try requireDeclaration("public struct Message:", in: types)
        expectLine("public var content: Content", in: message)
        expectLine("self.content = try container.decode(Content.self, forKey: .content)", in: message)
        let content = try requireDeclaration("public enum Content: Codable, Hashable, Sendable {", in: message)
        #expect(
            trimmedLines(content).filter { $0.hasPrefix("case ") || $0.hasPrefix("do ") || $0.hasPrefix("throw ") } == [
                "case plainText(PlainText)",
                "case reply(Reply)",
                "do { self = .plainText(try PlainText(from: decoder)); return } catch { failures.append(error) }",
                "do { self = .reply(try Reply(from: decoder)); return } catch { failures.append(error) }",
                "throw decoder.noneOfMatched(\"plain_text, Reply\", failures: failures)",
                "case .plainText(let value): try value.encode(to: encoder)",
                "case .reply(let value): try value.encode(to: encoder)",
            ]
        )
    }

    @Test("Enum values that start with a digit get a v prefix, other characters becoming _")
    func enumValuesStartingWithDigits() throws {
        let types = try Self.types(
            """
            APIVersion:
              type: string
              enum: ["2.0", "2-0", "10", "3rd", v1, "1", beta, "in_progress"]
            """
        )
        let version = try requireDeclaration("public enum APIVersion:", in: types)
        #expect(
            trimmedLines(version).filter { $0.hasPrefix("case ") } == [
                "case v2_0 = \"2.0\"",
                "case v2_0_ = \"2-0\"",  // the same name again gets an underscore
                "case v10 = \"10\"",
                "case v3rd = \"3rd\"",
                "case v1",
                "case v1_ = \"1\"",  // "1" would take the name of v1
                "case beta",
                "case inProgress = \"in_progress\"",  // values that start with a letter are named as before
            ]
        )
        // only enum cases: other names that start with a digit keep the underscore
        #expect(SwiftName.member("2fa") == "_2fa")
    }

    @Test("Properties named type, protocol and self get names Swift accepts")
    func propertyNamedType() throws {
        let types = try Self.types(
            """
            Event:
              type: object
              required: [type]
              properties:
                type:
                  type: string
                  enum: [created, deleted]
                protocol:
                  type: object
                  properties:
                    version:
                      type: integer
                self:
                  type: string
                  enum: [self, other]
            """
        )
        let event = try requireDeclaration("public struct Event:", in: types)
        expectLine("public var type: Type_", in: event)
        expectLine("self.type = try container.decode(Type_.self, forKey: .type)", in: event)
        expectLine("public enum Type_: String, Codable, Hashable, Sendable, CaseIterable, ParameterValue {", in: event)
        expectLine("public var `protocol`: Protocol_?", in: event)
        expectLine("public struct Protocol_: Codable, Hashable, Sendable {", in: event)
        // `self` cannot be escaped with backticks: an initialiser parameter `self` hides the instance
        expectLine("public var self_: Self_?", in: event)
        expectLine("case self_ = \"self\"", in: event)
        expectLine("self.self_ = self_", in: event)
        expectLine("public enum Self_: String, Codable, Hashable, Sendable, CaseIterable, ParameterValue {", in: event)
        expectLine("public init(type: Type_, `protocol`: Protocol_? = nil, self_: Self_? = nil) {", in: event)
        for reserved in ["public enum Type:", "public struct Protocol:", "public enum Self:", "`self`"] {
            expectNoLine(containing: reserved, in: types)
        }
        #expect(SwiftName.type("type") == "Type_")
        #expect(SwiftName.type("self") == "Self_")
        #expect(SwiftName.type("types") == "Types")
    }

    @Test("Schemas are declared in name order whatever the document order")
    func schemasAreSorted() throws {
        let types = try Self.types(
            """
            Zebra:
              type: string
            Apple:
              type: integer
            """
        )
        let declarations = trimmedLines(types).filter { $0.hasPrefix("public typealias") || $0.hasPrefix("public struct") }
        #expect(
            declarations == [
                "public typealias Apple = Int", "public struct Problem: Codable, Hashable, Sendable {", "public typealias Zebra = String",
            ]
        )
    }

    @Test("Names follow the API Design Guidelines: uniform acronyms, escaped keywords")
    func swiftNames() {
        #expect(SwiftName.member("conversation_id") == "conversationID")
        #expect(SwiftName.member("X-API-Key") == "xAPIKey")
        #expect(SwiftName.member("X-Request-ID") == "xRequestID")
        #expect(SwiftName.member("base_url") == "baseURL")
        #expect(SwiftName.member("URL") == "url")
        #expect(SwiftName.member("getHealth") == "getHealth")
        #expect(SwiftName.member("default") == "`default`")
        #expect(SwiftName.member("self") == "self_")
        #expect(SwiftName.member("2fa") == "_2fa")
        #expect(SwiftName.type("getHealth") == "GetHealth")
        #expect(SwiftName.type("getGPTActionsJSON") == "GetGPTActionsJSON")
        #expect(SwiftName.type("jsonrpc_request") == "JSONRPCRequest")
        #expect(SwiftName.type("oauth_token") == "OAuthToken")
        #expect(SwiftName.bare("default") == "default")
        #expect(SwiftName.literal("a \"b\"\\\n\u{1}") == "\"a \\\"b\\\"\\\\\\n\\u{1}\"")
    }
}
