import HTTPTypes
import Hummingbird

/// `X-Content-Type-Options: nosniff` on every response the router gives, so a browser never
/// reads a body as another type than its `Content-Type` says (an error echoing input as HTML).
///
/// Outermost middleware: errors, 404s, health, the spec, streams and the OAuth pages all pass
/// through it. Answers written below the router (a `408` for a slow client) set it themselves.
public struct ContentTypeOptionsMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    public static let header = HTTPField.Name("X-Content-Type-Options")!

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.header] = "nosniff"
        return response
    }
}
