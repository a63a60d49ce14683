/// Derives the documents the server publishes from `openapi.yaml`: the full contract and the
/// GPT Actions view, each with the public base URL left as a placeholder for the server to fill in.
public struct ServedDocuments {
    /// Stands where the public base URL goes; the server substitutes the configured one.
    public static let serverURLPlaceholder = "https://codex-gateway.invalid"

    public var full: DocumentValue
    public var gpt: DocumentValue

    /// Limits the GPT Actions importer applies.
    public static let gptMaxOperations = 30
    public static let gptMaxDescription = 300
    public static let gptMaxParameterDescription = 700

    /// Extensions that steer the generator; they are not part of the served contract.
    static let generatorExtensions: Set<String> = ["x-body-limit", "x-raw-body", "x-relay", "x-gpt-action", "x-websocket"]

    public static func derive(from root: YAMLNode, api: APIDescription, file: String) throws -> ServedDocuments {
        let document = DocumentValue(root)
        let full = withPlaceholderURLs(document, api: api)
        let gpt = try gptView(of: root, full: full, api: api, file: file)
        return ServedDocuments(full: full, gpt: gpt)
    }

    /// `servers` becomes the one public base URL; relative OAuth URLs become absolute under it.
    static func withPlaceholderURLs(_ document: DocumentValue, api: APIDescription) -> DocumentValue {
        var document = document
        var server: [(String, DocumentValue)] = [("url", .string(serverURLPlaceholder))]
        if case .array(let servers)? = document["servers"], let description = servers.first?["description"] {
            server.append(("description", description))
        }
        document["servers"] = .array([.object(server)])
        for scheme in api.securitySchemes {
            guard case .oauth2AuthorizationCode = scheme.kind,
                var flow = document["components"]?["securitySchemes"]?[scheme.name]?["flows"]?["authorizationCode"]
            else { continue }
            for key in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
                if case .string(let url)? = flow[key], url.hasPrefix("/") {
                    flow[key] = .string(serverURLPlaceholder + url)
                }
            }
            document["components"]?["securitySchemes"]?[scheme.name]?["flows"]?["authorizationCode"] = flow
        }
        return document
    }

    static func gptView(of root: YAMLNode, full: DocumentValue, api: APIDescription, file: String) throws -> DocumentValue {
        var diagnostics: [Diagnostic] = []
        guard let oauth = api.securitySchemes.first(where: { if case .oauth2AuthorizationCode = $0.kind { true } else { false } }) else {
            throw Diagnostic(
                file: file,
                location: root["components"]?.location ?? root.location,
                message: "the GPT Actions view needs an oauth2 authorizationCode security scheme in components.securitySchemes"
            )
        }
        var paths: [(String, DocumentValue)] = []
        var count = 0
        var pathPairs: [YAMLPair] = []
        if case .mapping(let pairs, _)? = root["paths"] { pathPairs = pairs }
        for pathPair in pathPairs {
            let path = pathPair.key.value
            guard var item = full["paths"]?[path], case .object(let itemPairs) = item else { continue }
            for (key, _) in itemPairs where key == "parameters" {
                item["parameters"] = withoutHeaderParameters(item["parameters"])
            }
            for method in HTTPMethod.allCases {
                guard let operation = api.operations.first(where: { $0.path == path && $0.method == method }),
                    var value = item[method.rawValue]
                else { continue }
                let node = pathPair.value[method.rawValue]
                if case .bool(false)? = node?["x-gpt-action"].map(DocumentValue.init) {
                    item[method.rawValue] = nil
                    continue
                }
                count += 1
                for key in ["summary", "description"] {
                    if case .string(let text)? = value[key], text.count > gptMaxDescription {
                        diagnostics.append(
                            Diagnostic(
                                file: file,
                                location: node?[key]?.location ?? operation.location,
                                message: "\(key) of \(operation.operationID) has \(text.count) characters; GPT Actions allow \(gptMaxDescription) (shorten it or set x-gpt-action: false)"
                            )
                        )
                    }
                }
                value["parameters"] = withoutHeaderParameters(value["parameters"])
                if case .array(let parameters)? = value["parameters"] {
                    for parameter in parameters {
                        if case .string(let text)? = parameter["description"], text.count > gptMaxParameterDescription {
                            diagnostics.append(
                                Diagnostic(
                                    file: file,
                                    location: operation.location,
                                    message: "a parameter description of \(operation.operationID) exceeds \(gptMaxParameterDescription) characters, the GPT Actions limit"
                                )
                            )
                        }
                    }
                }
                if let body = operation.requestBody, !body.contentTypes.contains("application/json") {
                    diagnostics.append(
                        Diagnostic(
                            file: file,
                            location: operation.location,
                            message: "\(operation.operationID) takes no JSON body, which GPT Actions cannot send: set x-gpt-action: false"
                        )
                    )
                }
                if var content = value["requestBody"]?["content"], case .object(let types) = content {
                    for (type, _) in types where type != "application/json" { content[type] = nil }
                    value["requestBody"]?["content"] = content
                }
                let requirement: [DocumentValue] = operation.security.isEmpty
                    ? []
                    : [.object([(oauth.name, .array(scopes(of: operation).map(DocumentValue.string)))])]
                value["security"] = .array(requirement)
                item[method.rawValue] = stripped(value)
            }
            if case .object(let remaining) = item, remaining.contains(where: { HTTPMethod(rawValue: $0.0) != nil }) {
                paths.append((path, item))
            }
        }
        if count > gptMaxOperations {
            diagnostics.append(
                Diagnostic(
                    file: file,
                    location: root["paths"]?.location ?? root.location,
                    message: "the GPT Actions view has \(count) operations; GPT Actions allow \(gptMaxOperations) (mark some x-gpt-action: false)"
                )
            )
        }
        if !diagnostics.isEmpty { throw DiagnosticList(diagnostics) }

        var document: DocumentValue = .object([
            ("openapi", .string("3.1.0")),
            ("info", full["info"] ?? .object([])),
            ("servers", .array([.object([("url", .string(serverURLPlaceholder))])])),
            ("paths", .object(paths)),
        ])
        var components = full["components"] ?? .object([])
        components["securitySchemes"] = .object([(oauth.name, full["components"]?["securitySchemes"]?[oauth.name] ?? .null)])
        document["components"] = components
        document["security"] = .array([.object([(oauth.name, .array([]))])])
        document = pruneComponents(document)
        if document["components"]?["schemas"] == nil { document["components"]?["schemas"] = .object([]) }
        return addEmptyProperties(document)
    }

    private static func scopes(of operation: Operation) -> [String] {
        var result: [String] = []
        for use in operation.security.flatMap({ $0 }) where !use.scopes.isEmpty {
            for scope in use.scopes where !result.contains(scope) { result.append(scope) }
        }
        return result
    }

    /// GPT Actions cannot send custom headers; header parameters are dropped from its view.
    private static func withoutHeaderParameters(_ value: DocumentValue?) -> DocumentValue? {
        guard case .array(let parameters)? = value else { return value }
        let kept = parameters.filter { $0["in"] != .string("header") }
        return kept.isEmpty ? nil : .array(kept)
    }

    /// Removes the generator's own extensions everywhere.
    static func stripped(_ value: DocumentValue) -> DocumentValue {
        switch value {
        case .object(let pairs):
            return .object(pairs.filter { !generatorExtensions.contains($0.0) }.map { ($0.0, stripped($0.1)) })
        case .array(let items):
            return .array(items.map(stripped))
        default:
            return value
        }
    }

    /// Keeps only the components reachable from paths and security schemes.
    static func pruneComponents(_ document: DocumentValue) -> DocumentValue {
        var document = document
        guard case .object(let sections)? = document["components"] else { return document }
        var reachable: Set<String> = []
        var queue = references(in: document["paths"] ?? .null)
        while let reference = queue.popLast() {
            guard reachable.insert(reference).inserted else { continue }
            let parts = reference.split(separator: "/").map(String.init)
            guard parts.count == 4, let target = document["components"]?[parts[2]]?[parts[3]] else { continue }
            queue.append(contentsOf: references(in: target))
        }
        var kept: [(String, DocumentValue)] = []
        for (section, entries) in sections {
            guard section != "securitySchemes", case .object(let pairs) = entries else {
                kept.append((section, entries))
                continue
            }
            let filtered = pairs.filter { reachable.contains("#/components/\(section)/\($0.0)") }
            if !filtered.isEmpty || section == "schemas" { kept.append((section, .object(filtered))) }
        }
        document["components"] = .object(kept)
        return document
    }

    static func references(in value: DocumentValue) -> [String] {
        switch value {
        case .object(let pairs):
            return pairs.flatMap { key, item -> [String] in
                if key == "$ref", case .string(let reference) = item { return [reference] }
                return references(in: item)
            }
        case .array(let items):
            return items.flatMap(references)
        default:
            return []
        }
    }

    /// The GPT importer rejects `type: object` without `properties`; a free-form object gets an
    /// empty `properties`, which means the same.
    static func addEmptyProperties(_ value: DocumentValue) -> DocumentValue {
        switch value {
        case .object(let pairs):
            var result = DocumentValue.object(pairs.map { key, item in
                // Under `properties` and `schemas` the keys are names, not keywords: a property
                // called `default` or `example` is a schema like any other.
                if ["properties", "schemas"].contains(key), case .object(let named) = item {
                    return (key, .object(named.map { ($0.0, addEmptyProperties($0.1)) }))
                }
                return (key, ["example", "examples", "enum", "default"].contains(key) ? item : addEmptyProperties(item))
            })
            let type = result["type"]
            let isObject = type == .string("object") || { if case .array(let types)? = type { types.contains(.string("object")) } else { false } }()
            if isObject && result["properties"] == nil && result["$ref"] == nil {
                result["properties"] = .object([])
            }
            return result
        case .array(let items):
            return .array(items.map(addEmptyProperties))
        default:
            return value
        }
    }
}
