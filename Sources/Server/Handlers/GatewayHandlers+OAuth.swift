import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// What the OAuth handlers need besides the service: the API keys that prove the approver, the
/// throttle that counts wrong secrets, codes and consent keys, and the budget of client
/// registrations per source address.
public struct OAuthEndpoints: Sendable {
    let service: OAuthService
    let apiKeys: any APIKeyStore
    let throttle: CredentialFailureThrottle?
    /// Every `POST /oauth/register` takes one from its address's budget (`OAUTH_REGISTRATIONS_PER_MINUTE`).
    let registrations: CredentialFailureThrottle?

    public init(
        service: OAuthService, apiKeys: any APIKeyStore, throttle: CredentialFailureThrottle? = nil, registrations: CredentialFailureThrottle? = nil
    ) {
        self.service = service
        self.apiKeys = apiKeys
        self.throttle = throttle
        self.registrations = registrations
    }

    /// What an attempt is counted against: the address it came from and the client it names.
    func failureSubjects(context: GatewayRequestContext, clientID: String?, basicAuthorization: String? = nil) -> [CredentialFailureThrottle.Subject] {
        let client = clientID ?? basicAuthorization.flatMap(OAuthService.parseBasic)?.id
        return [CredentialFailureThrottle.subject(for: context.clientAddress), client.map { .client($0) }].compactMap { $0 }
    }

    /// Throws the 429 when the address or the client has spent its budget of failures.
    func checkThrottle(_ subjects: [CredentialFailureThrottle.Subject], context: GatewayRequestContext) throws {
        guard let retryAfter = throttle?.refusal(subjects) else { return }
        context.logger.warning("oauth attempt refused: too many failures", metadata: ["client.subjects": .string(subjects.map(\.description).joined(separator: ", "))])
        throw CredentialThrottleMiddleware.tooManyFailures(retryAfter: retryAfter)
    }

    /// Failures that may be guesses: a wrong client secret, authorization code or refresh token.
    func record(_ failure: OAuthService.Failure, subjects: [CredentialFailureThrottle.Subject]) {
        guard failure.error == .invalidClient || failure.error == .invalidGrant else { return }
        throttle?.recordFailure(subjects)
    }
}

extension GatewayHandlers {
    public func authorize(_ input: Operations.Authorize.Input, context: Context) async throws -> Operations.Authorize.Output {
        let query = input.query
        let validation = try await oauth.service.validate(
            responseType: query.responseType,
            clientID: query.clientID,
            redirectURI: query.redirectURI,
            state: query.state,
            scope: query.scope,
            codeChallenge: query.codeChallenge,
            codeChallengeMethod: query.codeChallengeMethod,
            resource: query.resource
        )
        switch validation {
        case .failure(.page(let message)):
            return .badRequest(.html(ConsentPage.error(message)))
        case .failure(.redirect(let location)):
            return .found(headers: .init(location: location))
        case .success(let request):
            if oauth.service.autoApprove {
                return .found(headers: .init(location: try await oauth.service.approve(request, approvedBy: OAuthService.autoApprover)))
            }
            return .ok(.html(ConsentPage.form(request, csrfToken: oauth.service.csrfToken(for: request))))
        }
    }

    public func approveAuthorization(
        _ input: Operations.ApproveAuthorization.Input,
        context: Context
    ) async throws -> Operations.ApproveAuthorization.Output {
        let form: ConsentForm
        switch input.body {
        case .success(let decoded): form = decoded
        case .failure(let error): return .badRequest(.html(ConsentPage.error("The form could not be read: \(error.message)")))
        }
        let validation = try await oauth.service.validate(
            responseType: form.responseType,
            clientID: form.clientID,
            redirectURI: form.redirectURI,
            state: form.state,
            scope: form.scope,
            codeChallenge: form.codeChallenge,
            codeChallengeMethod: form.codeChallengeMethod,
            resource: form.resource
        )
        let request: OAuthService.AuthorizationRequest
        switch validation {
        case .failure(.page(let message)): return .badRequest(.html(ConsentPage.error(message)))
        case .failure(.redirect(let location)): return .seeOther(headers: .init(location: location))
        case .success(let validated): request = validated
        }
        guard oauth.service.csrfTokenIsValid(form.csrfToken, for: request) else {
            return .badRequest(.html(ConsentPage.error("This consent form has expired or was not issued by this gateway. Start the authorization again.")))
        }
        if form.decision == .deny {
            return .seeOther(headers: .init(location: oauth.service.deny(request)))
        }
        let subjects = oauth.failureSubjects(context: context, clientID: request.client.clientID)
        try oauth.checkThrottle(subjects, context: context)
        guard let key = form.apiKey, !key.isEmpty, let approver = try await oauth.apiKeys.principal(forKey: key) else {
            oauth.throttle?.recordFailure(subjects)
            context.logger.warning("oauth consent refused: wrong API key", metadata: ["oauth.client_id": .string(request.client.clientID)])
            return .ok(.html(ConsentPage.form(request, csrfToken: oauth.service.csrfToken(for: request), error: "That is not a valid gateway API key.")))
        }
        return .seeOther(headers: .init(location: try await oauth.service.approve(request, approvedBy: approver.owner)))
    }

    public func token(_ input: Operations.Token.Input, context: Context) async throws -> Operations.Token.Output {
        let noStore = "no-store"
        let request: TokenRequest
        do {
            request = try Self.oauthParameters(input.body, rawBody: input.rawBody)
        } catch let error as GatewayError {
            return .badRequest(.json(OAuthError(error: .invalidRequest, errorDescription: error.message)), headers: .init(cacheControl: noStore))
        }
        let basic = Self.basic(input.headers.authorization)
        let subjects = oauth.failureSubjects(context: context, clientID: request.clientID, basicAuthorization: basic)
        try oauth.checkThrottle(subjects, context: context)
        switch try await oauth.service.token(request, basicAuthorization: basic) {
        case .success(let response):
            return .ok(.json(response), headers: .init(cacheControl: noStore))
        case .failure(let failure):
            oauth.record(failure, subjects: subjects)
            context.logger.info("oauth token refused", metadata: ["oauth.error": .string(failure.error.rawValue)])
            let body = OAuthError(error: failure.error, errorDescription: failure.description)
            if failure.status == 401 {
                return .unauthorized(.json(body), headers: .init(wwwAuthenticate: "Basic realm=\"\(GatewayAuthenticator.realm)\"", cacheControl: noStore))
            }
            return .badRequest(.json(body), headers: .init(cacheControl: noStore))
        }
    }

    public func revokeToken(_ input: Operations.RevokeToken.Input, context: Context) async throws -> Operations.RevokeToken.Output {
        let request: RevocationRequest
        do {
            request = try Self.oauthParameters(input.body, rawBody: input.rawBody)
        } catch let error as GatewayError {
            return .badRequest(.json(OAuthError(error: .invalidRequest, errorDescription: error.message)))
        }
        let basic = Self.basic(input.headers.authorization)
        let subjects = oauth.failureSubjects(context: context, clientID: request.clientID, basicAuthorization: basic)
        try oauth.checkThrottle(subjects, context: context)
        switch try await oauth.service.revoke(request, basicAuthorization: basic) {
        case .success:
            return .ok
        case .failure(let failure):
            oauth.record(failure, subjects: subjects)
            let body = OAuthError(error: failure.error, errorDescription: failure.description)
            if failure.status == 401 {
                return .unauthorized(.json(body), headers: .init(wwwAuthenticate: "Basic realm=\"\(GatewayAuthenticator.realm)\""))
            }
            return .badRequest(.json(body))
        }
    }

    public func registerClient(_ input: Operations.RegisterClient.Input, context: Context) async throws -> Operations.RegisterClient.Output {
        let address = CredentialFailureThrottle.subject(for: context.clientAddress)
        if let registrations = oauth.registrations, let address {
            if let retryAfter = registrations.refusal([address]) {
                context.logger.warning("oauth registration refused: rate limited", metadata: ["client.subjects": .string(address.description)])
                var headers = HTTPFields()
                headers[.retryAfter] = String(retryAfter)
                throw GatewayError(
                    status: .tooManyRequests, code: "rate_limited",
                    message: "Too many client registrations from this address. Retry in \(retryAfter) s.", headers: headers
                )
            }
            registrations.recordFailure([address])
        }
        let request: ClientRegistrationRequest
        switch input.body {
        case .success(let decoded): request = decoded
        case .failure(let error):
            return .badRequest(.json(ClientRegistrationError(error: .invalidClientMetadata, errorDescription: "the body is not client metadata: \(error.message)")))
        }
        let addressText: String? = address.map {
            if case .address(let text) = $0 { return text }
            return $0.description
        }
        switch try await oauth.service.register(request, from: addressText) {
        case .success(let response):
            return .created(.json(response), headers: .init(cacheControl: "no-store"))
        case .failure(let failure):
            context.logger.info("oauth registration refused", metadata: ["oauth.error": .string(failure.error.rawValue)])
            return .badRequest(.json(ClientRegistrationError(error: failure.error, errorDescription: failure.description)))
        }
    }

    public func getProtectedResourceMetadata(
        _ input: Operations.GetProtectedResourceMetadata.Input,
        context: Context
    ) async throws -> Operations.GetProtectedResourceMetadata.Output {
        .ok(.json(oauth.service.protectedResourceMetadata(forMCP: false)))
    }

    public func getMCPProtectedResourceMetadata(
        _ input: Operations.GetMCPProtectedResourceMetadata.Input,
        context: Context
    ) async throws -> Operations.GetMCPProtectedResourceMetadata.Output {
        .ok(.json(oauth.service.protectedResourceMetadata(forMCP: true)))
    }

    public func getAuthorizationServerMetadata(
        _ input: Operations.GetAuthorizationServerMetadata.Input,
        context: Context
    ) async throws -> Operations.GetAuthorizationServerMetadata.Output {
        .ok(.json(oauth.service.metadata()))
    }

    /// The Authorization header when it carries Basic credentials (a Bearer one is not client authentication).
    static func basic(_ header: String?) -> String? {
        guard let header, header.lowercased().hasPrefix("basic ") else { return nil }
        return header
    }

    /// The parameters of a token or revocation request, form-encoded (what ChatGPT sends) or JSON
    /// (what the original README shows), as the generated route decoded and checked them.
    static func oauthParameters<T: Decodable>(_ body: Result<T, GatewayError>, rawBody: ByteBuffer) throws -> T {
        // No body is a request with no parameters: the RFC's errors (invalid_client…) then say what is missing.
        guard rawBody.readableBytes > 0 else { return try FormDecoder().decode(T.self, from: "") }
        return try body.get()
    }
}
