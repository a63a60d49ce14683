/// The typed value between parsing and rendering: everything the Swift renderer needs, nothing it
/// has to look up in YAML again.
public struct APIDescription: Sendable {
    public var title: String
    public var version: String
    /// Sorted by `operationId`.
    public var operations: [Operation]
    /// `components.schemas`, sorted by name.
    public var schemas: [NamedSchema]
    /// `components.securitySchemes`, sorted by name.
    public var securitySchemes: [SecurityScheme]
}

public struct NamedSchema: Sendable {
    public var name: String
    public var schema: Schema
}

/// A schema as the generator supports it. Every keyword the parser accepted is represented here
/// (documentation aside), so nothing the spec says is lost on the way to Swift.
public indirect enum SchemaKind: Sendable {
    case reference(String)
    case string(StringConstraints)
    case stringEnum([String])
    case integer(NumberConstraints)
    case number(NumberConstraints)
    case boolean
    case array(Schema, ArrayConstraints)
    case object(ObjectSchema)
    /// Any JSON value (`{}`). A `type: object` without properties is an ``object(_:)`` whose
    /// additional properties are any JSON value.
    case any
    case oneOf(OneOfSchema)
}

public struct Schema: Sendable {
    public var kind: SchemaKind
    public var nullable: Bool
    public var description: String?
    public var location: SourceLocation

    public init(kind: SchemaKind, nullable: Bool = false, description: String? = nil, location: SourceLocation) {
        self.kind = kind
        self.nullable = nullable
        self.description = description
        self.location = location
    }
}

public struct StringConstraints: Sendable, Hashable {
    public var minLength: Int?
    public var maxLength: Int?
    /// Values the string must not take (`not: {enum: [...]}`): an open kind beside named ones.
    public var excluded: [String] = []
    /// A regular expression the whole value must match somewhere (`pattern`, ECMA-262 syntax as
    /// JSON Schema has it; the runtime reads it with NSRegularExpression, whose syntax agrees on
    /// classes, anchors, escapes and lookahead).
    public var pattern: String?
    public var isEmpty: Bool { minLength == nil && maxLength == nil }
}

public struct NumberConstraints: Sendable, Hashable {
    public var minimum: Double?
    public var maximum: Double?
    public var isEmpty: Bool { minimum == nil && maximum == nil }
}

public struct ArrayConstraints: Sendable, Hashable {
    public var minItems: Int?
    public var maxItems: Int?
    public var isEmpty: Bool { minItems == nil && maxItems == nil }
}

public struct ObjectSchema: Sendable {
    public struct Property: Sendable {
        public var name: String
        public var schema: Schema
        public var isRequired: Bool
    }

    public enum AdditionalProperties: Sendable {
        /// Unknown keys are ignored (the JSON Schema default).
        case ignored
        /// `additionalProperties: false`: unknown keys are a decoding error.
        case forbidden
        /// `additionalProperties: <schema>`: unknown keys are kept, typed.
        case typed(Schema)
    }

    /// In document order.
    public var properties: [Property]
    public var additionalProperties: AdditionalProperties
}

public struct OneOfSchema: Sendable {
    public struct Member: Sendable {
        /// The discriminator value that selects this member (without a discriminator: the schema name).
        public var tag: String
        /// The `components.schemas` name of the member.
        public var schemaName: String
    }

    /// The discriminator property; nil when members are told apart by trying each in order.
    public var propertyName: String?
    public var members: [Member]
}

public enum HTTPMethod: String, Sendable, CaseIterable {
    case get, put, post, delete, patch, head, options
}

public struct Operation: Sendable {
    public var operationID: String
    public var method: HTTPMethod
    public var path: String
    public var summary: String?
    public var description: String?
    public var parameters: [Parameter]
    public var requestBody: RequestBody?
    /// Sorted by status code, `default` last.
    public var responses: [Response]
    /// Alternatives (any one suffices), each a set of schemes that must all pass. Empty: public.
    public var security: [[SecurityUse]]
    /// `x-body-limit`: the largest request body accepted, in bytes.
    public var bodyLimit: Int?
    /// `x-raw-body: true`: the handler receives the request body bytes exactly as sent, and beside
    /// them the body decoded and checked against its schema, or the failure to answer in the
    /// operation's own error shape.
    public var wantsRawBody: Bool
    /// `x-relay: true` (with `x-raw-body`): the bytes go on to a model provider, which checks them;
    /// the route does not decode them, and the handler checks only what it needs to relay.
    public var isRelay: Bool = false
    /// `x-websocket: true`: a WebSocket upgrade, served by hand-written code; documented here,
    /// listed in the operation table, but not part of `APIProtocol`.
    public var isWebSocket: Bool = false
    public var location: SourceLocation
}

public struct Parameter: Sendable {
    public enum Location: String, Sendable {
        case path, query, header
    }

    public var name: String
    public var location: Location
    public var isRequired: Bool
    public var schema: Schema
    public var description: String?
}

public struct RequestBody: Sendable {
    public var isRequired: Bool
    /// Media types accepted, all decoding into ``schema``.
    public var contentTypes: [String]
    public var schema: Schema
}

public enum ResponseStatus: Sendable, Hashable, Comparable {
    case code(Int)
    case `default`

    public static func < (lhs: ResponseStatus, rhs: ResponseStatus) -> Bool {
        switch (lhs, rhs) {
        case (.code(let a), .code(let b)): a < b
        case (.code, .default): true
        default: false
        }
    }
}

public struct Response: Sendable {
    public struct Header: Sendable {
        public var name: String
        public var schema: Schema
        public var isRequired: Bool
        public var description: String?
    }

    public struct Content: Sendable {
        public var mediaType: String
        public var schema: Schema?
        /// `x-raw-body: true`: the handler supplies the bytes (e.g. relayed from elsewhere) instead
        /// of a value to encode; the schema only documents them.
        public var isRaw: Bool = false
    }

    public var status: ResponseStatus
    public var description: String
    public var headers: [Header]
    public var contents: [Content]
}

public struct SecurityScheme: Sendable {
    public enum Kind: Sendable, Hashable {
        case apiKeyHeader(name: String)
        case httpBearer
        case oauth2AuthorizationCode(authorizationURL: String, tokenURL: String, refreshURL: String?, scopes: [String])
    }

    public var name: String
    public var kind: Kind
}

public struct SecurityUse: Sendable {
    public var schemeName: String
    public var scopes: [String]
}
