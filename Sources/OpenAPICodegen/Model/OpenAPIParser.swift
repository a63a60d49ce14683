import Foundation
/// Builds an ``APIDescription`` from the YAML tree, refusing anything it does not model.
///
/// Every refusal is a ``Diagnostic`` at the line and column of the construct, phrased as
/// "what is not supported" so the author knows what to change. Errors are collected so one build
/// reports all of them.
public struct OpenAPIParser {
    public var file: String
    private var diagnostics: [Diagnostic] = []
    private var root: YAMLNode = .mapping([], .init(line: 1, column: 1))

    public init(file: String) {
        self.file = file
    }

    public static let supportedRequestMediaTypes = ["application/json", "application/x-www-form-urlencoded"]
    public static let supportedResponseMediaTypes = [
        "application/json", "application/jsonl", "application/x-ndjson", "text/event-stream", "text/html", "text/plain",
        "application/yaml", "text/css", "text/javascript",
    ]

    /// Types the generator or the runtime declare in the same module namespace.
    static let reservedTypeNames: Set<String> = [
        "Operations", "OperationTable", "APIProtocol", "APIDocuments", "JSONValue", "GatewayError", "ErrorEnvelopeResponse",
        "AcceptHeader", "JSONLinesBody", "ServerSentEvent", "ServerSentEventsBody", "OperationDescriptor",
        "SecurityRequirement", "SecurityHandler", "RouteOptions", "ParameterValue", "Request", "Response", "String", "Int",
        "Double", "Bool", "Array", "Dictionary", "Optional", "Error",
    ]

    public mutating func parse(_ root: YAMLNode) throws -> APIDescription {
        self.root = root
        let api = document(root)
        if !diagnostics.isEmpty { throw DiagnosticList(diagnostics) }
        return api
    }

    // MARK: - Diagnostics helpers

    private mutating func error(_ node: YAMLNode, _ message: String) {
        diagnostics.append(Diagnostic(file: file, location: node.location, message: message))
    }

    private mutating func error(at location: SourceLocation, _ message: String) {
        diagnostics.append(Diagnostic(file: file, location: location, message: message))
    }

    private mutating func pairs(_ node: YAMLNode, _ what: String) -> [YAMLPair] {
        guard case .mapping(let pairs, _) = node else {
            error(node, "\(what) must be a mapping, found \(node.kindName)")
            return []
        }
        return pairs
    }

    /// Reports keys outside `allowed` (vendor extensions `x-…` are always allowed).
    private mutating func checkKeys(_ node: YAMLNode, _ what: String, allowed: Set<String>) {
        guard case .mapping(let pairs, _) = node else { return }
        for pair in pairs where !allowed.contains(pair.key.value) && !pair.key.value.hasPrefix("x-") {
            error(
                at: pair.key.location,
                "'\(pair.key.value)' in \(what) is not supported by the generator (supported: \(allowed.sorted().joined(separator: ", ")))"
            )
        }
    }

    private mutating func string(_ node: YAMLNode?, _ what: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a string, found \(node.kindName)")
            return nil
        }
        return scalar.value
    }

    private mutating func bool(_ node: YAMLNode?, _ what: String) -> Bool? {
        guard let node else { return nil }
        guard case .bool(let value) = DocumentValue(node) else {
            error(node, "\(what) must be true or false")
            return nil
        }
        return value
    }

    private mutating func int(_ node: YAMLNode?, _ what: String) -> Int? {
        guard let node else { return nil }
        guard case .integer(let value) = DocumentValue(node) else {
            error(node, "\(what) must be an integer")
            return nil
        }
        return value
    }

    private mutating func double(_ node: YAMLNode?, _ what: String) -> Double? {
        guard let node else { return nil }
        switch DocumentValue(node) {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        default:
            error(node, "\(what) must be a number")
            return nil
        }
    }

    // MARK: - Document

    private mutating func document(_ root: YAMLNode) -> APIDescription {
        checkKeys(root, "the document", allowed: ["openapi", "info", "servers", "paths", "components", "security", "tags", "externalDocs"])
        let version = string(root["openapi"], "openapi") ?? ""
        if root["openapi"] == nil {
            error(root, "missing 'openapi' version")
        } else if !version.hasPrefix("3.1.") {
            error(root["openapi"]!, "OpenAPI \(version) is not supported; the generator reads OpenAPI 3.1 documents")
        }
        var title = "API"
        var apiVersion = "0"
        if let info = root["info"] {
            title = string(info["title"], "info.title") ?? title
            apiVersion = string(info["version"], "info.version") ?? apiVersion
        } else {
            error(root, "missing 'info'")
        }
        if let servers = root["servers"] {
            if case .sequence(let items, _) = servers {
                for item in items {
                    checkKeys(item, "a server", allowed: ["url", "description"])
                    if string(item["url"], "servers[].url") == nil { error(item, "a server needs a 'url'") }
                }
            } else {
                error(servers, "servers must be a sequence")
            }
        }

        let components = root["components"]
        if let components {
            checkKeys(components, "components", allowed: ["schemas", "responses", "securitySchemes"])
        }
        let schemes = securitySchemes(components?["securitySchemes"])
        let globalSecurity = root["security"].map { security($0, schemes: schemes) } ?? []

        var schemas: [NamedSchema] = []
        if let node = components?["schemas"] {
            for pair in pairs(node, "components.schemas") {
                if Self.reservedTypeNames.contains(SwiftName.type(pair.key.value)) {
                    error(at: pair.key.location, "schema name '\(pair.key.value)' collides with a generated or runtime type; rename it")
                }
                if !isTypeName(pair.key.value) {
                    error(at: pair.key.location, "schema name '\(pair.key.value)' must be a Swift-friendly identifier (letters, digits, '_')")
                }
                if let schema = schema(pair.value, "components.schemas.\(pair.key.value)") {
                    schemas.append(NamedSchema(name: pair.key.value, schema: schema))
                }
            }
        }
        checkOneOfMembers(schemas)

        var operations: [Operation] = []
        var seenIDs: [String: SourceLocation] = [:]
        guard let paths = root["paths"] else {
            error(root, "missing 'paths'")
            return APIDescription(title: title, version: apiVersion, operations: [], schemas: [], securitySchemes: [])
        }
        for pathPair in pairs(paths, "paths") {
            let path = pathPair.key.value
            guard path.hasPrefix("/") else {
                error(at: pathPair.key.location, "path '\(path)' must start with '/'")
                continue
            }
            checkKeys(pathPair.value, "a path item", allowed: Set(HTTPMethod.allCases.map(\.rawValue) + ["summary", "description", "parameters"]))
            let shared = parameters(pathPair.value["parameters"])
            for pair in pairs(pathPair.value, "path item '\(path)'") {
                guard let method = HTTPMethod(rawValue: pair.key.value) else { continue }
                guard
                    let op = operation(
                        pair.value,
                        method: method,
                        path: path,
                        shared: shared,
                        globalSecurity: globalSecurity,
                        schemes: schemes
                    )
                else { continue }
                if let first = seenIDs[op.operationID] {
                    error(at: op.location, "duplicate operationId '\(op.operationID)' (first used at line \(first.line))")
                }
                seenIDs[op.operationID] = op.location
                operations.append(op)
            }
        }
        return APIDescription(
            title: title,
            version: apiVersion,
            operations: operations.sorted { $0.operationID < $1.operationID },
            schemas: schemas.sorted { $0.name < $1.name },
            securitySchemes: schemes.sorted { $0.name < $1.name }
        )
    }

    private func isTypeName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" }
    }

    // MARK: - Security

    private mutating func securitySchemes(_ node: YAMLNode?) -> [SecurityScheme] {
        guard let node else { return [] }
        var result: [SecurityScheme] = []
        for pair in pairs(node, "components.securitySchemes") {
            let name = pair.key.value
            let scheme = pair.value
            let what = "security scheme '\(name)'"
            switch string(scheme["type"], "\(what).type") {
            case "apiKey":
                checkKeys(scheme, what, allowed: ["type", "in", "name", "description"])
                guard string(scheme["in"], "\(what).in") == "header" else {
                    error(scheme["in"] ?? scheme, "\(what): only apiKey 'in: header' is supported")
                    continue
                }
                guard let header = string(scheme["name"], "\(what).name") else {
                    error(scheme, "\(what) needs 'name'")
                    continue
                }
                result.append(SecurityScheme(name: name, kind: .apiKeyHeader(name: header)))
            case "http":
                checkKeys(scheme, what, allowed: ["type", "scheme", "bearerFormat", "description"])
                guard string(scheme["scheme"], "\(what).scheme")?.lowercased() == "bearer" else {
                    error(scheme["scheme"] ?? scheme, "\(what): only the http 'bearer' scheme is supported")
                    continue
                }
                result.append(SecurityScheme(name: name, kind: .httpBearer))
            case "oauth2":
                checkKeys(scheme, what, allowed: ["type", "flows", "description"])
                guard let flows = scheme["flows"] else {
                    error(scheme, "\(what) needs 'flows'")
                    continue
                }
                checkKeys(flows, "\(what).flows", allowed: ["authorizationCode"])
                guard let flow = flows["authorizationCode"] else {
                    error(flows, "\(what): only the authorizationCode flow is supported")
                    continue
                }
                checkKeys(flow, "\(what).flows.authorizationCode", allowed: ["authorizationUrl", "tokenUrl", "refreshUrl", "scopes"])
                let authorizationURL = string(flow["authorizationUrl"], "authorizationUrl")
                let tokenURL = string(flow["tokenUrl"], "tokenUrl")
                guard let authorizationURL, let tokenURL else {
                    error(flow, "\(what): authorizationCode needs authorizationUrl and tokenUrl")
                    continue
                }
                let scopes = flow["scopes"].map { pairs($0, "scopes").map(\.key.value) } ?? []
                if flow["scopes"] == nil { error(flow, "\(what): authorizationCode needs 'scopes' (it may be {})") }
                result.append(
                    SecurityScheme(
                        name: name,
                        kind: .oauth2AuthorizationCode(
                            authorizationURL: authorizationURL,
                            tokenURL: tokenURL,
                            refreshURL: string(flow["refreshUrl"], "refreshUrl"),
                            scopes: scopes
                        )
                    )
                )
            case let other?:
                error(scheme["type"]!, "security scheme type '\(other)' is not supported (supported: apiKey, http, oauth2)")
            case nil:
                error(scheme, "\(what) needs 'type'")
            }
        }
        return result
    }

    private mutating func security(_ node: YAMLNode, schemes: [SecurityScheme]) -> [[SecurityUse]] {
        guard case .sequence(let items, _) = node else {
            error(node, "security must be a sequence of requirement objects")
            return []
        }
        var alternatives: [[SecurityUse]] = []
        for item in items {
            let requirement = pairs(item, "a security requirement")
            if requirement.isEmpty {
                error(item, "an empty security requirement ({}, optional authentication) is not supported; use 'security: []' for a public operation")
                continue
            }
            var uses: [SecurityUse] = []
            for pair in requirement {
                guard let scheme = schemes.first(where: { $0.name == pair.key.value }) else {
                    error(at: pair.key.location, "security requirement names unknown scheme '\(pair.key.value)'")
                    continue
                }
                guard case .sequence(let scopeNodes, _) = pair.value else {
                    error(pair.value, "the scopes of '\(pair.key.value)' must be a list")
                    continue
                }
                let scopes = scopeNodes.compactMap { string($0, "a scope") }
                if case .oauth2AuthorizationCode(_, _, _, let declared) = scheme.kind {
                    for (scope, node) in zip(scopes, scopeNodes) where !declared.contains(scope) {
                        error(node, "scope '\(scope)' is not declared by '\(scheme.name)'")
                    }
                }
                uses.append(SecurityUse(schemeName: scheme.name, scopes: scopes))
            }
            alternatives.append(uses)
        }
        return alternatives
    }

    // MARK: - Operations

    private mutating func operation(
        _ node: YAMLNode,
        method: HTTPMethod,
        path: String,
        shared: [Parameter],
        globalSecurity: [[SecurityUse]],
        schemes: [SecurityScheme]
    ) -> Operation? {
        let what = "\(method.rawValue.uppercased()) \(path)"
        checkKeys(
            node,
            "operation \(what)",
            allowed: ["operationId", "summary", "description", "tags", "parameters", "requestBody", "responses", "security", "deprecated", "externalDocs"]
        )
        guard let operationID = string(node["operationId"], "operationId") else {
            error(node, "operation \(what) needs an operationId: it names the handler method")
            return nil
        }
        if !isTypeName(operationID) {
            error(node["operationId"]!, "operationId '\(operationID)' must be an identifier (letters, digits, '_')")
        }
        var parameters = shared
        for parameter in self.parameters(node["parameters"]) {
            parameters.removeAll { $0.name == parameter.name && $0.location == parameter.location }
            parameters.append(parameter)
        }
        let templateNames = Self.templateNames(path)
        for name in templateNames where !parameters.contains(where: { $0.location == .path && $0.name == name }) {
            error(node, "\(what): path template {\(name)} has no 'in: path' parameter")
        }
        for parameter in parameters where parameter.location == .path && !templateNames.contains(parameter.name) {
            error(at: parameter.schema.location, "\(what): path parameter '\(parameter.name)' is not in the path template")
        }
        let requestBody = node["requestBody"].flatMap { self.requestBody($0, what) }
        var responses: [Response] = []
        if let responsesNode = node["responses"] {
            for pair in pairs(responsesNode, "responses") {
                let status: ResponseStatus
                if pair.key.value == "default" {
                    status = .default
                } else if let code = Int(pair.key.value), (100...599).contains(code) {
                    status = .code(code)
                } else {
                    error(at: pair.key.location, "response status '\(pair.key.value)' is not supported (use a status code or 'default')")
                    continue
                }
                if let response = response(pair.value, status: status) { responses.append(response) }
            }
        }
        if responses.isEmpty { error(node, "operation \(operationID) documents no responses") }
        let security = node["security"].map { self.security($0, schemes: schemes) } ?? globalSecurity

        // Generated code can answer 400, 401, 413 and 429 on its own; the spec must say so.
        let statuses = Set(responses.map(\.status))
        let wantsRawBody = bool(node["x-raw-body"], "x-raw-body") ?? false
        if wantsRawBody && requestBody == nil {
            error(node["x-raw-body"]!, "x-raw-body needs a requestBody (it documents the bytes the handler receives)")
        }
        let isRelay = bool(node["x-relay"], "x-relay") ?? false
        if isRelay && !wantsRawBody {
            error(node["x-relay"]!, "x-relay needs x-raw-body: true (a relayed body reaches the handler as bytes)")
        }
        // A raw body's decoding failure goes to the handler, which answers it in the operation's own
        // error shape (JSON-RPC, OAuth); only parameters are a 400 of the generated route.
        let decodes = (requestBody != nil && !wantsRawBody) || !parameters.isEmpty
        if decodes && !statuses.contains(.code(400)) {
            error(node["responses"] ?? node, "operation \(operationID) decodes input but documents no 400 response")
        }
        if !security.isEmpty && !statuses.contains(.code(401)) {
            error(node["responses"] ?? node, "operation \(operationID) requires authentication but documents no 401 response")
        }
        if !security.isEmpty && !statuses.contains(.code(429)) {
            error(node["responses"] ?? node, "operation \(operationID) requires authentication but documents no 429 response (authenticated callers are rate limited)")
        }
        if requestBody != nil && !statuses.contains(.code(413)) {
            error(node["responses"] ?? node, "operation \(operationID) takes a request body but documents no 413 response")
        }
        let isWebSocket = bool(node["x-websocket"], "x-websocket") ?? false
        if isWebSocket && (method != .get || requestBody != nil) {
            error(node["x-websocket"]!, "a WebSocket upgrade (x-websocket) must be a GET without a request body")
        }
        let bodyLimit = int(node["x-body-limit"], "x-body-limit")
        if let bodyLimit, bodyLimit <= 0 { error(node["x-body-limit"]!, "x-body-limit must be positive") }
        return Operation(
            operationID: operationID,
            method: method,
            path: path,
            summary: string(node["summary"], "summary"),
            description: string(node["description"], "description"),
            parameters: parameters,
            requestBody: requestBody,
            responses: responses.sorted { $0.status < $1.status },
            security: security,
            bodyLimit: bodyLimit,
            wantsRawBody: wantsRawBody,
            isRelay: isRelay,
            isWebSocket: isWebSocket,
            location: node.location
        )
    }

    static func templateNames(_ path: String) -> [String] {
        var names: [String] = []
        var current: String?
        for character in path {
            if character == "{" {
                current = ""
            } else if character == "}", let name = current {
                names.append(name)
                current = nil
            } else if current != nil {
                current?.append(character)
            }
        }
        return names
    }

    private mutating func parameters(_ node: YAMLNode?) -> [Parameter] {
        guard let node else { return [] }
        guard case .sequence(let items, _) = node else {
            error(node, "parameters must be a sequence")
            return []
        }
        var result: [Parameter] = []
        for item in items {
            if item["$ref"] != nil {
                error(item, "parameters given by $ref are not supported; write the parameter inline")
                continue
            }
            checkKeys(item, "a parameter", allowed: ["name", "in", "required", "schema", "description", "deprecated", "example", "examples", "style", "explode"])
            guard let name = string(item["name"], "parameter name") else {
                error(item, "a parameter needs 'name'")
                continue
            }
            let locationName = string(item["in"], "parameter '\(name)'.in")
            guard let location = locationName.flatMap(Parameter.Location.init(rawValue:)) else {
                error(item["in"] ?? item, "parameter '\(name)': 'in: \(locationName ?? "")' is not supported (path, query, header)")
                continue
            }
            if let style = string(item["style"], "style") {
                let defaultStyle = location == .query ? "form" : "simple"
                if style != defaultStyle {
                    error(item["style"]!, "parameter '\(name)': style '\(style)' is not supported (only the default, '\(defaultStyle)')")
                }
            }
            if let explode = bool(item["explode"], "explode"), explode != (location == .query) {
                error(item["explode"]!, "parameter '\(name)': a non-default 'explode' is not supported")
            }
            let isRequired = bool(item["required"], "required") ?? false
            if location == .path && !isRequired {
                error(item, "path parameter '\(name)' must have 'required: true'")
            }
            guard let schemaNode = item["schema"] else {
                error(item, "parameter '\(name)' needs a 'schema'")
                continue
            }
            guard let schema = schema(schemaNode, "parameter '\(name)'") else { continue }
            if case .string(let constraints) = schema.kind, !constraints.excluded.isEmpty || constraints.pattern != nil {
                error(schemaNode, "parameter '\(name)': 'not' and 'pattern' are supported in body schemas only")
            }
            switch schema.kind {
            case .string, .stringEnum, .integer, .number, .boolean:
                break
            case .array(let element, _) where location == .query:
                switch element.kind {
                case .string, .stringEnum, .integer, .number, .boolean: break
                default: error(schemaNode, "parameter '\(name)': arrays of \(describe(element)) are not supported")
                }
            default:
                error(schemaNode, "parameter '\(name)': \(describe(schema)) parameters are not supported (strings, numbers, booleans, string enums; arrays of those in query)")
            }
            result.append(
                Parameter(name: name, location: location, isRequired: isRequired, schema: schema, description: string(item["description"], "description"))
            )
        }
        return result
    }

    private mutating func requestBody(_ node: YAMLNode, _ what: String) -> RequestBody? {
        if node["$ref"] != nil {
            error(node, "request bodies given by $ref are not supported; write the request body inline")
            return nil
        }
        checkKeys(node, "a request body", allowed: ["content", "required", "description"])
        guard let content = node["content"] else {
            error(node, "\(what): a request body needs 'content'")
            return nil
        }
        var types: [String] = []
        var schemas: [(YAMLNode, Schema)] = []
        for pair in pairs(content, "content") {
            let mediaType = pair.key.value
            guard Self.supportedRequestMediaTypes.contains(mediaType) else {
                error(at: pair.key.location, "request media type '\(mediaType)' is not supported (\(Self.supportedRequestMediaTypes.joined(separator: ", ")))")
                continue
            }
            checkKeys(pair.value, "media type '\(mediaType)'", allowed: ["schema", "example", "examples"])
            guard let schemaNode = pair.value["schema"] else {
                error(pair.value, "\(what): media type '\(mediaType)' needs a 'schema'")
                continue
            }
            if let schema = schema(schemaNode, "request body") {
                types.append(mediaType)
                schemas.append((schemaNode, schema))
            }
        }
        guard let first = schemas.first else { return nil }
        for (node, _) in schemas.dropFirst() where DocumentValue(node) != DocumentValue(first.0) {
            error(node, "\(what): every request media type must use the same schema (they decode into one Swift type)")
        }
        if types.contains("application/x-www-form-urlencoded") {
            let resolved = resolveReference(first.1)
            guard case .object(let object) = resolved?.kind else {
                error(first.0, "\(what): a form-encoded body must be an object schema")
                return nil
            }
            for property in object.properties {
                switch (resolveReference(property.schema) ?? property.schema).kind {
                case .string, .stringEnum, .integer, .number, .boolean: break
                default: error(at: property.schema.location, "form field '\(property.name)' must be a string, number, boolean or string enum")
                }
            }
        }
        return RequestBody(isRequired: bool(node["required"], "required") ?? false, contentTypes: types, schema: first.1)
    }

    private mutating func response(_ node: YAMLNode, status: ResponseStatus) -> Response? {
        var node = node
        if let reference = node["$ref"] {
            let prefix = "#/components/responses/"
            guard let target = string(reference, "$ref"), target.hasPrefix(prefix),
                let resolved = root["components"]?["responses"]?[String(target.dropFirst(prefix.count))]
            else {
                error(reference, "response $ref must name an entry of #/components/responses")
                return nil
            }
            node = resolved
        }
        checkKeys(node, "a response", allowed: ["description", "headers", "content"])
        let description = string(node["description"], "description") ?? ""
        if node["description"] == nil { error(node, "a response needs a 'description'") }
        var headers: [Response.Header] = []
        if let headersNode = node["headers"] {
            for pair in pairs(headersNode, "headers") {
                checkKeys(pair.value, "response header '\(pair.key.value)'", allowed: ["description", "schema", "required"])
                guard let schemaNode = pair.value["schema"], let schema = schema(schemaNode, "header") else {
                    if pair.value["schema"] == nil { error(pair.value, "response header '\(pair.key.value)' needs a 'schema'") }
                    continue
                }
                switch schema.kind {
                case .string, .integer, .number, .boolean, .stringEnum: break
                default: error(schemaNode, "response header '\(pair.key.value)': only scalar schemas are supported")
                }
                headers.append(
                    Response.Header(
                        name: pair.key.value,
                        schema: schema,
                        isRequired: bool(pair.value["required"], "required") ?? false,
                        description: string(pair.value["description"], "description")
                    )
                )
            }
        }
        var contents: [Response.Content] = []
        if let content = node["content"] {
            for pair in pairs(content, "content") {
                let mediaType = pair.key.value
                guard Self.supportedResponseMediaTypes.contains(mediaType) else {
                    error(at: pair.key.location, "response media type '\(mediaType)' is not supported (\(Self.supportedResponseMediaTypes.joined(separator: ", ")))")
                    continue
                }
                checkKeys(pair.value, "media type '\(mediaType)'", allowed: ["schema", "example", "examples"])
                let schema = pair.value["schema"].flatMap { self.schema($0, "response body") }
                if ["application/json", "application/jsonl", "application/x-ndjson"].contains(mediaType) && schema == nil {
                    // An invalid schema has been reported already; only a missing one is news.
                    if pair.value["schema"] == nil { error(pair.value, "media type '\(mediaType)' needs a 'schema'") }
                    continue
                }
                let isRaw = bool(pair.value["x-raw-body"], "x-raw-body") ?? false
                contents.append(Response.Content(mediaType: mediaType, schema: schema, isRaw: isRaw))
            }
        }
        return Response(status: status, description: description, headers: headers, contents: contents)
    }

    // MARK: - Schemas

    private static let schemaKeys: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "$ref", "oneOf", "discriminator",
        "description", "title", "format", "example", "examples", "default", "deprecated", "readOnly", "writeOnly",
        "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "const", "not", "pattern",
    ]

    private mutating func schema(_ node: YAMLNode, _ what: String) -> Schema? {
        guard case .mapping = node else {
            if case .scalar(let scalar) = node, scalar.isPlain, scalar.value == "true" {
                return Schema(kind: .any, location: node.location)
            }
            error(node, "\(what): a schema must be a mapping")
            return nil
        }
        checkKeys(node, "a schema", allowed: Self.schemaKeys)
        let description = string(node["description"], "description")
        if let reference = node["$ref"] {
            let prefix = "#/components/schemas/"
            guard let target = string(reference, "$ref"), target.hasPrefix(prefix) else {
                error(reference, "only local references to #/components/schemas/… are supported")
                return nil
            }
            let name = String(target.dropFirst(prefix.count))
            guard root["components"]?["schemas"]?[name] != nil else {
                error(reference, "$ref names an unknown schema '\(name)'")
                return nil
            }
            if case .mapping(let pairs, _) = node,
                let extra = pairs.first(where: { !["$ref", "description", "summary"].contains($0.key.value) && !$0.key.value.hasPrefix("x-") })
            {
                error(at: extra.key.location, "'\(extra.key.value)' beside $ref is not supported; put it in the referenced schema")
            }
            return Schema(kind: .reference(name), description: description, location: node.location)
        }
        if node["const"] != nil {
            error(node["const"]!, "'const' is not supported; use a one-value 'enum'")
            return nil
        }
        if let oneOf = node["oneOf"] {
            return self.oneOf(node, oneOf, description: description)
        }

        // `type` is a name, or a list of one name and "null".
        var nullable = false
        var typeName: String?
        switch node["type"] {
        case nil:
            if node["properties"] != nil {
                typeName = "object"
            } else if node["enum"] != nil {
                typeName = "string"
            } else {
                return Schema(kind: .any, description: description, location: node.location)
            }
        case .scalar(let scalar)?:
            typeName = scalar.value
        case .sequence(let items, _)?:
            let names = items.compactMap(\.scalarValue)
            let nonNull = names.filter { $0 != "null" }
            nullable = names.contains("null")
            guard nonNull.count == 1, names.count == items.count else {
                error(node["type"]!, "a type list must be one type and \"null\" (e.g. [string, \"null\"])")
                return nil
            }
            typeName = nonNull[0]
        case let other?:
            error(other, "'type' must be a name or a list")
            return nil
        }

        let kind: SchemaKind
        switch typeName {
        case "string":
            if let values = node["enum"] {
                guard case .sequence(let items, _) = values, !items.isEmpty else {
                    error(values, "'enum' must be a non-empty list")
                    return nil
                }
                var cases: [String] = []
                for item in items {
                    if case .null = DocumentValue(item), nullable { continue }
                    guard case .string(let value) = DocumentValue(item) else {
                        error(item, "enum values must be strings (numeric and boolean enums are not supported)")
                        continue
                    }
                    cases.append(value)
                }
                kind = .stringEnum(cases)
            } else {
                var constraints = StringConstraints(minLength: int(node["minLength"], "minLength"), maxLength: int(node["maxLength"], "maxLength"))
                if let not = node["not"] { constraints.excluded = excludedValues(not) }
                if let pattern = node["pattern"] {
                    constraints.pattern = string(pattern, "pattern")
                    if let regex = constraints.pattern, (try? NSRegularExpression(pattern: regex)) == nil {
                        error(pattern, "'pattern' is not a regular expression this generator's runtime can read")
                    }
                }
                kind = .string(constraints)
            }
        case "integer":
            kind = .integer(numberConstraints(node))
        case "number":
            kind = .number(numberConstraints(node))
        case "boolean":
            kind = .boolean
        case "array":
            guard let itemsNode = node["items"] else {
                error(node, "\(what): an array needs 'items'")
                return nil
            }
            guard let items = schema(itemsNode, "items") else { return nil }
            kind = .array(items, ArrayConstraints(minItems: int(node["minItems"], "minItems"), maxItems: int(node["maxItems"], "maxItems")))
        case "object":
            guard var object = objectSchema(node, what) else { return nil }
            if object.properties.isEmpty, case .ignored = object.additionalProperties {
                // A free-form object is still an object: any keys, any values, but not `true` or `[]`.
                object.additionalProperties = .typed(Schema(kind: .any, location: node.location))
            }
            kind = .object(object)
        case let other?:
            error(node["type"] ?? node, "type '\(other)' is not supported")
            return nil
        case nil:
            return nil
        }
        if node["enum"] != nil, typeName != "string" {
            error(node["enum"]!, "'enum' is supported on strings only")
        }
        if let pattern = node["pattern"], !(typeName == "string" && node["enum"] == nil) {
            error(pattern, "'pattern' applies to strings without 'enum' only")
        }
        if let not = node["not"], !(typeName == "string" && node["enum"] == nil) {
            error(not, "'not' is supported only as `not: {enum: [...]}` on a string without 'enum'")
        }
        for key in ["minLength", "maxLength"] where node[key] != nil && typeName != "string" {
            error(node[key]!, "'\(key)' applies to strings only")
        }
        for key in ["minimum", "maximum"] where node[key] != nil && typeName != "integer" && typeName != "number" {
            error(node[key]!, "'\(key)' applies to numbers only")
        }
        for key in ["minItems", "maxItems"] where node[key] != nil && typeName != "array" {
            error(node[key]!, "'\(key)' applies to arrays only")
        }
        return Schema(kind: kind, nullable: nullable, description: description, location: node.location)
    }

    /// `not: {enum: [...]}` on a string: the values it must not take.
    private mutating func excludedValues(_ node: YAMLNode) -> [String] {
        checkKeys(node, "a 'not' schema", allowed: ["enum", "description"])
        guard case .sequence(let items, _)? = node["enum"], !items.isEmpty else {
            error(node, "'not' must be {enum: [...]} with a non-empty list of strings")
            return []
        }
        return items.compactMap { item in
            guard case .string(let value) = DocumentValue(item) else {
                error(item, "'not' enum values must be strings")
                return nil
            }
            return value
        }
    }

    private mutating func numberConstraints(_ node: YAMLNode) -> NumberConstraints {
        NumberConstraints(minimum: double(node["minimum"], "minimum"), maximum: double(node["maximum"], "maximum"))
    }

    private mutating func objectSchema(_ node: YAMLNode, _ what: String) -> ObjectSchema? {
        var requiredNames: [String] = []
        if let required = node["required"] {
            guard case .sequence(let items, _) = required else {
                error(required, "'required' must be a list of property names")
                return nil
            }
            requiredNames = items.compactMap { string($0, "a required property name") }
            for (name, item) in zip(requiredNames, items) where node["properties"]?[name] == nil {
                error(item, "required property '\(name)' is not defined in 'properties'")
            }
        }
        var properties: [ObjectSchema.Property] = []
        if let propertiesNode = node["properties"] {
            for pair in pairs(propertiesNode, "properties") {
                guard let schema = schema(pair.value, "property '\(pair.key.value)'") else { continue }
                properties.append(.init(name: pair.key.value, schema: schema, isRequired: requiredNames.contains(pair.key.value)))
            }
        }
        var additional = ObjectSchema.AdditionalProperties.ignored
        if let additionalNode = node["additionalProperties"] {
            switch DocumentValue(additionalNode) {
            case .bool(true): additional = .ignored
            case .bool(false): additional = .forbidden
            default:
                guard let schema = schema(additionalNode, "additionalProperties") else { return nil }
                additional = .typed(schema)
            }
        }
        return ObjectSchema(properties: properties, additionalProperties: additional)
    }

    private mutating func oneOf(_ node: YAMLNode, _ oneOf: YAMLNode, description: String?) -> Schema? {
        if case .mapping(let pairs, _) = node,
            let extra = pairs.first(where: { !["oneOf", "discriminator", "description", "title", "example", "examples"].contains($0.key.value) && !$0.key.value.hasPrefix("x-") })
        {
            error(at: extra.key.location, "'\(extra.key.value)' beside oneOf is not supported")
        }
        // Without a discriminator, members are tried in order when decoding.
        let discriminator = node["discriminator"]
        var propertyName: String?
        if let discriminator {
            checkKeys(discriminator, "discriminator", allowed: ["propertyName", "mapping"])
            guard let name = string(discriminator["propertyName"], "propertyName") else {
                error(discriminator, "a discriminator needs 'propertyName'")
                return nil
            }
            propertyName = name
        }
        guard case .sequence(let items, _) = oneOf, !items.isEmpty else {
            error(oneOf, "oneOf must be a non-empty list")
            return nil
        }
        var names: [String] = []
        let prefix = "#/components/schemas/"
        for item in items {
            guard let reference = item["$ref"].flatMap(\.scalarValue), reference.hasPrefix(prefix) else {
                error(item, "every oneOf member must be a $ref to #/components/schemas/…")
                continue
            }
            let name = String(reference.dropFirst(prefix.count))
            if root["components"]?["schemas"]?[name] == nil {
                error(item, "$ref names an unknown schema '\(name)'")
                continue
            }
            names.append(name)
        }
        var tags: [String: String] = [:]
        if let mapping = discriminator?["mapping"] {
            for pair in pairs(mapping, "discriminator.mapping") {
                guard let reference = string(pair.value, "mapping value"), reference.hasPrefix(prefix),
                    names.contains(String(reference.dropFirst(prefix.count)))
                else {
                    error(pair.value, "discriminator mapping must point at one of the oneOf members")
                    continue
                }
                tags[String(reference.dropFirst(prefix.count)), default: pair.key.value] = pair.key.value
            }
        }
        let members = names.map { OneOfSchema.Member(tag: tags[$0] ?? $0, schemaName: $0) }
        return Schema(kind: .oneOf(OneOfSchema(propertyName: propertyName, members: members)), description: description, location: node.location)
    }

    /// oneOf members must be objects that carry the discriminator as a required string property.
    private mutating func checkOneOfMembers(_ schemas: [NamedSchema]) {
        let byName = Dictionary(schemas.map { ($0.name, $0.schema) }, uniquingKeysWith: { first, _ in first })
        func visit(_ schema: Schema) {
            switch schema.kind {
            case .oneOf(let oneOf):
                guard let propertyName = oneOf.propertyName else { break }
                for member in oneOf.members {
                    guard let target = byName[member.schemaName], case .object(let object) = target.kind,
                        let property = object.properties.first(where: { $0.name == propertyName }), property.isRequired
                    else {
                        error(at: schema.location, "oneOf member '\(member.schemaName)' must be an object with the required property '\(propertyName)'")
                        continue
                    }
                    switch property.schema.kind {
                    case .string: break
                    case .stringEnum(let values) where values.contains(member.tag): break
                    default:
                        error(at: property.schema.location, "'\(propertyName)' of '\(member.schemaName)' must be a string that allows '\(member.tag)'")
                    }
                }
            case .array(let items, _): visit(items)
            case .object(let object):
                object.properties.forEach { visit($0.schema) }
                if case .typed(let additional) = object.additionalProperties { visit(additional) }
            default: break
            }
        }
        schemas.forEach { visit($0.schema) }
    }

    private func resolveReference(_ schema: Schema) -> Schema? {
        guard case .reference(let name) = schema.kind else { return schema }
        guard let node = root["components"]?["schemas"]?[name] else { return nil }
        var scratch = OpenAPIParser(file: file)
        scratch.root = root
        return scratch.schema(node, name)
    }

    private func describe(_ schema: Schema) -> String {
        switch schema.kind {
        case .reference(let name): "'\(name)'"
        case .string, .stringEnum: "string"
        case .integer: "integer"
        case .number: "number"
        case .boolean: "boolean"
        case .array: "array"
        case .object: "object"
        case .any: "free-form"
        case .oneOf: "oneOf"
        }
    }
}
