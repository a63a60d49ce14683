/// Renders the operation namespaces (typed input and output), the `APIProtocol` and the route
/// table that decodes input, enforces security, calls the handler and encodes its output.
struct OperationsRenderer {
    var api: APIDescription
    var types: TypesRenderer

    // MARK: Naming

    static let statusNames: [Int: String] = [
        200: "ok", 201: "created", 202: "accepted", 204: "noContent", 301: "movedPermanently", 302: "found",
        303: "seeOther", 304: "notModified", 307: "temporaryRedirect", 308: "permanentRedirect", 400: "badRequest",
        401: "unauthorized", 403: "forbidden", 404: "notFound", 405: "methodNotAllowed", 406: "notAcceptable",
        409: "conflict", 410: "gone", 413: "contentTooLarge", 415: "unsupportedMediaType", 422: "unprocessableContent",
        429: "tooManyRequests", 500: "internalServerError", 501: "notImplemented", 502: "badGateway",
        503: "serviceUnavailable", 504: "gatewayTimeout",
    ]

    static func caseName(_ status: ResponseStatus) -> String {
        switch status {
        case .code(let code): statusNames[code] ?? "status\(code)"
        case .default: "undocumented"
        }
    }

    static func mediaCase(_ mediaType: String) -> String {
        switch mediaType {
        case "application/json": "json"
        case "application/x-www-form-urlencoded": "form"
        case "application/jsonl": "jsonl"
        case "application/x-ndjson": "ndjson"
        case "text/event-stream": "eventStream"
        case "text/html": "html"
        case "text/plain": "plainText"
        case "application/yaml": "yaml"
        case "text/css": "css"
        case "text/javascript": "javascript"
        default: SwiftName.member(mediaType)
        }
    }

    static func typeName(_ operation: Operation) -> String { SwiftName.type(operation.operationID) }
    static func methodName(_ operation: Operation) -> String { SwiftName.member(operation.operationID) }

    // MARK: Operations namespace

    mutating func renderOperations(into w: inout CodeWriter) {
        w.line("/// One namespace per operation of the document: its typed input and its closed set of outputs.")
        w.line("public enum Operations {}")
        for operation in api.operations {
            w.line()
            renderOperation(operation, into: &w)
        }
    }

    private func payloadType(_ mediaType: String, element: String) -> String {
        switch mediaType {
        case "application/json", "application/x-www-form-urlencoded": element
        case "application/jsonl", "application/x-ndjson": "JSONLinesBody<\(element)>"
        case "text/event-stream": "ServerSentEventsBody"
        default: "String"
        }
    }

    private mutating func renderOperation(_ operation: Operation, into w: inout CodeWriter) {
        let name = Self.typeName(operation)
        w.block("extension Operations") { w in
            w.doc(operation.summary)
            w.line("///")
            w.line("/// `\(operation.method.rawValue.uppercased()) \(operation.path)`")
            w.block("public enum \(name)") { w in
                var nested: [TypesRenderer.Pending] = []
                w.line("public static let descriptor = \(descriptor(operation))")
                if operation.isWebSocket { return }
                w.line()
                renderInput(operation, nested: &nested, into: &w)
                w.line()
                renderOutput(operation, nested: &nested, into: &w)
                for item in nested {
                    w.line()
                    types.declare(item, into: &w)
                }
            }
        }
    }

    private func securityLiteral(_ alternatives: [[SecurityUse]]) -> String {
        let rendered = alternatives.map { uses in
            "[" + uses.map { use -> String in
                let scheme = api.securitySchemes.first { $0.name == use.schemeName }!
                let kind: String
                switch scheme.kind {
                case .apiKeyHeader(let header): kind = ".apiKeyHeader(name: \(SwiftName.literal(header)))"
                case .httpBearer: kind = ".httpBearer"
                case .oauth2AuthorizationCode: kind = ".oauth2"
                }
                let scopes = "[" + use.scopes.map(SwiftName.literal).joined(separator: ", ") + "]"
                return "SecurityRequirement(scheme: \(SwiftName.literal(use.schemeName)), kind: \(kind), scopes: \(scopes))"
            }.joined(separator: ", ") + "]"
        }
        return "[" + rendered.joined(separator: ", ") + "]"
    }

    private func descriptor(_ operation: Operation) -> String {
        let limit = operation.bodyLimit.map(String.init) ?? "nil"
        return "OperationDescriptor(id: \(SwiftName.literal(operation.operationID)), method: .\(operation.method.rawValue), "
            + "path: \(SwiftName.literal(operation.path)), security: \(securityLiteral(operation.security)), "
            + "acceptsBody: \(operation.requestBody != nil), bodyLimit: \(limit)"
            + (operation.isWebSocket ? ", isWebSocket: true)" : ")")
    }

    private struct InputField {
        var name: String
        var type: String
        var defaultValue: String?
    }

    private mutating func parameterStruct(
        _ title: String,
        _ parameters: [Parameter],
        nested: inout [TypesRenderer.Pending],
        into w: inout CodeWriter
    ) {
        var fields: [InputField] = []
        var pending: [TypesRenderer.Pending] = []
        for parameter in parameters {
            let type = types.type(parameter.schema, hint: SwiftName.type(parameter.name), nested: &pending)
            fields.append(InputField(name: SwiftName.member(parameter.name), type: parameter.isRequired ? type : type + "?", defaultValue: nil))
        }
        w.block("public struct \(title): Sendable") { w in
            for (parameter, field) in zip(parameters, fields) {
                w.doc(parameter.description)
                w.line("public var \(field.name): \(field.type)")
            }
            w.line()
            let arguments = fields.map { "\($0.name): \($0.type)\($0.type.hasSuffix("?") ? " = nil" : "")" }
            w.block("public init(\(arguments.joined(separator: ", ")))") { w in
                for field in fields { w.line("self.\(field.name) = \(field.name)") }
            }
            for item in pending {
                w.line()
                types.declare(item, into: &w)
            }
        }
    }

    private mutating func renderInput(_ operation: Operation, nested: inout [TypesRenderer.Pending], into w: inout CodeWriter) {
        w.line("/// What the handler receives, decoded and validated.")
        w.block("public struct Input: Sendable") { w in
            var fields: [InputField] = []
            for (location, title) in [(Parameter.Location.path, "Path"), (.query, "Query"), (.header, "Headers")] {
                let parameters = operation.parameters.filter { $0.location == location }
                guard !parameters.isEmpty else { continue }
                parameterStruct(title, parameters, nested: &nested, into: &w)
                w.line()
                let allOptional = parameters.allSatisfy { !$0.isRequired }
                fields.append(InputField(name: SwiftName.member(title), type: title, defaultValue: allOptional ? ".init()" : nil))
            }
            if operation.wantsRawBody, let body = operation.requestBody {
                // x-raw-body: the bytes as sent and, unless they are relayed, the body as the schema reads it.
                fields.append(InputField(name: "rawBody", type: "ByteBuffer", defaultValue: nil))
                fields.append(InputField(name: "contentType", type: "String?", defaultValue: "nil"))
                if !operation.isRelay {
                    let type = types.type(body.schema, hint: "RequestBody", nested: &nested)
                    fields.append(InputField(name: "body", type: "Result<\(body.isRequired ? type : type + "?"), GatewayError>", defaultValue: nil))
                }
            } else if let body = operation.requestBody {
                let type = types.type(body.schema, hint: "RequestBody", nested: &nested)
                fields.append(InputField(name: "body", type: body.isRequired ? type : type + "?", defaultValue: body.isRequired ? nil : "nil"))
            }
            fields.append(InputField(name: "accept", type: "AcceptHeader", defaultValue: ".init()"))
            for field in fields {
                if field.name == "body", let body = operation.requestBody {
                    w.line("/// The request body (\(body.contentTypes.joined(separator: ", "))).")
                    if operation.wantsRawBody {
                        w.line("/// Decoded and checked against its schema, or the 400 saying why, for the handler to")
                        w.line("/// answer in this operation's error shape.")
                    }
                }
                if field.name == "rawBody" { w.line("/// The request body exactly as sent (`x-raw-body`).") }
                if field.name == "contentType" { w.line("/// The request's `Content-Type`, for decoding ``rawBody``.") }
                if field.name == "accept" { w.line("/// The media types the client accepts, for operations that can answer in several.") }
                w.line("public var \(field.name): \(field.type)")
            }
            w.line()
            let arguments = fields.map { "\($0.name): \($0.type)" + ($0.defaultValue.map { " = \($0)" } ?? "") }
            w.block("public init(\(arguments.joined(separator: ", ")))") { w in
                for field in fields { w.line("self.\(field.name) = \(field.name)") }
            }
        }
    }

    private mutating func renderOutput(_ operation: Operation, nested: inout [TypesRenderer.Pending], into w: inout CodeWriter) {
        w.line("/// Every response the document promises, and nothing else.")
        w.block("public enum Output: Sendable") { w in
            for response in operation.responses {
                let caseName = Self.caseName(response.status)
                let caseType = SwiftName.type(caseName)
                var associated: [String] = []
                if response.status == .default { associated.append("status: Int") }
                if !response.contents.isEmpty { associated.append("\(caseType)Body") }
                if !response.headers.isEmpty {
                    let defaulted = response.headers.allSatisfy { !$0.isRequired } ? " = .init()" : ""
                    associated.append("headers: \(caseType)Headers\(defaulted)")
                }
                w.doc("\(statusDescription(response.status)): \(response.description)")
                w.line("case \(caseName)" + (associated.isEmpty ? "" : "(" + associated.joined(separator: ", ") + ")"))
            }
            for response in operation.responses {
                let caseType = SwiftName.type(Self.caseName(response.status))
                if !response.contents.isEmpty {
                    w.line()
                    w.block("public enum \(caseType)Body: Sendable") { w in
                        let single = response.contents.count == 1
                        for content in response.contents {
                            let element: String
                            if content.isRaw {
                                w.line("case \(Self.mediaCase(content.mediaType))(RawResponseBody)")
                                continue
                            } else if let schema = content.schema, content.mediaType != "text/event-stream",
                                ["application/json", "application/jsonl", "application/x-ndjson"].contains(content.mediaType)
                            {
                                let hint = caseType + (single ? "" : SwiftName.type(Self.mediaCase(content.mediaType))) + "Payload"
                                element = types.type(schema, hint: hint, nested: &nested) + (schema.nullable ? "?" : "")
                            } else {
                                element = "String"
                            }
                            w.line("case \(Self.mediaCase(content.mediaType))(\(payloadType(content.mediaType, element: element)))")
                        }
                    }
                }
                if !response.headers.isEmpty {
                    w.line()
                    let parameters = response.headers.map {
                        Parameter(name: $0.name, location: .header, isRequired: $0.isRequired, schema: $0.schema, description: $0.description)
                    }
                    parameterStruct("\(caseType)Headers", parameters, nested: &nested, into: &w)
                }
            }
        }
    }

    private func statusDescription(_ status: ResponseStatus) -> String {
        switch status {
        case .code(let code): "\(code)"
        case .default: "Any other status"
        }
    }

    // MARK: Protocol

    func renderProtocol(into w: inout CodeWriter) {
        w.line("/// The operations of the document. A conforming type implements every one of them: adding an")
        w.line("/// operation to `openapi.yaml` adds a requirement here, so the build fails until it is handled.")
        w.block("public protocol APIProtocol: Sendable") { w in
            w.line("/// The request context the handlers receive (after authentication).")
            w.line("associatedtype Context: RequestContext")
            for operation in api.operations where !operation.isWebSocket {
                w.line()
                w.doc(operation.summary)
                w.line("///")
                w.line("/// `\(operation.method.rawValue.uppercased()) \(operation.path)`")
                let name = Self.typeName(operation)
                w.line("func \(Self.methodName(operation))(_ input: Operations.\(name).Input, context: Context) async throws -> Operations.\(name).Output")
            }
        }
    }

    // MARK: Routes

    func renderRoutes(into w: inout CodeWriter) {
        w.line("/// Every operation of the document, in `operationId` order.")
        w.block("public enum OperationTable") { w in
            w.line("public static let all: [OperationDescriptor] = [")
            for operation in api.operations {
                w.line("    Operations.\(Self.typeName(operation)).descriptor,")
            }
            w.line("]")
        }
        w.line()
        w.block("extension APIProtocol") { w in
            w.line("/// Registers one route per operation on `router`.")
            w.line("///")
            w.line("/// Each route authenticates as the operation's `security` demands, decodes and validates the")
            w.line("/// input (answering 400 or 413 itself), calls the handler and encodes the case it returns.")
            w.block(
                "public func registerRoutes(on router: some RouterMethods<Context>, security: some SecurityHandler<Context>, options: RouteOptions = .init())"
            ) { w in
                for operation in api.operations where !operation.isWebSocket {
                    let name = Self.typeName(operation)
                    w.block("router.on(\(SwiftName.literal(operation.path)), method: .\(operation.method.rawValue))") { w in
                        w.line("request, context in")
                        w.line("try await Operations.\(name).respond(to: request, context: context, api: self, security: security, options: options)")
                    }
                }
            }
        }
        for operation in api.operations where !operation.isWebSocket {
            w.line()
            renderRespond(operation, into: &w)
        }
    }

    private func parameterExpression(_ parameter: Parameter) -> String {
        let source: String
        switch parameter.location {
        case .path: source = "context.parameters.get(\(SwiftName.literal(parameter.name)))"
        case .query:
            if case .array = parameter.schema.kind {
                return "try ParameterDecoding.array(queryFields.all(\(SwiftName.literal(parameter.name))), "
                    + "name: \(SwiftName.literal(parameter.name)), in: .query\(constraintArguments(parameter.schema)))"
            }
            source = "queryFields.first(\(SwiftName.literal(parameter.name)))"
        case .header: source = "request.headers.parameter(named: \(SwiftName.literal(parameter.name)))"
        }
        let function = parameter.isRequired ? "required" : "optional"
        return "try ParameterDecoding.\(function)(\(source), name: \(SwiftName.literal(parameter.name)), in: .\(parameter.location.rawValue)"
            + "\(constraintArguments(parameter.schema)))"
    }

    private func constraintArguments(_ schema: Schema) -> String {
        switch schema.kind {
        case .string(let c) where !c.isEmpty:
            return ", length: \(c.minLength.map(String.init) ?? "0")...\(c.maxLength.map(String.init) ?? "Int.max")"
        case .integer(let c) where !c.isEmpty:
            return ", within: \(c.minimum.map { String(Int($0)) } ?? "Int.min")...\(c.maximum.map { String(Int($0)) } ?? "Int.max")"
        case .number(let c) where !c.isEmpty:
            return ", within: \(c.minimum.map { "\($0)" } ?? "-Double.infinity")...\(c.maximum.map { "\($0)" } ?? "Double.infinity")"
        case .array(_, let c) where !c.isEmpty:
            return ", count: \(c.minItems.map(String.init) ?? "0")...\(c.maxItems.map(String.init) ?? "Int.max")"
        default:
            return ""
        }
    }

    private func renderRespond(_ operation: Operation, into w: inout CodeWriter) {
        let name = Self.typeName(operation)
        w.block("extension Operations.\(name)") { w in
            w.block(
                "static func respond<API: APIProtocol>(to request: Request, context: API.Context, api: API, security: some SecurityHandler<API.Context>, options: RouteOptions) async throws -> Response"
            ) { w in
                if !operation.security.isEmpty {
                    w.line("var context = context")
                    w.line("try await security.authenticate(request, context: &context, alternatives: descriptor.security)")
                }
                var arguments: [String] = []
                if operation.parameters.contains(where: { $0.location == .query }) {
                    // Form-decoded once (`+` is a space), for every query parameter.
                    w.line("let queryFields = try FormFields.query(request.uri.query)")
                }
                for (location, title) in [(Parameter.Location.path, "Path"), (.query, "Query"), (.header, "Headers")] {
                    let parameters = operation.parameters.filter { $0.location == location }
                    guard !parameters.isEmpty else { continue }
                    w.line("let \(SwiftName.bare(title)) = Input.\(title)(")
                    for (index, parameter) in parameters.enumerated() {
                        let comma = index == parameters.count - 1 ? "" : ","
                        w.line("    \(SwiftName.member(parameter.name)): \(parameterExpression(parameter))\(comma)")
                    }
                    w.line(")")
                    arguments.append("\(SwiftName.member(title)): \(SwiftName.bare(title))")
                }
                if let body = operation.requestBody {
                    let types = "[" + body.contentTypes.map(SwiftName.literal).joined(separator: ", ") + "]"
                    w.line("let rawBody = try await RequestBodyDecoding.collect(request, limit: descriptor.bodyLimit ?? options.defaultBodyLimit)")
                    if operation.wantsRawBody {
                        arguments.append("rawBody: rawBody")
                        arguments.append("contentType: request.headers[.contentType]")
                        if !operation.isRelay {
                            let function = body.isRequired ? "result" : "resultIfPresent"
                            arguments.append("body: RequestBodyDecoding.\(function)(from: rawBody, contentType: request.headers[.contentType], accepted: \(types))")
                        }
                    } else {
                        let function = body.isRequired ? "decode" : "decodeIfPresent"
                        arguments.append("body: try RequestBodyDecoding.\(function)(from: rawBody, contentType: request.headers[.contentType], accepted: \(types))")
                    }
                }
                arguments.append("accept: AcceptHeader(request.headers[.accept])")
                w.line("let input = Input(\(arguments.joined(separator: ", ")))")
                w.line("let output = try await api.\(Self.methodName(operation))(input, context: context)")
                w.block("switch output") { w in
                    for response in operation.responses {
                        renderResponseCase(response, into: &w)
                    }
                }
            }
        }
    }

    private func renderResponseCase(_ response: Response, into w: inout CodeWriter) {
        let caseName = Self.caseName(response.status)
        var bindings: [String] = []
        if response.status == .default { bindings.append("let code") }
        if !response.contents.isEmpty { bindings.append("let body") }
        if !response.headers.isEmpty { bindings.append("let headers") }
        w.line("case .\(caseName)" + (bindings.isEmpty ? "" : "(" + bindings.joined(separator: ", ") + ")") + ":")
        let status: String
        switch response.status {
        case .code(let code): status = "HTTPResponse.Status(code: \(code))"
        case .default: status = "HTTPResponse.Status(code: code)"
        }
        w.block("do") { w in
            w.line("\(response.headers.isEmpty ? "let" : "var") fields = HTTPFields()")
            for header in response.headers {
                w.line("fields.setParameter(headers.\(SwiftName.member(header.name)), named: \(SwiftName.literal(header.name)))")
            }
            if response.contents.isEmpty {
                w.line("return ResponseEncoding.empty(status: \(status), headers: fields)")
                return
            }
            w.block("switch body") { w in
                for content in response.contents {
                    let media = SwiftName.literal(content.mediaType)
                    let expression: String
                    switch content.mediaType {
                    case _ where content.isRaw:
                        expression = "ResponseEncoding.raw(value, contentType: \(media), status: \(status), headers: fields)"
                    case "application/json":
                        expression = "try ResponseEncoding.json(value, status: \(status), headers: fields)"
                    case "application/jsonl", "application/x-ndjson":
                        expression = "ResponseEncoding.jsonLines(value, contentType: \(media), status: \(status), headers: fields)"
                    case "text/event-stream":
                        expression = "ResponseEncoding.serverSentEvents(value, status: \(status), headers: fields)"
                    default:
                        expression = "ResponseEncoding.text(value, contentType: \(media), status: \(status), headers: fields)"
                    }
                    w.line("case .\(Self.mediaCase(content.mediaType))(let value): return \(expression)")
                }
            }
        }
    }
}
