import Foundation
/// Builds an ``APIDescription`` from the YAML tree, refusing anything it does not model.
///
/// Every refusal is a ``Diagnostic`` at the line and column of the construct, phrased as
/// "what is not supported" so the author knows what to change. Errors are collected so one build
/// reports all of them.
public struct OpenAPIParser {
    public var file: String
    var diagnostics: [Diagnostic] = []
    var root: YAMLNode = .mapping([], .init(line: 1, column: 1))

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

    mutating func error(_ node: YAMLNode, _ message: String) {
        diagnostics.append(Diagnostic(file: file, location: node.location, message: message))
    }

    mutating func error(at location: SourceLocation, _ message: String) {
        diagnostics.append(Diagnostic(file: file, location: location, message: message))
    }

    mutating func pairs(_ node: YAMLNode, _ what: String) -> [YAMLPair] {
        guard case .mapping(let pairs, _) = node else {
            error(node, "\(what) must be a mapping, found \(node.kindName)")
            return []
        }
        return pairs
    }

    /// Reports keys outside `allowed` (vendor extensions `x-…` are always allowed).
    mutating func checkKeys(_ node: YAMLNode, _ what: String, allowed: Set<String>) {
        guard case .mapping(let pairs, _) = node else { return }
        for pair in pairs where !allowed.contains(pair.key.value) && !pair.key.value.hasPrefix("x-") {
            error(
                at: pair.key.location,
                "'\(pair.key.value)' in \(what) is not supported by the generator (supported: \(allowed.sorted().joined(separator: ", ")))"
            )
        }
    }

    mutating func string(_ node: YAMLNode?, _ what: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a string, found \(node.kindName)")
            return nil
        }
        return scalar.value
    }

    mutating func bool(_ node: YAMLNode?, _ what: String) -> Bool? {
        guard let node else { return nil }
        guard case .bool(let value) = DocumentValue(node) else {
            error(node, "\(what) must be true or false")
            return nil
        }
        return value
    }

    mutating func int(_ node: YAMLNode?, _ what: String) -> Int? {
        guard let node else { return nil }
        guard case .integer(let value) = DocumentValue(node) else {
            error(node, "\(what) must be an integer")
            return nil
        }
        return value
    }

    mutating func double(_ node: YAMLNode?, _ what: String) -> Double? {
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

    mutating func document(_ root: YAMLNode) -> APIDescription {
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

    func isTypeName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" }
    }
}
