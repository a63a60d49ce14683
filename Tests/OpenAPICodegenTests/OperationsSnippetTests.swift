import OpenAPICodegen
import Testing

/// Snippet tests for `Operations.swift`, `APIProtocol.swift` and `Routes.swift`.
@Suite("Operations → Operations.swift, APIProtocol.swift, Routes.swift")
struct OperationsSnippetTests {
    static let paths = """
        /conversations/{conversation_id}/messages:
          parameters:
            - name: conversation_id
              in: path
              required: true
              schema:
                type: string
                minLength: 1
          post:
            operationId: postMessage
            summary: Add a message to a conversation.
            x-body-limit: 4096
            x-raw-body: true
            security:
              - OAuth2: [write]
            parameters:
              - name: limit
                in: query
                schema:
                  type: integer
                  minimum: 1
                  maximum: 100
              - name: order
                in: query
                schema:
                  type: string
                  enum: [asc, desc]
              - name: ids
                in: query
                schema:
                  type: array
                  maxItems: 5
                  items:
                    type: string
              - name: X-Request-ID
                in: header
                required: true
                description: Correlates logs.
                schema:
                  type: string
            requestBody:
              required: true
              content:
                application/json:
                  schema:
                    $ref: "#/components/schemas/NewMessage"
                application/x-www-form-urlencoded:
                  schema:
                    $ref: "#/components/schemas/NewMessage"
            responses:
              "201":
                description: Created.
                headers:
                  Location:
                    required: true
                    schema:
                      type: string
                  X-Rate-Limit-Remaining:
                    schema:
                      type: integer
                content:
                  application/json:
                    schema:
                      $ref: "#/components/schemas/NewMessage"
              "400":
                $ref: "#/components/responses/BadRequest"
              "401":
                $ref: "#/components/responses/Unauthorized"
              "429":
                description: Too many requests.
              "413":
                $ref: "#/components/responses/ContentTooLarge"
              default:
                description: Anything else.
                content:
                  application/json:
                    schema:
                      $ref: "#/components/schemas/Problem"
        /events:
          get:
            operationId: streamEvents
            summary: Stream events.
            security: []
            responses:
              "200":
                description: The events, in the format the client accepts.
                content:
                  application/jsonl:
                    schema:
                      type: object
                      properties:
                        seq:
                          type: integer
                  text/event-stream: {}
                  text/html:
                    schema:
                      type: string
                  application/yaml:
                    schema:
                      type: string
              "204":
                description: No events.
        /items:
          get:
            operationId: listItems
            responses:
              "200":
                description: The items.
                content:
                  application/json:
                    schema:
                      type: object
                      required: [items]
                      properties:
                        items:
                          type: array
                          items:
                            type: string
              "401":
                $ref: "#/components/responses/Unauthorized"
              "429":
                description: Too many requests.
          put:
            operationId: replaceItems
            security:
              - ApiKeyAuth: []
                BearerAuth: []
            responses:
              "204":
                description: Replaced.
              "401":
                $ref: "#/components/responses/Unauthorized"
              "429":
                description: Too many requests.
        /login:
          post:
            operationId: submitLogin
            security: []
            x-gpt-action: false
            requestBody:
              content:
                application/x-www-form-urlencoded:
                  schema:
                    $ref: "#/components/schemas/Login"
            responses:
              "303":
                description: Signed in; go on.
                headers:
                  Location:
                    required: true
                    schema:
                      type: string
              "400":
                $ref: "#/components/responses/BadRequest"
              "413":
                $ref: "#/components/responses/ContentTooLarge"
        """

    static let schemas = """
        NewMessage:
          type: object
          required: [text]
          properties:
            text:
              type: string
            urgent:
              type: boolean
        Login:
          type: object
          required: [username]
          properties:
            username:
              type: string
            remember:
              type: boolean
        """

    static let globalSecurity = """
        - ApiKeyAuth: []
        - BearerAuth: []
        - OAuth2: [read]
        """

    static func files() throws -> [String: String] {
        try generate(snippetSpec(paths: paths, schemas: schemas, security: globalSecurity))
    }

    static func operation(_ name: String) throws -> String {
        try requireDeclaration("public enum \(name) {", in: try files()["Operations.swift"])
    }

    static func respond(_ name: String) throws -> String {
        try requireDeclaration("extension Operations.\(name) {", in: try files()["Routes.swift"])
    }

    @Test("Each operation requires one handler method on APIProtocol, in operationId order")
    func protocolRequirements() throws {
        let api = try #require(try Self.files()["APIProtocol.swift"])
        let requirements = trimmedLines(api).filter { $0.hasPrefix("func ") }
        #expect(
            requirements == [
                "func listItems(_ input: Operations.ListItems.Input, context: Context) async throws -> Operations.ListItems.Output",
                "func postMessage(_ input: Operations.PostMessage.Input, context: Context) async throws -> Operations.PostMessage.Output",
                "func replaceItems(_ input: Operations.ReplaceItems.Input, context: Context) async throws -> Operations.ReplaceItems.Output",
                "func streamEvents(_ input: Operations.StreamEvents.Input, context: Context) async throws -> Operations.StreamEvents.Output",
                "func submitLogin(_ input: Operations.SubmitLogin.Input, context: Context) async throws -> Operations.SubmitLogin.Output",
            ]
        )
        expectLine("public protocol APIProtocol: Sendable {", in: api)
        expectLine("associatedtype Context: RequestContext", in: api)
        expectLine("/// Add a message to a conversation.", in: api)
        expectLine("/// `POST /conversations/{conversation_id}/messages`", in: api)
    }

    @Test("Path, query and header parameters become typed structs of the Input")
    func parameterStructs() throws {
        let operation = try Self.operation("PostMessage")
        let path = try requireDeclaration("public struct Path: Sendable {", in: operation)
        expectLine("public var conversationID: String", in: path)
        let query = try requireDeclaration("public struct Query: Sendable {", in: operation)
        expectLine("public var limit: Int?", in: query)
        expectLine("public var order: Order?", in: query)
        expectLine("public var ids: [String]?", in: query)
        expectLine("public init(limit: Int? = nil, order: Order? = nil, ids: [String]? = nil) {", in: query)
        expectLine("public enum Order: String, Codable, Hashable, Sendable, CaseIterable, ParameterValue {", in: query)
        let headers = try requireDeclaration("public struct Headers: Sendable {", in: operation)
        expectLine("/// Correlates logs.", in: headers)
        expectLine("public var xRequestID: String", in: headers)
    }

    @Test("The Input gathers parameters, the body or the raw body, and Accept; only optional parts get defaults")
    func inputStruct() throws {
        // postMessage says x-raw-body: true, so its body reaches the handler as bytes, and as the schema reads it
        let input = try requireDeclaration("public struct Input: Sendable {", in: try Self.operation("PostMessage"))
        expectLine("public var path: Path", in: input)
        expectLine("public var query: Query", in: input)
        expectLine("public var headers: Headers", in: input)
        expectLine("public var rawBody: ByteBuffer", in: input)
        expectLine("public var accept: AcceptHeader", in: input)
        expectLine("public var contentType: String?", in: input)
        expectLine("public var body: Result<NewMessage, GatewayError>", in: input)
        expectLine(
            "public init(path: Path, query: Query = .init(), headers: Headers, rawBody: ByteBuffer, contentType: String? = nil, "
                + "body: Result<NewMessage, GatewayError>, accept: AcceptHeader = .init()) {",
            in: input
        )

        // each doc comment sits on the field it describes
        let lines = trimmedLines(input)
        let rawBody = try #require(lines.firstIndex(of: "public var rawBody: ByteBuffer"))
        #expect(lines[rawBody - 1] == "/// The request body exactly as sent (`x-raw-body`).")
        let accept = try #require(lines.firstIndex(of: "public var accept: AcceptHeader"))
        #expect(lines[accept - 1] == "/// The media types the client accepts, for operations that can answer in several.")
        let path = try #require(lines.firstIndex(of: "public var path: Path"))
        #expect(!lines[path - 1].hasPrefix("///"), "the path field has no doc comment, got: \(lines[path - 1])")

        let login = try requireDeclaration("public struct Input: Sendable {", in: try Self.operation("SubmitLogin"))
        let loginLines = trimmedLines(login)
        let body = try #require(loginLines.firstIndex(of: "public var body: Login?"))
        #expect(loginLines[body - 1] == "/// The request body (application/x-www-form-urlencoded).")
        expectLine("public init(body: Login? = nil, accept: AcceptHeader = .init()) {", in: login)
        expectNoLine(containing: "rawBody", in: login)
    }

    @Test("The Output has one case per documented status, carrying body and headers")
    func outputCases() throws {
        let output = try requireDeclaration("public enum Output: Sendable {", in: try Self.operation("PostMessage"))
        let cases = trimmedLines(output).filter { $0.hasPrefix("case ") }
        #expect(
            cases == [
                "case created(CreatedBody, headers: CreatedHeaders)",
                "case badRequest(BadRequestBody)",
                "case unauthorized(UnauthorizedBody)",
                "case contentTooLarge(ContentTooLargeBody)",
                "case tooManyRequests",
                "case undocumented(status: Int, UndocumentedBody)",
                "case json(NewMessage)",
                "case json(Problem)",
                "case json(Problem)",
                "case json(Problem)",
                "case json(Problem)",
            ]
        )
        expectLine("/// 201: Created.", in: output)
        expectLine("/// Any other status: Anything else.", in: output)
        let headers = try requireDeclaration("public struct CreatedHeaders: Sendable {", in: output)
        expectLine("public var location: String", in: headers)
        expectLine("public var xRateLimitRemaining: Int?", in: headers)
        expectLine("public init(location: String, xRateLimitRemaining: Int? = nil) {", in: headers)

        let login = try requireDeclaration("public enum Output: Sendable {", in: try Self.operation("SubmitLogin"))
        expectLine("case seeOther(headers: SeeOtherHeaders)", in: login)
    }

    @Test("Each response media type is a case of the body enum with its streaming or text payload")
    func responseMediaTypes() throws {
        let operation = try Self.operation("StreamEvents")
        let output = try requireDeclaration("public enum Output: Sendable {", in: operation)
        expectLine("case ok(OkBody)", in: output)
        expectLine("case noContent", in: output)
        let body = try requireDeclaration("public enum OkBody: Sendable {", in: output)
        #expect(
            trimmedLines(body) == [
                "public enum OkBody: Sendable {",
                "case jsonl(JSONLinesBody<OkJSONLPayload>)",
                "case eventStream(ServerSentEventsBody)",
                "case html(String)",
                "case yaml(String)",
                "}",
            ]
        )
        // the inline JSON Lines element schema is declared inside the operation's namespace
        let payload = try requireDeclaration("public struct OkJSONLPayload: Codable, Hashable, Sendable {", in: operation)
        expectLine("public var seq: Int?", in: payload)

        let respond = try Self.respond("StreamEvents")
        expectLine(
            "case .jsonl(let value): return ResponseEncoding.jsonLines(value, contentType: \"application/jsonl\", status: HTTPResponse.Status(code: 200), headers: fields)",
            in: respond
        )
        expectLine(
            "case .eventStream(let value): return ResponseEncoding.serverSentEvents(value, status: HTTPResponse.Status(code: 200), headers: fields)",
            in: respond
        )
        expectLine(
            "case .html(let value): return ResponseEncoding.text(value, contentType: \"text/html\", status: HTTPResponse.Status(code: 200), headers: fields)",
            in: respond
        )
        expectLine(
            "case .yaml(let value): return ResponseEncoding.text(value, contentType: \"application/yaml\", status: HTTPResponse.Status(code: 200), headers: fields)",
            in: respond
        )
        expectLine("return ResponseEncoding.empty(status: HTTPResponse.Status(code: 204), headers: fields)", in: respond)
    }

    @Test("A single inline JSON response schema is named after its status")
    func inlineResponseSchema() throws {
        let operation = try Self.operation("ListItems")
        expectLine("case ok(OkBody)", in: operation)
        expectLine("case json(OkPayload)", in: operation)
        let payload = try requireDeclaration("public struct OkPayload: Codable, Hashable, Sendable {", in: operation)
        expectLine("public var items: [String]", in: payload)
    }

    @Test("The descriptor carries method, path template, security alternatives, body and limit")
    func descriptors() throws {
        expectLine(
            "public static let descriptor = OperationDescriptor(id: \"postMessage\", method: .post, path: \"/conversations/{conversation_id}/messages\", "
                + "security: [[SecurityRequirement(scheme: \"OAuth2\", kind: .oauth2, scopes: [\"write\"])]], acceptsBody: true, bodyLimit: 4096)",
            in: try Self.operation("PostMessage")
        )
        // the document's security applies when the operation says nothing: three alternatives
        expectLine(
            "public static let descriptor = OperationDescriptor(id: \"listItems\", method: .get, path: \"/items\", security: ["
                + "[SecurityRequirement(scheme: \"ApiKeyAuth\", kind: .apiKeyHeader(name: \"X-API-Key\"), scopes: [])], "
                + "[SecurityRequirement(scheme: \"BearerAuth\", kind: .httpBearer, scopes: [])], "
                + "[SecurityRequirement(scheme: \"OAuth2\", kind: .oauth2, scopes: [\"read\"])]], acceptsBody: false, bodyLimit: nil)",
            in: try Self.operation("ListItems")
        )
        // two schemes in one requirement must both pass
        expectLine(
            "public static let descriptor = OperationDescriptor(id: \"replaceItems\", method: .put, path: \"/items\", security: [["
                + "SecurityRequirement(scheme: \"ApiKeyAuth\", kind: .apiKeyHeader(name: \"X-API-Key\"), scopes: []), "
                + "SecurityRequirement(scheme: \"BearerAuth\", kind: .httpBearer, scopes: [])]], acceptsBody: false, bodyLimit: nil)",
            in: try Self.operation("ReplaceItems")
        )
        // security: [] makes an operation public
        expectLine(
            "public static let descriptor = OperationDescriptor(id: \"streamEvents\", method: .get, path: \"/events\", security: [], acceptsBody: false, bodyLimit: nil)",
            in: try Self.operation("StreamEvents")
        )
    }

    @Test("A secured route authenticates before decoding; a public one never calls the security handler")
    func routesAuthenticate() throws {
        let secured = try Self.respond("PostMessage")
        let lines = trimmedLines(secured)
        let authenticate = try #require(
            lines.firstIndex(of: "try await security.authenticate(request, context: &context, alternatives: descriptor.security)")
        )
        let decode = try #require(lines.firstIndex(of: "let path = Input.Path("))
        #expect(authenticate < decode)
        expectLine("var context = context", in: secured)
        for name in ["ReplaceItems", "ListItems"] {
            expectLine("try await security.authenticate(request, context: &context, alternatives: descriptor.security)", in: try Self.respond(name))
        }
        for name in ["StreamEvents", "SubmitLogin"] {
            expectNoLine(containing: "security.authenticate", in: try Self.respond(name))
        }
    }

    @Test("Routes decode each parameter from its place with its limits, then the body within the limit")
    func routesDecodeInput() throws {
        let respond = try Self.respond("PostMessage")
        expectLine(
            "conversationID: try ParameterDecoding.required(context.parameters.get(\"conversation_id\"), name: \"conversation_id\", in: .path, length: 1...Int.max)",
            in: respond
        )
        // the query string is form-decoded once (`+` is a space), then each parameter is read from it
        expectLine("let queryFields = try FormFields.query(request.uri.query)", in: respond)
        expectLine(
            "limit: try ParameterDecoding.optional(queryFields.first(\"limit\"), name: \"limit\", in: .query, within: 1...100),",
            in: respond
        )
        expectLine("order: try ParameterDecoding.optional(queryFields.first(\"order\"), name: \"order\", in: .query),", in: respond)
        expectLine(
            "ids: try ParameterDecoding.array(queryFields.all(\"ids\"), name: \"ids\", in: .query, count: 0...5)",
            in: respond
        )
        expectLine(
            "xRequestID: try ParameterDecoding.required(request.headers.parameter(named: \"X-Request-ID\"), name: \"X-Request-ID\", in: .header)",
            in: respond
        )
        expectLine("let rawBody = try await RequestBodyDecoding.collect(request, limit: descriptor.bodyLimit ?? options.defaultBodyLimit)", in: respond)
        // x-raw-body: the collected bytes are handed over as they are, beside the body checked against its schema
        expectLine(
            "let input = Input(path: path, query: query, headers: headers, rawBody: rawBody, contentType: request.headers[.contentType], "
                + "body: RequestBodyDecoding.result(from: rawBody, contentType: request.headers[.contentType], "
                + "accepted: [\"application/json\", \"application/x-www-form-urlencoded\"]), accept: AcceptHeader(request.headers[.accept]))",
            in: respond
        )
        expectNoLine(containing: "RequestBodyDecoding.decode", in: respond)
        expectLine("let output = try await api.postMessage(input, context: context)", in: respond)

        expectLine(
            "let input = Input(body: try RequestBodyDecoding.decodeIfPresent(from: rawBody, contentType: request.headers[.contentType], "
                + "accepted: [\"application/x-www-form-urlencoded\"]), accept: AcceptHeader(request.headers[.accept]))",
            in: try Self.respond("SubmitLogin")
        )
    }

    @Test("x-raw-body hands over the bytes and the body checked against its schema, x-relay only the bytes; without either the body is decoded")
    func rawBodyIsCheckedUnlessRelayed() throws {
        func operation(_ id: String, raw: Bool, relay: Bool = false) -> String {
            """
            post:
              operationId: \(id)
              security: []
              x-body-limit: 1024
              x-raw-body: \(raw)
              x-relay: \(relay)
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [text]
                      properties:
                        text:
                          type: string
                          maxLength: 10
              responses:
                "204":
                  description: Stored.
                \(raw ? "" : "\"400\": {$ref: \"#/components/responses/BadRequest\"}")
                "413":
                  $ref: "#/components/responses/ContentTooLarge"
            """
        }
        let paths = "/raw:\n" + indented(operation("uploadRaw", raw: true), by: 2)
            + "\n/relay:\n" + indented(operation("uploadRelayed", raw: true, relay: true), by: 2)
            + "\n/decoded:\n" + indented(operation("uploadDecoded", raw: false), by: 2)
        let files = try generate(snippetSpec(paths: paths))
        let operations = try #require(files["Operations.swift"])
        let routes = try #require(files["Routes.swift"])

        // raw: the bytes, and the body as its schema reads it or the 400 saying why, for the handler to answer
        let raw = try requireDeclaration("public enum UploadRaw {", in: operations)
        let rawInput = try requireDeclaration("public struct Input: Sendable {", in: raw)
        #expect(
            trimmedLines(rawInput).filter { !$0.isEmpty } == [
                "public struct Input: Sendable {",
                "/// The request body exactly as sent (`x-raw-body`).",
                "public var rawBody: ByteBuffer",
                "/// The request's `Content-Type`, for decoding ``rawBody``.",
                "public var contentType: String?",
                "/// The request body (application/json).",
                "/// Decoded and checked against its schema, or the 400 saying why, for the handler to",
                "/// answer in this operation's error shape.",
                "public var body: Result<RequestBody, GatewayError>",
                "/// The media types the client accepts, for operations that can answer in several.",
                "public var accept: AcceptHeader",
                "public init(rawBody: ByteBuffer, contentType: String? = nil, body: Result<RequestBody, GatewayError>, accept: AcceptHeader = .init()) {",
                "self.rawBody = rawBody",
                "self.contentType = contentType",
                "self.body = body",
                "self.accept = accept",
                "}",
                "}",
            ]
        )
        let rawRequestBody = try requireDeclaration("public struct RequestBody: Codable, Hashable, Sendable {", in: raw)
        expectLine("try container.validate(self.text, length: ...10, forKey: .text)", in: rawRequestBody)
        expectLine(
            "public static let descriptor = OperationDescriptor(id: \"uploadRaw\", method: .post, path: \"/raw\", security: [], acceptsBody: true, bodyLimit: 1024)",
            in: raw
        )
        let rawRoute = try requireDeclaration("extension Operations.UploadRaw {", in: routes)
        let rawLines = trimmedLines(rawRoute)
        let collect = try #require(
            rawLines.firstIndex(of: "let rawBody = try await RequestBodyDecoding.collect(request, limit: descriptor.bodyLimit ?? options.defaultBodyLimit)")
        )
        let call = try #require(
            rawLines.firstIndex(
                of: "let input = Input(rawBody: rawBody, contentType: request.headers[.contentType], body: RequestBodyDecoding.result(from: rawBody, "
                    + "contentType: request.headers[.contentType], accepted: [\"application/json\"]), accept: AcceptHeader(request.headers[.accept]))"
            )
        )
        #expect(collect < call)
        expectNoLine(containing: "RequestBodyDecoding.decode", in: rawRoute)

        // relay: the bytes only, never decoded; the schema documents them
        let relay = try requireDeclaration("public enum UploadRelayed {", in: operations)
        expectNoLine(containing: "body: Result", in: relay)
        expectNoLine(containing: "RequestBody", in: relay)
        let relayRoute = try requireDeclaration("extension Operations.UploadRelayed {", in: routes)
        expectLine("let input = Input(rawBody: rawBody, contentType: request.headers[.contentType], accept: AcceptHeader(request.headers[.accept]))", in: relayRoute)
        expectNoLine(containing: "RequestBodyDecoding.result", in: relayRoute)

        // decoded: a required body is decoded (and validated) into the inline RequestBody type
        let decoded = try requireDeclaration("public enum UploadDecoded {", in: operations)
        let decodedInput = try requireDeclaration("public struct Input: Sendable {", in: decoded)
        expectLine("public var body: RequestBody", in: decodedInput)
        expectLine("public init(body: RequestBody, accept: AcceptHeader = .init()) {", in: decodedInput)
        expectNoLine(containing: "rawBody", in: decodedInput)
        let requestBody = try requireDeclaration("public struct RequestBody: Codable, Hashable, Sendable {", in: decoded)
        expectLine("try container.validate(self.text, length: ...10, forKey: .text)", in: requestBody)
        let decodedRoute = try requireDeclaration("extension Operations.UploadDecoded {", in: routes)
        expectLine("let rawBody = try await RequestBodyDecoding.collect(request, limit: descriptor.bodyLimit ?? options.defaultBodyLimit)", in: decodedRoute)
        expectLine(
            "let input = Input(body: try RequestBodyDecoding.decode(from: rawBody, contentType: request.headers[.contentType], "
                + "accepted: [\"application/json\"]), accept: AcceptHeader(request.headers[.accept]))",
            in: decodedRoute
        )
    }

    @Test("Routes encode every Output case with its status and headers")
    func routesEncodeOutput() throws {
        let respond = try Self.respond("PostMessage")
        expectLine("case .created(let body, let headers):", in: respond)
        expectLine("fields.setParameter(headers.location, named: \"Location\")", in: respond)
        expectLine("fields.setParameter(headers.xRateLimitRemaining, named: \"X-Rate-Limit-Remaining\")", in: respond)
        expectLine("case .json(let value): return try ResponseEncoding.json(value, status: HTTPResponse.Status(code: 201), headers: fields)", in: respond)
        expectLine("case .undocumented(let code, let body):", in: respond)
        expectLine("case .json(let value): return try ResponseEncoding.json(value, status: HTTPResponse.Status(code: code), headers: fields)", in: respond)
        let cases = trimmedLines(respond).filter { $0.hasPrefix("case .") && $0.hasSuffix(":") }
        #expect(
            cases == [
                "case .created(let body, let headers):", "case .badRequest(let body):", "case .unauthorized(let body):",
                "case .contentTooLarge(let body):", "case .tooManyRequests:", "case .undocumented(let code, let body):",
            ]
        )
        let login = try Self.respond("SubmitLogin")
        expectLine("case .seeOther(let headers):", in: login)
        expectLine("return ResponseEncoding.empty(status: HTTPResponse.Status(code: 303), headers: fields)", in: login)
    }

    @Test("The route table registers every operation under its path template and method")
    func routeTable() throws {
        let routes = try #require(try Self.files()["Routes.swift"])
        let registrations = trimmedLines(routes).filter { $0.hasPrefix("router.on(") }
        #expect(
            registrations == [
                "router.on(\"/items\", method: .get) {",
                "router.on(\"/conversations/{conversation_id}/messages\", method: .post) {",
                "router.on(\"/items\", method: .put) {",
                "router.on(\"/events\", method: .get) {",
                "router.on(\"/login\", method: .post) {",
            ]
        )
        let table = try requireDeclaration("public enum OperationTable {", in: routes)
        #expect(
            trimmedLines(table).filter { $0.hasPrefix("Operations.") } == [
                "Operations.ListItems.descriptor,", "Operations.PostMessage.descriptor,", "Operations.ReplaceItems.descriptor,",
                "Operations.StreamEvents.descriptor,", "Operations.SubmitLogin.descriptor,",
            ]
        )
    }
}
