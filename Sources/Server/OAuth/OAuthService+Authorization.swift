import Crypto
import Foundation
import GatewayAPI
import Logging

/// The authorization endpoint: who asks (registered, self-registered or by metadata document),
/// whether the request is valid, the consent form's CSRF token, and the redirect that approves or
/// denies it.
extension OAuthService {
    // MARK: Authorization

    /// `https://chat.openai.com/aip/<g-id>/oauth/callback` or the same on chatgpt.com.
    static func isChatGPTCallback(_ uri: String) -> Bool {
        uri.wholeMatch(of: #/https://(chat\.openai\.com|chatgpt\.com)/aip/[A-Za-z0-9_-]+/oauth/callback/#) != nil
    }

    /// Exactly registered URIs; for clients with a secret (GPT Actions), ChatGPT's callback shape too.
    func isAllowed(_ redirectURI: String, for client: OAuthClient) -> Bool {
        if client.redirectURIs.contains(redirectURI) { return true }
        return !client.isPublic && settings.allowChatGPTCallbacks && Self.isChatGPTCallback(redirectURI)
    }

    /// `resource` in canonical form if it names this gateway's MCP endpoint or its base URL
    /// (scheme and host compared without case, a trailing slash ignored); nil otherwise.
    func canonicalResource(_ resource: String) -> String? {
        func canonical(_ url: String) -> String? {
            guard var components = URLComponents(string: url), components.fragment == nil, let scheme = components.scheme, components.host != nil
            else { return nil }
            components.scheme = scheme.lowercased()
            components.host = components.host?.lowercased()
            while components.path.hasSuffix("/") { components.path.removeLast() }
            return components.string
        }
        guard let given = canonical(resource) else { return nil }
        if given == canonical(settings.mcpResource) { return settings.mcpResource }
        if given == canonical(settings.issuer) { return settings.issuer }
        return nil
    }

    /// A registered client, or the one an https `client_id`'s metadata document describes.
    func resolveClient(_ clientID: String) async throws -> Result<OAuthClient, AuthorizationFailure> {
        if ClientMetadataDocumentClient.isDocumentURL(clientID), let metadataDocuments {
            do {
                return .success(try await metadataDocuments.client(at: clientID))
            } catch {
                logger.info("oauth client metadata document refused", metadata: ["oauth.client_id": .string(clientID), "reason": .string(error.description)])
                return .failure(.page(error.description))
            }
        }
        guard let client = try await store.client(clientID) else {
            return .failure(.page("The client '\(clientID)' is not registered with this gateway."))
        }
        return .success(client)
    }

    public func validate(
        responseType: String?,
        clientID: String?,
        redirectURI: String?,
        state: String?,
        scope: String?,
        codeChallenge: String?,
        codeChallengeMethod: String?,
        resource: String? = nil
    ) async throws -> Result<AuthorizationRequest, AuthorizationFailure> {
        guard let clientID, !clientID.isEmpty else { return .failure(.page("The request names no client (client_id is missing).")) }
        let client: OAuthClient
        switch try await resolveClient(clientID) {
        case .success(let resolved): client = resolved
        case .failure(let failure): return .failure(failure)
        }
        let resolvedRedirect: String
        if let redirectURI, !redirectURI.isEmpty {
            guard isAllowed(redirectURI, for: client) else {
                return .failure(.page("The redirect URI '\(redirectURI)' is not registered for the client '\(clientID)'."))
            }
            resolvedRedirect = redirectURI
        } else if client.redirectURIs.count == 1 {
            resolvedRedirect = client.redirectURIs[0]
        } else {
            return .failure(.page("The request has no redirect_uri, and the client has no single registered one to fall back on."))
        }
        // From here on, errors go back to the client.
        func back(_ error: String, _ description: String) -> Result<AuthorizationRequest, AuthorizationFailure> {
            var parameters = [("error", error), ("error_description", description)]
            if let state { parameters.append(("state", state)) }
            return .failure(.redirect(Self.url(resolvedRedirect, adding: parameters)))
        }
        guard let responseType, !responseType.isEmpty else { return back("invalid_request", "response_type is required") }
        guard responseType == "code" else { return back("unsupported_response_type", "only response_type=code is supported") }
        let normalizedScope = Self.normalize(scope)
        if let normalizedScope {
            let unknown = normalizedScope.split(separator: " ").map(String.init).filter { !Settings.scopes.contains($0) }
            if !unknown.isEmpty { return back("invalid_scope", "unknown scope: \(unknown.joined(separator: " "))") }
        }
        var canonical: String?
        if let resource, !resource.isEmpty {
            guard let known = canonicalResource(resource) else {
                return back("invalid_target", "resource must be \(settings.mcpResource) or \(settings.issuer)")
            }
            canonical = known
        }
        if let codeChallenge, !codeChallenge.isEmpty {
            // RFC 7636 §4.3: no method means plain.
            let method = (codeChallengeMethod ?? "").isEmpty ? "plain" : codeChallengeMethod!
            guard method == "S256" else {
                return back("invalid_request", "code_challenge_method \(method) is not supported: use S256")
            }
            guard (43...128).contains(codeChallenge.count), codeChallenge.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~".contains($0)) }) else {
                return back("invalid_request", "code_challenge is not a valid S256 challenge")
            }
        } else if codeChallengeMethod != nil && codeChallengeMethod != "" {
            return back("invalid_request", "code_challenge_method without code_challenge")
        } else if client.isPublic || canonical != nil {
            return back("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
        }
        return .success(
            AuthorizationRequest(
                client: client,
                redirectURI: resolvedRedirect,
                redirectURIGiven: !(redirectURI ?? "").isEmpty,
                state: state,
                scope: normalizedScope,
                codeChallenge: (codeChallenge ?? "").isEmpty ? nil : codeChallenge,
                resource: canonical
            )
        )
    }

    /// Issues a code and returns the redirect back to the client.
    public func approve(_ request: AuthorizationRequest, approvedBy: String) async throws -> String {
        let code = SecretToken.generate(prefix: "cgac_")
        try await store.insertCode(
            code,
            StoredCode(
                clientID: request.client.clientID,
                redirectURI: request.redirectURI,
                redirectURIGiven: request.redirectURIGiven,
                scope: request.scope,
                codeChallenge: request.codeChallenge,
                grantID: UUID().uuidString.lowercased(),
                approvedBy: approvedBy,
                expiresAt: Date().addingTimeInterval(settings.codeLifetime.seconds),
                resource: request.resource
            )
        )
        logger.info("oauth authorization approved", metadata: ["oauth.client_id": .string(request.client.clientID), "approved_by": .string(approvedBy)])
        var parameters = [("code", code)]
        if let state = request.state { parameters.append(("state", state)) }
        return Self.url(request.redirectURI, adding: parameters)
    }

    public func deny(_ request: AuthorizationRequest) -> String {
        var parameters = [("error", "access_denied"), ("error_description", "the gateway owner denied the request")]
        if let state = request.state { parameters.append(("state", state)) }
        return Self.url(request.redirectURI, adding: parameters)
    }

    // MARK: CSRF for the consent form

    /// A token bound to the request's parameters, valid for 10 minutes, signed with a key that
    /// lives as long as the process.
    public func csrfToken(for request: AuthorizationRequest, now: Date = Date()) -> String {
        let expiry = Int(now.timeIntervalSince1970) + 600
        return "\(expiry).\(csrfSignature(request, expiry: expiry))"
    }

    public func csrfTokenIsValid(_ token: String?, for request: AuthorizationRequest, now: Date = Date()) -> Bool {
        guard let token, let dot = token.firstIndex(of: "."), let expiry = Int(token[..<dot]), expiry >= Int(now.timeIntervalSince1970) else {
            return false
        }
        let expected = Array(csrfSignature(request, expiry: expiry).utf8)
        return CredentialHash.constantTimeEquals(expected, Array(token[token.index(after: dot)...].utf8))
    }

    private func csrfSignature(_ request: AuthorizationRequest, expiry: Int) -> String {
        let parts = [
            "v2", request.client.clientID, request.redirectURI, request.state ?? "", request.scope ?? "", request.codeChallenge ?? "",
            request.resource ?? "", String(expiry),
        ]
        let mac = HMAC<SHA256>.authenticationCode(for: Data(parts.joined(separator: "\u{1F}").utf8), using: SymmetricKey(data: csrfKeyBytes))
        return SecretToken.base64URL(Data(mac))
    }
}
