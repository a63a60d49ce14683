import HTTPTypes
import Hummingbird

/// HTML pages (the OAuth consent page, the console) may not be framed, cached or leak their URL.
///
/// The console's files (`/console`, `/console/…`) get the strict policy: scripts, styles and
/// connections from the gateway itself only, nothing inline, no forms elsewhere.
public struct PageSecurityMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    /// The console's Content-Security-Policy. `connect-src 'self'` covers its fetches and its
    /// same-host WebSocket (CSP Level 3 lets 'self' match ws: and wss:).
    public static let consolePolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    /// The consent page's: its one inline style sheet, nothing else.
    public static let pagePolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

    public init() {}

    /// Whether `path` is one of the console's files (not its JSON session endpoint).
    static func isConsoleFile(_ path: String) -> Bool {
        path == "/console" || (path.hasPrefix("/console/") && path != "/console/session")
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        let console = Self.isConsoleFile(request.uri.path)
        guard console || response.headers[.contentType]?.hasPrefix("text/html") == true else { return response }
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[.contentSecurityPolicy] = console ? Self.consolePolicy : Self.pagePolicy
        response.headers[.cacheControl] = "no-store"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
