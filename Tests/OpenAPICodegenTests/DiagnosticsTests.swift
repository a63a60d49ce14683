import OpenAPICodegen
import Testing

/// Every refusal names the exact line and column of the construct at fault. The documents are
/// written out whole so the expected positions can be read off them; each is valid but for the
/// one problem under test (the oauth2 scheme at the end is what the GPT Actions view needs).
@Suite("Diagnostics")
struct DiagnosticsTests {
    static let head = """
        openapi: 3.1.0
        info: {title: T, version: "1"}

        """

    static let oauth = """
        components:
          securitySchemes:
            OAuth2: {type: oauth2, flows: {authorizationCode: {authorizationUrl: /a, tokenUrl: /t, scopes: {read: r}}}}

        """

    @Test("The control documents are valid, so each test below isolates one problem")
    func controlDocumentsAreValid() throws {
        #expect(diagnostics(of: Self.head + "paths: {}\n" + Self.oauth).isEmpty)
        let ping = Self.head + """
            paths:
              /ping:
                get:
                  operationId: ping
                  security: []
                  responses:
                    "200": {description: OK}

            """ + Self.oauth
        #expect(diagnostics(of: ping).isEmpty)
    }

    @Test("An OpenAPI 3.0 document is refused at its version")
    func openAPI30() throws {
        let diagnostic = try onlyDiagnostic(
            of: """
                openapi: 3.0.3
                info: {title: T, version: "1"}
                paths: {}

                """ + Self.oauth
        )
        expect(diagnostic, at: 1, 10, says: "OpenAPI 3.0.3 is not supported", "OpenAPI 3.1")
        #expect(diagnostic.description.hasPrefix("openapi.yaml:1:10: error: OpenAPI 3.0.3 is not supported"))
    }

    @Test("An unsupported top-level key is refused at the key, listing what is supported")
    func unsupportedTopLevelKey() throws {
        let diagnostic = try onlyDiagnostic(of: Self.head + "webhooks: {}\npaths: {}\n" + Self.oauth)
        expect(diagnostic, at: 3, 1, says: "'webhooks' in the document is not supported", "supported: components, externalDocs, info, openapi")
    }

    @Test("An operation without operationId is refused at the operation")
    func missingOperationID() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /ping:
                    get:
                      security: []
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        )
        expect(diagnostic, at: 6, 7, says: "operation GET /ping needs an operationId")
    }

    @Test("A duplicate operationId is refused at the second operation, naming the first")
    func duplicateOperationID() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security: []
                      responses:
                        "200": {description: OK}
                  /b:
                    get:
                      operationId: fetch
                      security: []
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        )
        expect(diagnostic, at: 12, 7, says: "duplicate operationId 'fetch'", "first used at line 6")
    }

    @Test("A $ref to an unknown schema is refused at the reference, and only once")
    func unknownReference() throws {
        let inResponse = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security: []
                      responses:
                        "200":
                          description: OK
                          content:
                            application/json:
                              schema:
                                $ref: "#/components/schemas/Nope"

                """ + Self.oauth
        )
        expect(inResponse, at: 14, 23, says: "$ref names an unknown schema 'Nope'")

        let inProperty = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Owner:
                      type: object
                      properties:
                        pet:
                          $ref: "#/components/schemas/Pet"

                """
        )
        expect(inProperty, at: 12, 17, says: "$ref names an unknown schema 'Pet'")

        let remote = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Owner:
                      $ref: "other.yaml#/Owner"

                """
        )
        expect(remote, at: 9, 13, says: "only local references to #/components/schemas/")
    }

    @Test("A oneOf member that is not a $ref is refused at the member, with or without a discriminator")
    func inlineOneOfMember() throws {
        let undiscriminated = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Pet:
                      oneOf:
                        - $ref: "#/components/schemas/Cat"
                        - type: object
                          properties:
                            barks: {type: boolean}
                    Cat:
                      type: object

                """
        )
        expect(undiscriminated, at: 11, 11, says: "every oneOf member must be a $ref to #/components/schemas/")

        let discriminated = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Pet:
                      oneOf:
                        - $ref: "#/components/schemas/Cat"
                        - {type: string}
                      discriminator:
                        propertyName: kind
                    Cat:
                      type: object
                      required: [kind]
                      properties:
                        kind: {type: string}

                """
        )
        expect(discriminated, at: 11, 11, says: "every oneOf member must be a $ref to #/components/schemas/")
    }

    @Test("oneOf without a discriminator is accepted when every member is a $ref, objects or not")
    func oneOfWithoutDiscriminatorIsAccepted() throws {
        // Without a discriminator nothing asks the members to be objects carrying a tag property.
        let document = Self.head + "paths: {}\n" + Self.oauth + """
              schemas:
                Reply:
                  oneOf:
                    - $ref: "#/components/schemas/Answer"
                    - $ref: "#/components/schemas/Text"
                Answer:
                  type: object
                  properties:
                    text: {type: string}
                Text:
                  type: string

            """
        let found = diagnostics(of: document)
        #expect(found.isEmpty, "\(found.map(\.description).joined(separator: "\n"))")
        let types = try #require(try generate(document)["Types.swift"])
        expectLine("public enum Reply: Codable, Hashable, Sendable {", in: types)
    }

    @Test("A oneOf member without the discriminator as a required property is refused")
    func oneOfMemberWithoutDiscriminatorProperty() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Pet:
                      oneOf:
                        - $ref: "#/components/schemas/Cat"
                      discriminator:
                        propertyName: kind
                    Cat:
                      type: object
                      properties:
                        kind: {type: string}

                """
        )
        expect(diagnostic, at: 9, 7, says: "oneOf member 'Cat' must be an object with the required property 'kind'")
    }

    @Test("A cookie parameter is refused at its 'in'")
    func cookieParameter() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security: []
                      parameters:
                        - name: session
                          in: cookie
                          schema: {type: string}
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        )
        expect(diagnostic, at: 10, 15, says: "parameter 'session': 'in: cookie' is not supported (path, query, header)")
    }

    @Test("Unsupported request and response media types are refused at the media type")
    func unsupportedMediaTypes() throws {
        let request = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    post:
                      operationId: upload
                      security: []
                      requestBody:
                        content:
                          application/xml:
                            schema: {type: string}
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        )
        expect(request, at: 10, 11, says: "request media type 'application/xml' is not supported", "application/json")

        let response = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    get:
                      operationId: download
                      security: []
                      responses:
                        "200":
                          description: OK
                          content:
                            application/pdf: {}

                """ + Self.oauth
        )
        expect(response, at: 12, 13, says: "response media type 'application/pdf' is not supported", "text/event-stream")
    }

    @Test("A path template without its path parameter is refused at the operation, and vice versa")
    func pathTemplateWithoutParameter() throws {
        let missing = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /pets/{petId}:
                    get:
                      operationId: getPet
                      security: []
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        )
        expect(missing, at: 6, 7, says: "GET /pets/{petId}: path template {petId} has no 'in: path' parameter")

        let extra = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /pets:
                    get:
                      operationId: getPet
                      security: []
                      parameters:
                        - name: petId
                          in: path
                          required: true
                          schema: {type: string}
                      responses:
                        "200": {description: OK}
                        "400": {description: Bad}

                """ + Self.oauth
        )
        expect(extra, at: 12, 19, says: "path parameter 'petId' is not in the path template")
    }

    @Test("An operation with a body must document 400 and 413, at its responses")
    func bodyNeeds400And413() throws {
        func document(_ statuses: String) -> String {
            Self.head + """
                paths:
                  /a:
                    post:
                      operationId: create
                      security: []
                      requestBody:
                        content:
                          application/json:
                            schema: {type: string}
                      responses:
                        "200": {description: OK}
                \(statuses)

                """ + Self.oauth
        }
        let no400 = try onlyDiagnostic(of: document("        \"413\": {description: Too large}"))
        expect(no400, at: 13, 9, says: "operation create decodes input but documents no 400 response")
        let no413 = try onlyDiagnostic(of: document("        \"400\": {description: Bad}"))
        expect(no413, at: 13, 9, says: "operation create takes a request body but documents no 413 response")
        #expect(diagnostics(of: document("        \"400\": {description: Bad}\n        \"413\": {description: Too large}")).isEmpty)
    }

    @Test("A raw body's decoding failure is the handler's to answer, so it needs 413 but not 400; its parameters still need 400")
    func rawBodyNeeds413Only() throws {
        func document(raw: Bool = true, parameter: Bool = false, _ statuses: String) -> String {
            Self.head + """
                paths:
                  /a:
                    post:
                      operationId: upload
                      security: []
                      x-raw-body: \(raw)
                      parameters:
                \(parameter ? "        - {name: tag, in: query, schema: {type: string}}" : "        []")
                      requestBody:
                        content:
                          application/json:
                            schema: {type: string}
                      responses:
                        "200": {description: OK}
                \(statuses)

                """ + Self.oauth
        }
        let too413 = "        \"413\": {description: Too large}"
        // the only input is the raw body: the route answers no 400 (the handler answers a bad body in its own shape)
        #expect(diagnostics(of: document(too413)).isEmpty)
        // the bytes are still collected within the body limit
        let no413 = try onlyDiagnostic(of: document("        \"202\": {description: Accepted}"))
        expect(no413, at: 16, 9, says: "operation upload takes a request body but documents no 413 response")
        // a parameter is decoded whether or not the body is raw
        let parameterNo400 = try onlyDiagnostic(of: document(parameter: true, too413))
        expect(parameterNo400, at: 16, 9, says: "operation upload decodes input but documents no 400 response")
        // the same body without x-raw-body is decoded
        let decodedNo400 = try onlyDiagnostic(of: document(raw: false, too413))
        expect(decodedNo400, at: 16, 9, says: "operation upload decodes input but documents no 400 response")
    }

    @Test("x-raw-body without a requestBody is refused at its value; x-raw-body: false needs none")
    func rawBodyNeedsRequestBody() throws {
        func document(_ raw: String) -> String {
            Self.head + """
                paths:
                  /a:
                    post:
                      operationId: upload
                      security: []
                      x-raw-body: \(raw)
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        }
        let diagnostic = try onlyDiagnostic(of: document("true"))
        expect(diagnostic, at: 8, 19, says: "x-raw-body needs a requestBody")
        #expect(diagnostics(of: document("false")).isEmpty)
    }

    @Test("x-relay without x-raw-body is refused at its value")
    func relayNeedsRawBody() throws {
        func document(raw: Bool) -> String {
            Self.head + """
                paths:
                  /a:
                    post:
                      operationId: upload
                      security: []
                      x-raw-body: \(raw)
                      x-relay: true
                      requestBody:
                        content:
                          application/json:
                            schema: {type: string}
                      responses:
                        "200": {description: OK}
                        "400": {description: Bad}
                        "413": {description: Too large}

                """ + Self.oauth
        }
        let diagnostic = try onlyDiagnostic(of: document(raw: false))
        expect(diagnostic, at: 9, 16, says: "x-relay needs x-raw-body: true")
        #expect(diagnostics(of: document(raw: true)).isEmpty)
    }

    @Test("A secured operation must document 401, whether its security is its own or the document's")
    func securedNeeds401() throws {
        let own = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security:
                        - OAuth2: [read]
                      responses:
                        "200": {description: OK}
                        "429": {description: Slow down.}

                """ + Self.oauth
        )
        expect(own, at: 10, 9, says: "operation fetch requires authentication but documents no 401 response")

        let inherited = try onlyDiagnostic(
            of: Self.head + """
                security:
                  - OAuth2: []
                paths:
                  /a:
                    get:
                      operationId: fetch
                      responses:
                        "200": {description: OK}
                        "429": {description: Slow down.}

                """ + Self.oauth
        )
        expect(inherited, at: 10, 9, says: "operation fetch requires authentication but documents no 401 response")
    }

    @Test("A secured operation must document 429, since every authenticated caller is rate limited")
    func securedNeeds429() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security:
                        - OAuth2: [read]
                      responses:
                        "200": {description: OK}
                        "401": {description: Who are you?}

                """ + Self.oauth
        )
        expect(diagnostic, at: 10, 9, says: "operation fetch requires authentication but documents no 429 response")
    }

    @Test("const is refused at its value, suggesting a one-value enum")
    func constIsRefused() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Kind:
                      type: string
                      const: cat

                """
        )
        expect(diagnostic, at: 10, 14, says: "'const' is not supported; use a one-value 'enum'")
    }

    @Test("A schema keyword the generator does not model is refused at the keyword, not dropped")
    func unmodelledKeyword() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Code:
                      type: integer
                      multipleOf: 2

                """
        )
        expect(diagnostic, at: 10, 7, says: "'multipleOf' in a schema is not supported by the generator")
    }

    @Test("'not' is refused anywhere but as a list of excluded values of a plain string")
    func notOnlyExcludesStringValues() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Count:
                      type: integer
                      not:
                        enum: [cat]

                """
        )
        expect(diagnostic, at: 11, 9, says: "'not' is supported only as `not: {enum: [...]}` on a string without 'enum'")
    }

    @Test("A schema named like a standard library, runtime or generated type is refused at its name")
    func reservedSchemaNames() throws {
        for name in ["Error", "String", "JSONValue", "APIProtocol"] {
            let diagnostic = try onlyDiagnostic(
                of: Self.head + "paths: {}\n" + Self.oauth + """
                      schemas:
                        \(name):
                          type: object
                          properties:
                            message: {type: string}

                    """
            )
            expect(diagnostic, at: 8, 5, says: "schema name '\(name)' collides with a generated or runtime type")
        }
    }

    @Test("Limits that generated code would not enforce are refused where they are written")
    func unenforcedLimits() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + "paths: {}\n" + Self.oauth + """
                  schemas:
                    Tags:
                      type: object
                      properties:
                        tags:
                          type: array
                          items:
                            type: string
                            maxLength: 20

                """
        )
        expect(diagnostic, at: 14, 13, says: "limits are enforced on object properties and parameters only, not on array items")
    }

    @Test("A GPT-view description over 300 characters is refused at the description, unless excluded from the view")
    func gptDescriptionTooLong() throws {
        func document(_ description: String, excluded: Bool = false) -> String {
            Self.head + """
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security: []
                      description: \(description)
                      \(excluded ? "x-gpt-action: false" : "x-gpt-action: true")
                      responses:
                        "200": {description: OK}

                """ + Self.oauth
        }
        let diagnostic = try onlyDiagnostic(of: document(String(repeating: "a", count: 301)))
        expect(diagnostic, at: 8, 20, says: "description of fetch has 301 characters; GPT Actions allow 300")
        #expect(diagnostics(of: document(String(repeating: "a", count: 300))).isEmpty, "300 characters are allowed")
        #expect(diagnostics(of: document(String(repeating: "a", count: 301), excluded: true)).isEmpty)
    }

    @Test("More than 30 GPT operations are refused at paths; x-gpt-action: false ones do not count")
    func tooManyGPTOperations() throws {
        func document(operations: Int, excluded: Int = 0) -> String {
            var text = Self.head + "paths:\n"
            for index in 0..<operations {
                text += """
                      /op\(index):
                        get:
                          operationId: op\(index)
                          security: []
                          x-gpt-action: \(index < excluded ? "false" : "true")
                          responses:
                            "200": {description: OK}

                    """
            }
            return text + Self.oauth
        }
        let diagnostic = try onlyDiagnostic(of: document(operations: 31))
        expect(diagnostic, at: 4, 3, says: "the GPT Actions view has 31 operations; GPT Actions allow 30")
        #expect(diagnostics(of: document(operations: 30)).isEmpty)
        #expect(diagnostics(of: document(operations: 31, excluded: 1)).isEmpty)
    }

    @Test("A form-only body must be excluded from the GPT view, which can only send JSON")
    func formOnlyBodyInGPTView() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + """
                paths:
                  /a:
                    post:
                      operationId: login
                      security: []
                      requestBody:
                        content:
                          application/x-www-form-urlencoded:
                            schema:
                              type: object
                              properties:
                                user: {type: string}
                      responses:
                        "200": {description: OK}
                        "400": {description: Bad}
                        "413": {description: Too large}

                """ + Self.oauth
        )
        expect(diagnostic, at: 6, 7, says: "login takes no JSON body", "x-gpt-action: false")
    }

    @Test("A document without an oauth2 scheme cannot derive the GPT view")
    func gptViewNeedsOAuth2() throws {
        let diagnostic = try onlyDiagnostic(
            of: Self.head + """
                paths: {}
                components:
                  securitySchemes:
                    ApiKeyAuth: {type: apiKey, in: header, name: X-API-Key}

                """
        )
        expect(diagnostic, at: 5, 3, says: "the GPT Actions view needs an oauth2 authorizationCode security scheme")
    }

    @Test("Several problems in one document are all reported, in line order")
    func severalProblemsAreAllReported() throws {
        let found = diagnostics(
            of: Self.head + """
                webhooks: {}
                paths:
                  /a:
                    get:
                      operationId: fetch
                      security: []
                      parameters:
                        - name: session
                          in: cookie
                          schema: {type: string}
                      responses:
                        "200": {description: OK}
                  /b:
                    get:
                      security: []
                      responses:
                        "200": {description: OK}

                """ + Self.oauth + """
                  schemas:
                    Kind:
                      type: string
                      const: cat

                """
        )
        #expect(found.map(\.location.description) == ["3:1", "11:15", "17:7", "26:14"])
        #expect(
            found.map(\.description) == [
                "openapi.yaml:3:1: error: 'webhooks' in the document is not supported by the generator "
                    + "(supported: components, externalDocs, info, openapi, paths, security, servers, tags)",
                "openapi.yaml:11:15: error: parameter 'session': 'in: cookie' is not supported (path, query, header)",
                "openapi.yaml:17:7: error: operation GET /b needs an operationId: it names the handler method",
                "openapi.yaml:26:14: error: 'const' is not supported; use a one-value 'enum'",
            ]
        )
    }

    @Test("Diagnostics name the file the generator was given")
    func diagnosticsNameTheFile() throws {
        let found = diagnostics(of: "openapi: 3.0.0\n", file: "/path/to/spec.yaml")
        #expect(!found.isEmpty)
        #expect(found.allSatisfy { $0.file == "/path/to/spec.yaml" && $0.description.hasPrefix("/path/to/spec.yaml:") })
    }
}
