/// Renders schemas as Swift value types with explicit `Codable` conformances.
///
/// Decoding is written out rather than synthesised so that what the schema says is what the
/// server enforces: required keys must be present (even when nullable), declared length, range
/// and count limits are checked, and `additionalProperties: false` rejects unknown keys.
struct TypesRenderer {
    var file: String
    var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    /// A named schema waiting to be declared in the current scope.
    struct Pending {
        var name: String
        var schema: Schema
    }

    // MARK: Type expressions

    /// The Swift type for a schema, without the optional mark for nullability at the top.
    /// Inline objects, enums and oneOfs become nested declarations named `hint`.
    mutating func type(_ schema: Schema, hint: String, nested: inout [Pending]) -> String {
        switch schema.kind {
        case .reference(let name): return SwiftName.type(name)
        case .string: return "String"
        case .integer: return "Int"
        case .number: return "Double"
        case .boolean: return "Bool"
        case .any: return "JSONValue"
        case .stringEnum, .oneOf:
            nested.append(Pending(name: hint, schema: schema))
            return hint
        case .array(let items, _):
            checkUnenforcedConstraints(items, "array items")
            let element = type(items, hint: hint + "Item", nested: &nested)
            return "[" + element + (items.nullable ? "?" : "") + "]"
        case .object(let object):
            if object.properties.isEmpty, case .typed(let valueSchema) = object.additionalProperties {
                checkUnenforcedConstraints(valueSchema, "additionalProperties")
                let value = type(valueSchema, hint: hint + "Value", nested: &nested)
                return "[String: " + value + (valueSchema.nullable ? "?" : "") + "]"
            }
            nested.append(Pending(name: hint, schema: schema))
            return hint
        }
    }

    /// Constraints are enforced on object properties and parameters; anywhere else they would be
    /// documentation the server does not honour, so they are refused.
    mutating func checkUnenforcedConstraints(_ schema: Schema, _ place: String) {
        let constrained: Bool
        switch schema.kind {
        case .string(let c): constrained = !c.isEmpty
        case .integer(let c), .number(let c): constrained = !c.isEmpty
        case .array(_, let c): constrained = !c.isEmpty
        default: constrained = false
        }
        if constrained {
            diagnostics.append(
                Diagnostic(
                    file: file,
                    location: schema.location,
                    message: "length, range and count limits are enforced on object properties and parameters only, not on \(place)"
                )
            )
        }
    }

    // MARK: Declarations

    mutating func declare(_ pending: Pending, into w: inout CodeWriter) {
        let name = pending.name
        let schema = pending.schema
        switch schema.kind {
        case .object(let object):
            declareStruct(name, object, description: schema.description, into: &w)
        case .stringEnum(let values):
            declareEnum(name, values, description: schema.description, into: &w)
        case .oneOf(let oneOf):
            declareOneOf(name, oneOf, description: schema.description, into: &w)
        default:
            checkUnenforcedConstraints(schema, "a schema used as a whole type")
            var nested: [Pending] = []
            let target = type(schema, hint: name + "Element", nested: &nested)
            w.doc(schema.description)
            w.line("public typealias \(name) = \(target)\(schema.nullable ? "?" : "")")
            for item in nested { declare(item, into: &w) }
        }
    }

    private struct Field {
        var property: ObjectSchema.Property
        var swiftName: String
        var caseName: String
        var type: String
        var isOptional: Bool
    }

    private mutating func declareStruct(_ name: String, _ object: ObjectSchema, description: String?, into w: inout CodeWriter) {
        var nested: [Pending] = []
        var fields: [Field] = []
        var usedNames: Set<String> = []
        for property in object.properties {
            var swiftName = SwiftName.member(property.name)
            while usedNames.contains(swiftName) { swiftName = swiftName.replacingOccurrences(of: "`", with: "") + "_" }
            usedNames.insert(swiftName)
            let base = type(property.schema, hint: SwiftName.type(property.name), nested: &nested)
            let isOptional = !property.isRequired || property.schema.nullable
            fields.append(
                Field(property: property, swiftName: swiftName, caseName: swiftName, type: base, isOptional: isOptional)
            )
        }
        var additionalType: String?
        if case .typed(let valueSchema) = object.additionalProperties {
            checkUnenforcedConstraints(valueSchema, "additionalProperties")
            let value = type(valueSchema, hint: "AdditionalProperty", nested: &nested)
            additionalType = value + (valueSchema.nullable ? "?" : "")
        }

        w.doc(description)
        w.block("public struct \(name): Codable, Hashable, Sendable") { w in
            for field in fields {
                w.doc(field.property.schema.description)
                w.line("public var \(field.swiftName): \(field.type)\(field.isOptional ? "?" : "")")
            }
            if let additionalType {
                w.line("/// Keys not named in the schema, as `additionalProperties` allows.")
                w.line("public var additionalProperties: [String: \(additionalType)]")
            }
            if !fields.isEmpty || additionalType != nil { w.line() }

            // Memberwise initialiser with defaults for optionals.
            var parameters = fields.map { field in
                "\(field.swiftName): \(field.type)\(field.isOptional ? "? = nil" : "")"
            }
            if let additionalType { parameters.append("additionalProperties: [String: \(additionalType)] = [:]") }
            w.block("public init(\(parameters.joined(separator: ", ")))") { w in
                for field in fields { w.line("self.\(field.swiftName) = \(field.swiftName)") }
                if additionalType != nil { w.line("self.additionalProperties = additionalProperties") }
            }

            if !fields.isEmpty {
                w.line()
                w.block("public enum CodingKeys: String, CodingKey, CaseIterable") { w in
                    for field in fields {
                        let bare = field.caseName.replacingOccurrences(of: "`", with: "")
                        w.line(bare == field.property.name ? "case \(field.caseName)" : "case \(field.caseName) = \(SwiftName.literal(field.property.name))")
                    }
                }
            }

            // Decoding.
            w.line()
            w.block("public init(from decoder: any Decoder) throws") { w in
                if !fields.isEmpty {
                    w.line("let container = try decoder.container(keyedBy: CodingKeys.self)")
                }
                for field in fields {
                    let key = ".\(field.caseName.replacingOccurrences(of: "`", with: ""))"
                    if field.property.isRequired && field.property.schema.nullable {
                        w.line("self.\(field.swiftName) = try container.decodeRequiredNullable(\(field.type).self, forKey: \(key))")
                    } else if field.isOptional, case .any = field.property.schema.kind {
                        // Any JSON value, so an explicit null is `.null`, told apart from an absent key.
                        w.line("self.\(field.swiftName) = try container.decodeFreeFormIfPresent(forKey: \(key))")
                    } else if field.isOptional {
                        w.line("self.\(field.swiftName) = try container.decodeIfPresent(\(field.type).self, forKey: \(key))")
                    } else {
                        w.line("self.\(field.swiftName) = try container.decode(\(field.type).self, forKey: \(key))")
                    }
                    for check in validation(field.property.schema) {
                        w.line("try container.validate(self.\(field.swiftName), \(check), forKey: \(key))")
                    }
                }
                let known = "[" + fields.map { SwiftName.literal($0.property.name) }.joined(separator: ", ") + "]"
                switch object.additionalProperties {
                case .ignored: break
                case .forbidden:
                    w.line("try decoder.rejectUnknownKeys(known: \(known))")
                case .typed:
                    w.line("self.additionalProperties = try decoder.decodeAdditionalProperties(\(additionalType!).self, known: \(known))")
                }
            }

            // Encoding.
            w.line()
            w.block("public func encode(to encoder: any Encoder) throws") { w in
                if !fields.isEmpty {
                    w.line("var container = encoder.container(keyedBy: CodingKeys.self)")
                }
                for field in fields {
                    let key = ".\(field.caseName.replacingOccurrences(of: "`", with: ""))"
                    if field.isOptional && !(field.property.isRequired && field.property.schema.nullable) {
                        w.line("try container.encodeIfPresent(self.\(field.swiftName), forKey: \(key))")
                    } else {
                        w.line("try container.encode(self.\(field.swiftName), forKey: \(key))")
                    }
                }
                if additionalType != nil {
                    w.line("try encoder.encodeAdditionalProperties(self.additionalProperties)")
                }
            }
            for item in nested {
                w.line()
                declare(item, into: &w)
            }
        }
    }

    /// Arguments for `validate(_:_:forKey:)` that enforce the schema's limits.
    private func validation(_ schema: Schema) -> [String] {
        switch schema.kind {
        case .string(let c):
            return (c.isEmpty ? [] : ["length: \(range(c.minLength, c.maxLength))"])
                + (c.excluded.isEmpty ? [] : ["excluding: [" + c.excluded.map(SwiftName.literal).joined(separator: ", ") + "]"])
                + (c.pattern.map { ["matching: \(SwiftName.literal($0))"] } ?? [])
        case .array(_, let c) where !c.isEmpty:
            return ["count: \(range(c.minItems, c.maxItems))"]
        case .integer(let c) where !c.isEmpty:
            return ["within: \(range(c.minimum.map { Int($0) }, c.maximum.map { Int($0) }))"]
        case .number(let c) where !c.isEmpty:
            return ["within: \(range(c.minimum, c.maximum))"]
        default:
            return []
        }
    }

    private func range<T: Comparable & CustomStringConvertible>(_ lower: T?, _ upper: T?) -> String {
        switch (lower, upper) {
        case (let lower?, let upper?): "\(lower)...\(upper)"
        case (let lower?, nil): "\(lower)..."
        case (nil, let upper?): "...\(upper)"
        case (nil, nil): "..."
        }
    }

    func enumCases(_ values: [String]) -> [(name: String, raw: String)] {
        var used: Set<String> = []
        return values.map { raw in
            var name = raw.isEmpty ? "empty" : SwiftName.member(raw)
            if let first = raw.first, first.isNumber {
                // "2.0" reads better as v2_0 than as _20.
                name = "v" + String(raw.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            }
            while used.contains(name) { name = name.replacingOccurrences(of: "`", with: "") + "_" }
            used.insert(name)
            return (name, raw)
        }
    }

    private func declareEnum(_ name: String, _ values: [String], description: String?, into w: inout CodeWriter) {
        w.doc(description)
        w.block("public enum \(name): String, Codable, Hashable, Sendable, CaseIterable, ParameterValue") { w in
            for (caseName, raw) in enumCases(values) {
                let bare = caseName.replacingOccurrences(of: "`", with: "")
                w.line(bare == raw ? "case \(caseName)" : "case \(caseName) = \(SwiftName.literal(raw))")
            }
            w.line()
            w.block("public init(from decoder: any Decoder) throws") { w in
                w.line("self = try decoder.decodeEnumeration(Self.self)")
            }
        }
    }

    private func declareOneOf(_ name: String, _ oneOf: OneOfSchema, description: String?, into w: inout CodeWriter) {
        let cases = enumCases(oneOf.members.map(\.tag))
        w.doc(description)
        w.block("public enum \(name): Codable, Hashable, Sendable") { w in
            for (member, (caseName, _)) in zip(oneOf.members, cases) {
                w.line("case \(caseName)(\(SwiftName.type(member.schemaName)))")
            }
            w.line()
            if let propertyName = oneOf.propertyName {
                w.line("/// The discriminator property that selects the case.")
                w.line("public static let discriminator = \(SwiftName.literal(propertyName))")
                w.line()
                w.block("public init(from decoder: any Decoder) throws") { w in
                    let tags = "[" + oneOf.members.map { SwiftName.literal($0.tag) }.joined(separator: ", ") + "]"
                    w.block("switch try decoder.decodeDiscriminator(Self.discriminator, expecting: \(tags))") { w in
                        for (member, (caseName, _)) in zip(oneOf.members, cases) {
                            w.line("case \(SwiftName.literal(member.tag)): self = .\(caseName)(try \(SwiftName.type(member.schemaName))(from: decoder))")
                        }
                        w.line("default: preconditionFailure(\"decodeDiscriminator returns one of the expected tags\")")
                    }
                }
            } else {
                w.line("/// Without a discriminator the members are tried in order; the first that decodes wins.")
                w.block("public init(from decoder: any Decoder) throws") { w in
                    w.line("var failures: [any Error] = []")
                    for (member, (caseName, _)) in zip(oneOf.members, cases) {
                        w.line("do { self = .\(caseName)(try \(SwiftName.type(member.schemaName))(from: decoder)); return } catch { failures.append(error) }")
                    }
                    let names = oneOf.members.map(\.schemaName).joined(separator: ", ")
                    w.line("throw decoder.noneOfMatched(\(SwiftName.literal(names)), failures: failures)")
                }
            }
            w.line()
            w.block("public func encode(to encoder: any Encoder) throws") { w in
                w.block("switch self") { w in
                    for (caseName, _) in cases {
                        w.line("case .\(caseName)(let value): try value.encode(to: encoder)")
                    }
                }
            }
        }
    }
}
