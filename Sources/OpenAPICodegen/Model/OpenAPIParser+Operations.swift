import Foundation

/// Paths, operations, their parameters, request bodies and responses.
extension OpenAPIParser {
    mutating func operation(
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

    mutating func parameters(_ node: YAMLNode?) -> [Parameter] {
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

    mutating func requestBody(_ node: YAMLNode, _ what: String) -> RequestBody? {
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
        for (mediaType, media) in supportedMediaTypes(content, "request", among: Self.supportedRequestMediaTypes) {
            guard let schemaNode = media["schema"] else {
                error(media, "\(what): media type '\(mediaType)' needs a 'schema'")
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

    mutating func response(_ node: YAMLNode, status: ResponseStatus) -> Response? {
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
            for (mediaType, media) in supportedMediaTypes(content, "response", among: Self.supportedResponseMediaTypes) {
                let schema = media["schema"].flatMap { self.schema($0, "response body") }
                if ["application/json", "application/jsonl", "application/x-ndjson"].contains(mediaType) && schema == nil {
                    // An invalid schema has been reported already; only a missing one is news.
                    if media["schema"] == nil { error(media, "media type '\(mediaType)' needs a 'schema'") }
                    continue
                }
                let isRaw = bool(media["x-raw-body"], "x-raw-body") ?? false
                contents.append(Response.Content(mediaType: mediaType, schema: schema, isRaw: isRaw))
            }
        }
        return Response(status: status, description: description, headers: headers, contents: contents)
    }

    /// The media types of a `content` map that the generator supports for a `kind` ("request",
    /// "response") body, each with its node; any other is reported at its name and left out.
    mutating func supportedMediaTypes(_ content: YAMLNode, _ kind: String, among supported: [String]) -> [(String, YAMLNode)] {
        var result: [(String, YAMLNode)] = []
        for pair in pairs(content, "content") {
            let mediaType = pair.key.value
            guard supported.contains(mediaType) else {
                error(at: pair.key.location, "\(kind) media type '\(mediaType)' is not supported (\(supported.joined(separator: ", ")))")
                continue
            }
            checkKeys(pair.value, "media type '\(mediaType)'", allowed: ["schema", "example", "examples"])
            result.append((mediaType, pair.value))
        }
        return result
    }
}
