public import HTTPTypes
public import Hummingbird

/// What the route table knows about an operation, for tests, metrics and documentation.
public struct OperationDescriptor: Sendable {
    public var id: String
    public var method: HTTPRequest.Method
    /// The OpenAPI path template, e.g. `/webhook/{id}`. Hummingbird reads the same syntax.
    public var path: String
    /// Alternatives, any one of which suffices; each lists schemes that must all pass. Empty: public.
    public var security: [[SecurityRequirement]]
    public var acceptsBody: Bool
    /// `x-body-limit`, if the operation sets its own.
    public var bodyLimit: Int?
    /// `x-websocket`: served by a hand-written WebSocket route, not by `registerRoutes`.
    public var isWebSocket: Bool

    public init(
        id: String,
        method: HTTPRequest.Method,
        path: String,
        security: [[SecurityRequirement]],
        acceptsBody: Bool,
        bodyLimit: Int?,
        isWebSocket: Bool = false
    ) {
        self.id = id
        self.method = method
        self.path = path
        self.security = security
        self.acceptsBody = acceptsBody
        self.bodyLimit = bodyLimit
        self.isWebSocket = isWebSocket
    }

    public var isPublic: Bool { security.isEmpty }
}

/// One security scheme an operation accepts, as declared in `components.securitySchemes`.
public struct SecurityRequirement: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `type: apiKey, in: header`.
        case apiKeyHeader(name: String)
        /// `type: http, scheme: bearer`.
        case httpBearer
        /// `type: oauth2`: an access token presented as a bearer token.
        case oauth2
    }

    public var scheme: String
    public var kind: Kind
    public var scopes: [String]

    public init(scheme: String, kind: Kind, scopes: [String]) {
        self.scheme = scheme
        self.kind = kind
        self.scopes = scopes
    }
}

/// Authenticates requests for operations that declare `security`.
///
/// Generated routes call it before decoding input, so no route can forget authentication. It
/// records the principal in the context, or throws an error that becomes the 401 response.
public protocol SecurityHandler<Context>: Sendable {
    associatedtype Context: RequestContext
    func authenticate(_ request: Request, context: inout Context, alternatives: [[SecurityRequirement]]) async throws
}

/// Settings the generated routes apply to every operation.
public struct RouteOptions: Sendable {
    /// The request body limit for operations without `x-body-limit`.
    public var defaultBodyLimit: Int

    public init(defaultBodyLimit: Int = 1 << 20) {
        self.defaultBodyLimit = defaultBodyLimit
    }
}
