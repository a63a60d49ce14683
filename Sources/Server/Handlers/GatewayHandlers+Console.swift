import Foundation
import GatewayAPI
import GatewayRuntime
import Hummingbird
import Logging

/// Hands the console's session endpoints what they need of the request's headers.
public struct ConsoleRequestMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    let service: ConsoleService

    public init(service: ConsoleService) {
        self.service = service
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path == "/console/session" else { return try await next(request, context) }
        var context = context
        context.consoleRequest = service.facts(request.headers, authority: request.head.authority)
        return try await next(request, context)
    }
}

/// What the console's handlers need: its sessions, and the throttle that counts wrong keys.
public struct ConsoleEndpoints: Sendable {
    let service: ConsoleService
    let throttle: CredentialFailureThrottle?

    public init(service: ConsoleService, throttle: CredentialFailureThrottle? = nil) {
        self.service = service
        self.throttle = throttle
    }
}

extension GatewayHandlers {
    public func getConsole(_ input: Operations.GetConsole.Input, context: Context) async throws -> Operations.GetConsole.Output {
        .ok(.html(ConsoleAssets.page))
    }

    public func getConsoleAsset(_ input: Operations.GetConsoleAsset.Input, context: Context) async throws -> Operations.GetConsoleAsset.Output {
        switch ConsoleAssets.files[input.path.asset] {
        case (.css, let text)?: return .ok(.css(text))
        case (.javascript, let text)?: return .ok(.javascript(text))
        case nil:
            return .notFound(
                .json(ErrorEnvelope(error: "The console has no file named \(input.path.asset).", code: "not_found", status: 404, requestID: context.requestID))
            )
        }
    }

    public func signInConsole(_ input: Operations.SignInConsole.Input, context: Context) async throws -> Operations.SignInConsole.Output {
        guard let console else { throw Self.noConsole }
        let facts = context.consoleRequest ?? .init(crossSiteRefusal: "the request's origin is unknown", secure: true)
        if let reason = facts.crossSiteRefusal {
            return .forbidden(.json(ErrorEnvelope(error: ConsoleService.crossSite(reason).message, code: "cross_site_request", status: 403, requestID: context.requestID)))
        }
        let subjects = [CredentialFailureThrottle.subject(for: context.clientAddress)].compactMap { $0 }
        if let retryAfter = console.throttle?.refusal(subjects) {
            context.logger.warning("console sign-in refused: too many failures", metadata: ["client.subjects": .string(subjects.map(\.description).joined(separator: ", "))])
            throw CredentialThrottleMiddleware.tooManyFailures(retryAfter: retryAfter)
        }
        guard let signIn = try await console.service.signIn(key: input.body.apiKey) else {
            console.throttle?.recordFailure(subjects)
            context.logger.info("console sign-in refused: invalid key")
            return .unauthorized(.json(ErrorEnvelope(error: "The API key is not valid.", code: "invalid_api_key", status: 401, requestID: context.requestID)))
        }
        context.logger.info("console signed in", metadata: ["principal": .string(signIn.principal.id)])
        let cookie = ConsoleService.cookie(signIn.token, maxAge: Int(console.service.lifetime), secure: facts.secure)
        return .created(.json(Self.sessionBody(signIn.session, token: signIn.token)), headers: .init(setCookie: cookie))
    }

    public func getConsoleSession(_ input: Operations.GetConsoleSession.Input, context: Context) async throws -> Operations.GetConsoleSession.Output {
        guard let console, let token = context.consoleSessionToken, let (session, _) = try await console.service.resolve(token: token) else {
            return .notFound(.json(Self.noSessionEnvelope(context)))
        }
        return .ok(.json(Self.sessionBody(session, token: token)))
    }

    public func signOutConsole(_ input: Operations.SignOutConsole.Input, context: Context) async throws -> Operations.SignOutConsole.Output {
        guard let console, let token = context.consoleSessionToken else {
            return .notFound(.json(Self.noSessionEnvelope(context)))
        }
        try await console.service.signOut(token: token)
        context.logger.info("console signed out")
        return .noContent(headers: .init(setCookie: ConsoleService.cookie("", maxAge: 0, secure: context.consoleRequest?.secure ?? true)))
    }

    static func sessionBody(_ session: ConsoleSession, token: String) -> GatewayAPI.ConsoleSession {
        GatewayAPI.ConsoleSession(principalID: session.keyID, csrfToken: ConsoleService.csrfToken(forSessionToken: token), expiresAt: session.expiresAt.formatted(.iso8601))
    }

    static func noSessionEnvelope(_ context: Context) -> ErrorEnvelope {
        ErrorEnvelope(
            error: "This request was not authenticated by a console session (sign in at /console).", code: "no_console_session", status: 404,
            requestID: context.requestID
        )
    }

    static var noConsole: GatewayError {
        GatewayError(status: .notFound, code: "not_found", message: "The console is not enabled on this gateway.")
    }
}
