import Foundation
import GatewayAPI
import Logging

/// Dynamic Client Registration (RFC 7591), as MCP clients use it to register themselves.
extension OAuthService {
    /// An RFC 7591 §3.2.2 error.
    public struct RegistrationFailure: Error, Sendable, Equatable {
        public var error: ClientRegistrationError.Error
        public var description: String
    }

    static let registrationAuthMethods = ["none", "client_secret_post", "client_secret_basic"]
    static let maxRedirectURIs = 10
    static let maxMetadataLength = 2000

    /// Validates and stores a client; a secret is issued only for the `client_secret_*` methods
    /// (RFC 7591's default when none is named is `client_secret_basic`).
    public func register(_ request: ClientRegistrationRequest, from address: String?) async throws
        -> Result<ClientRegistrationResponse, RegistrationFailure>
    {
        func invalid(_ description: String) -> Result<ClientRegistrationResponse, RegistrationFailure> {
            .failure(RegistrationFailure(error: .invalidClientMetadata, description: description))
        }
        let redirectURIs = request.redirectUris
        guard !redirectURIs.isEmpty else {
            return .failure(RegistrationFailure(error: .invalidRedirectURI, description: "redirect_uris is required (the authorization-code grant needs one)"))
        }
        guard redirectURIs.count <= Self.maxRedirectURIs else {
            return .failure(RegistrationFailure(error: .invalidRedirectURI, description: "at most \(Self.maxRedirectURIs) redirect_uris"))
        }
        for uri in redirectURIs {
            if uri.count > Self.maxMetadataLength {
                return .failure(RegistrationFailure(error: .invalidRedirectURI, description: "a redirect URI is longer than \(Self.maxMetadataLength) characters"))
            }
            if let problem = RedirectURIRule.problem(uri) {
                return .failure(RegistrationFailure(error: .invalidRedirectURI, description: "the redirect URI '\(uri)' \(problem)"))
            }
        }
        let authMethod = request.tokenEndpointAuthMethod?.rawValue ?? "client_secret_basic"
        guard Self.registrationAuthMethods.contains(authMethod) else {
            return invalid("token_endpoint_auth_method must be one of \(Self.registrationAuthMethods.joined(separator: ", "))")
        }
        let grantTypes = request.grantTypes?.map(\.rawValue) ?? ["authorization_code", "refresh_token"]
        guard !grantTypes.isEmpty, Set(grantTypes).isSubset(of: ["authorization_code", "refresh_token"]) else {
            return invalid("grant_types may hold only authorization_code and refresh_token")
        }
        let responseTypes = request.responseTypes?.map(\.rawValue) ?? ["code"]
        guard responseTypes == ["code"] else { return invalid("response_types may hold only code") }
        let scope = Self.normalize(request.scope)
        if let scope, let unknown = scope.split(separator: " ").first(where: { !Settings.scopes.contains(String($0)) }) {
            return invalid("unknown scope: \(unknown)")
        }
        for (name, value) in [("client_uri", request.clientURI), ("logo_uri", request.logoURI)] {
            guard let value else { continue }
            guard value.count <= Self.maxMetadataLength, let components = URLComponents(string: value), components.scheme?.lowercased() == "https",
                components.host?.isEmpty == false
            else { return invalid("\(name) must be an https URL") }
        }
        for (name, value) in [("client_name", request.clientName), ("software_id", request.softwareID), ("software_version", request.softwareVersion)] {
            if let value, value.count > 200 { return invalid("\(name) is longer than 200 characters") }
        }
        let name = (request.clientName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let clientID = SecretToken.generate(prefix: "cgc_")
        let secret = authMethod == "none" ? nil : SecretToken.generate(prefix: "cgcs_")
        try await store.registerClient(
            clientID: clientID,
            secret: secret,
            name: name,
            redirectURIs: redirectURIs,
            authMethod: authMethod,
            metadata: RegisteredMetadata(
                clientURI: request.clientURI, logoURI: request.logoURI, scope: scope, softwareID: request.softwareID,
                softwareVersion: request.softwareVersion, registeredFrom: address
            )
        )
        logger.info(
            "oauth client registered",
            metadata: ["oauth.client_id": .string(clientID), "oauth.client_name": .string(name), "oauth.auth_method": .string(authMethod)]
        )
        return .success(
            ClientRegistrationResponse(
                clientID: clientID,
                clientSecret: secret,
                clientIDIssuedAt: Int(Date().timeIntervalSince1970),
                clientSecretExpiresAt: secret == nil ? nil : 0,
                redirectUris: redirectURIs,
                tokenEndpointAuthMethod: authMethod,
                grantTypes: grantTypes,
                responseTypes: responseTypes,
                clientName: name.isEmpty ? nil : name,
                clientURI: request.clientURI,
                logoURI: request.logoURI,
                scope: scope,
                softwareID: request.softwareID,
                softwareVersion: request.softwareVersion
            )
        )
    }
}
