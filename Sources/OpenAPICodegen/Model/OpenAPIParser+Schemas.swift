import Foundation

/// Component schemas: what the generator models of JSON Schema, and the references between them.
extension OpenAPIParser {
    static let schemaKeys: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "$ref", "oneOf", "discriminator",
        "description", "title", "format", "example", "examples", "default", "deprecated", "readOnly", "writeOnly",
        "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "const", "not", "pattern",
    ]

    mutating func schema(_ node: YAMLNode, _ what: String) -> Schema? {
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
    mutating func excludedValues(_ node: YAMLNode) -> [String] {
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

    mutating func numberConstraints(_ node: YAMLNode) -> NumberConstraints {
        NumberConstraints(minimum: double(node["minimum"], "minimum"), maximum: double(node["maximum"], "maximum"))
    }

    mutating func objectSchema(_ node: YAMLNode, _ what: String) -> ObjectSchema? {
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

    mutating func oneOf(_ node: YAMLNode, _ oneOf: YAMLNode, description: String?) -> Schema? {
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
    mutating func checkOneOfMembers(_ schemas: [NamedSchema]) {
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

    func resolveReference(_ schema: Schema) -> Schema? {
        guard case .reference(let name) = schema.kind else { return schema }
        guard let node = root["components"]?["schemas"]?[name] else { return nil }
        var scratch = OpenAPIParser(file: file)
        scratch.root = root
        return scratch.schema(node, name)
    }

    func describe(_ schema: Schema) -> String {
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
