import Foundation

/// Security schemes and the requirements that operations (or the document) place on them.
extension OpenAPIParser {
    mutating func securitySchemes(_ node: YAMLNode?) -> [SecurityScheme] {
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

    mutating func security(_ node: YAMLNode, schemes: [SecurityScheme]) -> [[SecurityUse]] {
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
}
