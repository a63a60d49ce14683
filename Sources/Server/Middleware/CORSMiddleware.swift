import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging

/// CORS for browser clients (PROTOCOLS.md §0): preflights answered here, allowed origins from
/// `CORS_ALLOWED_ORIGINS`; no CORS at all on excluded paths (the OAuth consent page).
public struct CORSMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    let policy: GatewayConfiguration.CORSPolicy
    let excludedPaths: Set<String>

    static let allowedMethods = "GET, POST, DELETE, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, Accept, X-API-Key, X-Request-Id, X-Webhook-Id, X-Hub-Signature-256"
    static let exposedHeaders = "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, WWW-Authenticate"
    static let maxAge = "600"

    public init(policy: GatewayConfiguration.CORSPolicy, excludedPaths: Set<String>) {
        self.policy = policy
        self.excludedPaths = excludedPaths
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, or nil when it is not allowed.
    func allowOrigin(for origin: String) -> String? {
        switch policy {
        case .anyOrigin: return "*"
        case .origins(let origins): return origins.contains(origin.lowercased()) ? origin : nil
        }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], !excludedPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        let allowed = allowOrigin(for: origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard let allowed else {
                let error = GatewayError(status: .forbidden, code: "cors_origin_denied", message: "The origin \(origin) is not allowed by CORS_ALLOWED_ORIGINS.")
                var response = ErrorResponder.response(for: error, requestID: context.requestID)
                response.headers[.vary] = "Origin"
                return response
            }
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = allowed
            headers[.accessControlAllowMethods] = Self.allowedMethods
            headers[.accessControlAllowHeaders] = Self.allowedHeaders
            headers[.accessControlMaxAge] = Self.maxAge
            headers[.vary] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if let allowed {
            response.headers[.accessControlAllowOrigin] = allowed
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        if case .origins = policy { response.headers[.vary] = "Origin" }
        return response
    }
}
