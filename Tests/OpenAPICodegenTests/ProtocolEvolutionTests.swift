import OpenAPICodegen
import Testing

/// The contract between the document and the handlers: an operation added to the document is a
/// new protocol requirement with no default, so the server does not build until it handles it.
@Suite("Adding an operation")
struct ProtocolEvolutionTests {
    static let getPet = """
        /pets/{pet_id}:
          get:
            operationId: getPet
            security: []
            parameters:
              - name: pet_id
                in: path
                required: true
                schema: {type: integer}
            responses:
              "200": {description: The pet.}
              "400": {$ref: "#/components/responses/BadRequest"}
        """

    static let listPets = """
        /pets:
          get:
            operationId: listPets
            responses:
              "200": {description: The pets.}
              "401": {$ref: "#/components/responses/Unauthorized"}
              "429": {description: Too many requests.}
        """

    static func requirements(_ files: [String: String]) throws -> [String] {
        let api = try #require(files["APIProtocol.swift"])
        return trimmedLines(api).filter { $0.hasPrefix("func ") }
    }

    @Test("Adding an operation makes the protocol require exactly one new handler method")
    func addingAnOperationAddsOneRequirement() throws {
        let before = try generate(snippetSpec(paths: Self.getPet, security: "- OAuth2: [read]"))
        let after = try generate(snippetSpec(paths: Self.getPet + "\n" + Self.listPets, security: "- OAuth2: [read]"))
        let old = try Self.requirements(before)
        let new = try Self.requirements(after)
        #expect(old == ["func getPet(_ input: Operations.GetPet.Input, context: Context) async throws -> Operations.GetPet.Output"])
        #expect(Set(old).isSubset(of: Set(new)))
        #expect(
            new.filter { !old.contains($0) } == [
                "func listPets(_ input: Operations.ListPets.Input, context: Context) async throws -> Operations.ListPets.Output"
            ]
        )
        // and the route for it calls the handler
        let routes = try #require(after["Routes.swift"])
        expectLine("let output = try await api.listPets(input, context: context)", in: routes)
        expectLine("router.on(\"/pets\", method: .get) {", in: routes)
    }

    @Test("No generated file implements a requirement, so a conforming type that lacks one does not compile")
    func noDefaultImplementations() throws {
        let files = try generate(snippetSpec(paths: Self.getPet + "\n" + Self.listPets, security: "- OAuth2: [read]"))
        let names = try Self.requirements(files).compactMap { line -> String? in
            line.dropFirst("func ".count).split(separator: "(").first.map(String.init)
        }
        #expect(names == ["getPet", "listPets"])
        var extensions: [String] = []
        for (file, text) in files {
            let found = declarations(startingWith: "extension APIProtocol", in: text)
            extensions += found
            for body in found {
                for name in names {
                    expectNoLine(containing: "func \(name)(", in: body)
                }
                #expect(!body.contains("where "), "a constrained extension in \(file) could provide defaults")
            }
        }
        // the one extension is the route registration, whose only method is registerRoutes
        #expect(extensions.count == 1)
        let methods: [String] = extensions.flatMap { trimmedLines($0) }.filter { $0.contains("func ") }
        #expect(methods.count == 1)
        #expect(methods.first?.hasPrefix("public func registerRoutes(on router: some RouterMethods<Context>") == true)
        // nothing else conforms to or refines the protocol with defaults either
        for (file, text) in files where file != "APIProtocol.swift" {
            expectNoLine(containing: "protocol ", in: text)
        }
    }

    @Test("Every operation in the route table has a requirement and a route")
    func tableRequirementsAndRoutesAgree() throws {
        let files = try generate(snippetSpec(paths: Self.getPet + "\n" + Self.listPets, security: "- OAuth2: [read]"))
        let routes = try #require(files["Routes.swift"])
        let table = try requireDeclaration("public enum OperationTable {", in: routes)
        let tableCount = trimmedLines(table).filter { $0.hasPrefix("Operations.") }.count
        let registrations = trimmedLines(routes).filter { $0.hasPrefix("router.on(") }.count
        let responders = trimmedLines(routes).filter { $0.hasPrefix("extension Operations.") }.count
        #expect(try Self.requirements(files).count == 2)
        #expect(tableCount == 2 && registrations == 2 && responders == 2)
        expectLine("public static let operationCount = 2", in: try #require(files["Documents.swift"]))
    }
}
