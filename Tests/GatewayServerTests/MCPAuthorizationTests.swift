import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOSSL
import Testing

@testable import GatewayServer

/// A gateway for MCP clients: public base URL set, the failure throttle off (these tests fail
/// on purpose more often than it allows from one address).
enum MCPAuthFixture {
    static let base = "https://gateway.example.com"
    static let mcpResource = base + "/mcp"
    static let redirect = "http://127.0.0.1:8765/callback"
    static let verifier = "mcp-verifier-" + String(repeating: "x", count: 40)

    static func gateway(_ extra: [String: String] = [:], codexHome: String? = nil) -> TestGateway {
        OAuthFixture.gateway(["AUTH_FAILURE_BUDGET_PER_MINUTE": "0"].merging(extra) { _, new in new }, codexHome: codexHome)
    }
}

extension TestClientProtocol {
    func register(_ metadata: [String: Any]) async throws -> (TestResponse, [String: Any]) {
        let response = try await execute(
            uri: "/oauth/register",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: metadata))
        )
        return (response, (try? response.json()) ?? [:])
    }

    /// Registers a public client with ``MCPAuthFixture/redirect``; returns its client_id.
    func registerPublicClient(name: String = "Test MCP Client") async throws -> String {
        let (response, client) = try await register([
            "client_name": name, "redirect_uris": [MCPAuthFixture.redirect], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        ])
        #expect(response.status == .created, "\(response.text)")
        return try #require(client["client_id"] as? String)
    }

    /// The authorization request an MCP client makes: PKCE S256 and a resource.
    func mcpAuthorization(clientID: String, resource: String? = MCPAuthFixture.mcpResource) -> [String: String] {
        var parameters = [
            "response_type": "code", "client_id": clientID, "redirect_uri": MCPAuthFixture.redirect, "state": "s1",
            "code_challenge": OAuthService.s256Challenge(MCPAuthFixture.verifier), "code_challenge_method": "S256",
        ]
        if let resource { parameters["resource"] = resource }
        return parameters
    }

    /// Authorize (approving on the consent page) and exchange the code as a public client.
    func mcpTokens(clientID: String, resource: String? = MCPAuthFixture.mcpResource) async throws -> [String: Any] {
        let (_, result) = try await authorizeAndApprove(mcpAuthorization(clientID: clientID, resource: resource))
        var form = [
            "grant_type": "authorization_code", "code": try #require(result["code"]), "redirect_uri": MCPAuthFixture.redirect,
            "client_id": clientID, "code_verifier": MCPAuthFixture.verifier,
        ]
        if let resource { form["resource"] = resource }
        let (response, tokens) = try await tokenRequest(form)
        #expect(response.status == .ok, "\(response.text)")
        return tokens
    }

    /// Where GET /oauth/authorize sent the browser, as its query parameters.
    func authorizeRedirect(_ parameters: [String: String]) async throws -> [String: String] {
        let response = try await execute(uri: "/oauth/authorize?" + OAuthFixture.query(parameters), method: .get)
        #expect(response.status == .found, "\(response.text)")
        return OAuthFixture.parameters(ofLocation: response.headers[.location])
    }
}

@Suite("OAuth for MCP clients (PROTOCOLS.md §11)")
struct MCPAuthorizationTests {
    @Test func protectedResourceMetadataNamesThisAuthorizationServer() async throws {
        try await MCPAuthFixture.gateway().withLiveServer { client in
            let mcp = try await client.execute(uri: "/.well-known/oauth-protected-resource/mcp", method: .get)
            #expect(mcp.status == .ok)
            let mcpDocument = try mcp.json()
            #expect(mcpDocument["resource"] as? String == MCPAuthFixture.mcpResource)
            #expect(mcpDocument["authorization_servers"] as? [String] == [MCPAuthFixture.base])
            #expect(mcpDocument["bearer_methods_supported"] as? [String] == ["header"])
            #expect(mcpDocument["scopes_supported"] as? [String] == ["codex"])

            let root = try await client.execute(uri: "/.well-known/oauth-protected-resource", method: .get)
            #expect(root.status == .ok)
            #expect(try root.json()["resource"] as? String == MCPAuthFixture.base)

            let server = try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get).json()
            #expect(server["registration_endpoint"] as? String == MCPAuthFixture.base + "/oauth/register")
            #expect(server["client_id_metadata_document_supported"] as? Bool == true)
            #expect(server["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect((server["token_endpoint_auth_methods_supported"] as? [String])?.contains("none") == true)
        }
    }

    @Test func everyUnauthorizedAnswerPointsToTheResourceMetadata() async throws {
        try await MCPAuthFixture.gateway(["OAUTH_ACCESS_TOKEN_TTL_SECONDS": "1"]).withLiveServer { client in
            let metadata = "resource_metadata=\"\(MCPAuthFixture.base)/.well-known/oauth-protected-resource\""
            let none = try await client.execute(uri: "/whoami", method: .get)
            #expect(none.status == .unauthorized)
            let noneChallenge = try #require(none.headers[.wwwAuthenticate])
            #expect(noneChallenge == "Bearer realm=\"codex-gateway\", \(metadata)")

            let bad = try await client.execute(uri: "/whoami", method: .get, headers: .bearer("cgat_not-a-token"))
            #expect(bad.status == .unauthorized)
            let badChallenge = try #require(bad.headers[.wwwAuthenticate])
            #expect(badChallenge.hasPrefix("Bearer realm=\"codex-gateway\", \(metadata), error=\"invalid_token\""))

            let wrongKey = try await client.execute(uri: "/jsonrpc", method: .post, headers: .apiKey("not-a-key"))
            #expect(wrongKey.status == .unauthorized)
            #expect(wrongKey.headers[.wwwAuthenticate]?.contains(metadata) == true)

            // An expired token: invalid_token too.
            let clientID = try await client.registerPublicClient()
            let tokens = try await client.mcpTokens(clientID: clientID, resource: MCPAuthFixture.base)
            let access = try #require(tokens["access_token"] as? String)
            #expect(try await client.whoAmI(bearer: access).status == .ok)
            try await Task.sleep(for: .milliseconds(1100))
            let expired = try await client.whoAmI(bearer: access)
            #expect(expired.status == .unauthorized)
            #expect(expired.headers[.wwwAuthenticate]?.contains("error=\"invalid_token\"") == true)
        }
    }

    @Test func requestsToMCPAreSentToItsOwnMetadata() async throws {
        let authenticator = GatewayAuthenticator(apiKeys: MemoryAPIKeyStore(keys: [], fingerprinter: KeyFingerprinter(salt: [1, 2, 3])), publicBaseURL: MCPAuthFixture.base)
        #expect(authenticator.resourceMetadataURL(forPath: "/mcp") == MCPAuthFixture.base + "/.well-known/oauth-protected-resource/mcp")
        #expect(authenticator.resourceMetadataURL(forPath: "/mcp/x") == MCPAuthFixture.base + "/.well-known/oauth-protected-resource/mcp")
        #expect(authenticator.resourceMetadataURL(forPath: "/mcpx") == MCPAuthFixture.base + "/.well-known/oauth-protected-resource")
        #expect(authenticator.resourceMetadataURL(forPath: "/jsonrpc") == MCPAuthFixture.base + "/.well-known/oauth-protected-resource")
        do {
            _ = try await authenticator.principal(for: [:], alternatives: [[SecurityRequirement(scheme: "BearerAuth", kind: .httpBearer, scopes: [])]], path: "/mcp")
            Issue.record("no credentials were accepted")
        } catch let error as GatewayError {
            #expect(error.status == .unauthorized)
            #expect(
                error.headers[.wwwAuthenticate]
                    == "Bearer realm=\"codex-gateway\", resource_metadata=\"\(MCPAuthFixture.base)/.well-known/oauth-protected-resource/mcp\""
            )
        }
    }

    @Test func tokensWorkOnlyForTheirAudience() {
        let mcp = MCPAuthFixture.mcpResource
        func oauth(_ audience: String?) -> GatewayServer.Principal { GatewayServer.Principal(kind: .oauth, id: "oauth:c:g", audience: audience) }
        let key = GatewayServer.Principal(kind: .apiKey, id: "key_1")
        func allowed(_ principal: GatewayServer.Principal, _ path: String) -> Bool {
            GatewayAuthenticator.audienceRefusal(principal, path: path, mcpResource: mcp) == nil
        }
        // /mcp: a token for /mcp or an API key.
        #expect(allowed(oauth(mcp), "/mcp"))
        #expect(allowed(oauth(mcp), "/mcp/sessions"))
        #expect(allowed(key, "/mcp"))
        #expect(!allowed(oauth(nil), "/mcp"), "a GPT Actions token (no resource) does not reach /mcp")
        #expect(!allowed(oauth(MCPAuthFixture.base), "/mcp"))
        // Everywhere else: anything but a token for /mcp.
        #expect(!allowed(oauth(mcp), "/jsonrpc"))
        #expect(!allowed(oauth(mcp), "/whoami"))
        #expect(!allowed(oauth(mcp), "/mcpx"))
        #expect(allowed(oauth(nil), "/jsonrpc"))
        #expect(allowed(oauth(MCPAuthFixture.base), "/exec"))
        #expect(allowed(key, "/jsonrpc"))
    }

    @Test func anMCPClientRegistersAuthorizesWithPKCEAndGetsATokenForMCPOnly() async throws {
        let home = TemporaryDirectory.make()
        try await MCPAuthFixture.gateway(codexHome: home).withLiveServer { client in
            let clientID = try await client.registerPublicClient(name: "Claude <Desktop>")
            // The consent page names the client and what it asks for.
            let page = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(client.mcpAuthorization(clientID: clientID)), method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("Claude &lt;Desktop&gt;"))
            #expect(page.text.contains("registered itself"))
            #expect(page.text.contains(MCPAuthFixture.mcpResource))

            let tokens = try await client.mcpTokens(clientID: clientID)
            let access = try #require(tokens["access_token"] as? String)
            let refresh = try #require(tokens["refresh_token"] as? String)

            // Bound to /mcp: refused on the REST API, with invalid_token.
            let elsewhere = try await client.whoAmI(bearer: access)
            #expect(elsewhere.status == .unauthorized)
            #expect(elsewhere.headers[.wwwAuthenticate]?.contains("error=\"invalid_token\"") == true)
            #expect(try elsewhere.json()["error"] as? String != nil)

            // Refresh as a public client (client_id only): the new token keeps the audience.
            let (refreshed, pair) = try await client.tokenRequest(["grant_type": "refresh_token", "refresh_token": refresh, "client_id": clientID])
            #expect(refreshed.status == .ok, "\(refreshed.text)")
            let newAccess = try #require(pair["access_token"] as? String)
            #expect(try await client.whoAmI(bearer: newAccess).status == .unauthorized)
            let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
            let stored = try await SQLiteOAuthStore(database: database).token(newAccess)
            #expect(stored?.resource == MCPAuthFixture.mcpResource)
            try await database.close()

            // Asking for another resource on refresh: invalid_target.
            let (retarget, retargetError) = try await client.tokenRequest(
                ["grant_type": "refresh_token", "refresh_token": try #require(pair["refresh_token"] as? String), "client_id": clientID, "resource": MCPAuthFixture.base]
            )
            #expect(retarget.status == .badRequest)
            #expect(retargetError["error"] as? String == "invalid_target")

            // A secret for a public client is refused.
            let (secretTry, secretError) = try await client.tokenRequest(
                ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": clientID, "client_secret": "guess"]
            )
            #expect(secretTry.status == .unauthorized && secretError["error"] as? String == "invalid_client")

            // The same client with resource = the base URL gets a token for the REST API.
            let restTokens = try await client.mcpTokens(clientID: clientID, resource: MCPAuthFixture.base)
            #expect(try await client.whoAmI(bearer: try #require(restTokens["access_token"] as? String)).status == .ok)
        }
    }

    @Test func pkceIsRequiredOfMCPClientsAndPlainIsRefused() async throws {
        try await MCPAuthFixture.gateway().withLiveServer { client in
            let clientID = try await client.registerPublicClient()
            var noPKCE = client.mcpAuthorization(clientID: clientID)
            noPKCE["code_challenge"] = nil
            noPKCE["code_challenge_method"] = nil
            let missing = try await client.authorizeRedirect(noPKCE)
            #expect(missing["error"] == "invalid_request")
            #expect(missing["error_description"]?.contains("PKCE is required") == true)
            #expect(missing["state"] == "s1")

            var noPKCENoResource = noPKCE
            noPKCENoResource["resource"] = nil
            #expect(try await client.authorizeRedirect(noPKCENoResource)["error"] == "invalid_request", "a public client needs PKCE even without resource")

            var plain = client.mcpAuthorization(clientID: clientID)
            plain["code_challenge"] = MCPAuthFixture.verifier
            plain["code_challenge_method"] = "plain"
            let plainRefused = try await client.authorizeRedirect(plain)
            #expect(plainRefused["error"] == "invalid_request")
            #expect(plainRefused["error_description"]?.contains("plain is not supported") == true)

            // A confidential client (ChatGPT's) naming a resource needs PKCE too.
            var confidential = chatGPTAuthorize
            confidential["resource"] = MCPAuthFixture.mcpResource
            #expect(try await client.authorizeRedirect(confidential)["error"] == "invalid_request")

            // A resource that is not this gateway's.
            var foreign = client.mcpAuthorization(clientID: clientID)
            foreign["resource"] = "https://other.example.com/mcp"
            #expect(try await client.authorizeRedirect(foreign)["error"] == "invalid_target")

            // The code exchange without the verifier, with a wrong one, and for another resource.
            func code() async throws -> String {
                let (_, result) = try await client.authorizeAndApprove(client.mcpAuthorization(clientID: clientID))
                return try #require(result["code"])
            }
            let base = ["grant_type": "authorization_code", "redirect_uri": MCPAuthFixture.redirect, "client_id": clientID]
            let (noVerifier, noVerifierError) = try await client.tokenRequest(base.merging(["code": try await code()]) { _, new in new })
            #expect(noVerifier.status == .badRequest && noVerifierError["error"] as? String == "invalid_grant")
            let (wrongVerifier, wrongVerifierError) = try await client.tokenRequest(
                base.merging(["code": try await code(), "code_verifier": MCPAuthFixture.verifier + "x"]) { _, new in new })
            #expect(wrongVerifier.status == .badRequest && wrongVerifierError["error"] as? String == "invalid_grant")
            let (otherAudience, otherAudienceError) = try await client.tokenRequest(
                base.merging(["code": try await code(), "code_verifier": MCPAuthFixture.verifier, "resource": MCPAuthFixture.base]) { _, new in new })
            #expect(otherAudience.status == .badRequest && otherAudienceError["error"] as? String == "invalid_target")
        }
    }

    @Test func registrationChecksRedirectURIsAndMetadataAndPersists() async throws {
        let home = TemporaryDirectory.make()
        let captured = Captured<String>()
        try await MCPAuthFixture.gateway(codexHome: home).withLiveServer { client in
            let (created, registered) = try await client.register([
                "client_name": "Inspector", "redirect_uris": ["https://app.example.com/cb", "http://localhost:6274/oauth/callback"],
                "token_endpoint_auth_method": "none", "client_uri": "https://inspector.example.com", "unknown_member": true,
            ])
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.cacheControl] == "no-store")
            #expect(registered["client_secret"] == nil)
            #expect(registered["token_endpoint_auth_method"] as? String == "none")
            #expect(registered["client_name"] as? String == "Inspector")
            #expect(registered["redirect_uris"] as? [String] == ["https://app.example.com/cb", "http://localhost:6274/oauth/callback"])
            #expect(registered["client_id_issued_at"] is Int)
            captured.value = registered["client_id"] as? String

            // RFC 7591's default method gets a secret.
            let (secretClient, secretClientBody) = try await client.register(["redirect_uris": ["https://app.example.com/cb"]])
            #expect(secretClient.status == .created)
            #expect(secretClientBody["token_endpoint_auth_method"] as? String == "client_secret_basic")
            #expect((secretClientBody["client_secret"] as? String)?.isEmpty == false)
            #expect(secretClientBody["client_secret_expires_at"] as? Int == 0)

            for bad in ["http://evil.example.com/cb", "javascript:alert(1)", "https://app.example.com/cb#frag", "not a uri"] {
                let (response, error) = try await client.register(["redirect_uris": [bad], "token_endpoint_auth_method": "none"])
                #expect(response.status == .badRequest, "\(bad)")
                #expect(error["error"] as? String == "invalid_redirect_uri", "\(bad)")
                #expect(error["error_description"] is String)
            }
            let (noRedirect, noRedirectError) = try await client.register(["client_name": "x"])
            #expect(noRedirect.status == .badRequest && noRedirectError["error"] as? String == "invalid_client_metadata")
            #expect((noRedirectError["error_description"] as? String)?.contains("redirect_uris") == true)
            let (badMethod, badMethodError) = try await client.register(["redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "private_key_jwt"])
            #expect(badMethod.status == .badRequest && badMethodError["error"] as? String == "invalid_client_metadata")
            let (badGrant, badGrantError) = try await client.register(["redirect_uris": ["https://a.example.com/cb"], "grant_types": ["client_credentials"]])
            #expect(badGrant.status == .badRequest && badGrantError["error"] as? String == "invalid_client_metadata")
            let notJSON = try await client.execute(
                uri: "/oauth/register", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{nope"))
            #expect(notJSON.status == .badRequest)
            #expect(try notJSON.json()["error"] as? String == "invalid_client_metadata")
        }
        // Registered clients are in the database: after a restart the client still authorizes.
        let clientID = try #require(captured.value)
        try await MCPAuthFixture.gateway(codexHome: home).withLiveServer { client in
            var parameters = client.mcpAuthorization(clientID: clientID)
            parameters["redirect_uri"] = "http://localhost:6274/oauth/callback"
            let page = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(parameters), method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("Inspector"))
            #expect(page.text.contains("inspector.example.com"))
            // An unregistered redirect URI: an error page, never a redirect.
            parameters["redirect_uri"] = "http://localhost:9999/elsewhere"
            let unregistered = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(parameters), method: .get)
            #expect(unregistered.status == .badRequest && unregistered.headers[.location] == nil)
            // A public client gets no allowance for ChatGPT's GPT Actions callback shape.
            parameters["redirect_uri"] = OAuthFixture.callback
            #expect(try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(parameters), method: .get).status == .badRequest)
        }
    }

    @Test func registrationFloodsAreRateLimited() async throws {
        try await MCPAuthFixture.gateway(["OAUTH_REGISTRATIONS_PER_MINUTE": "3"]).withLiveServer { client in
            for _ in 0..<3 {
                _ = try await client.registerPublicClient()
            }
            let (flooded, error) = try await client.register(["redirect_uris": [MCPAuthFixture.redirect], "token_endpoint_auth_method": "none"])
            #expect(flooded.status == .tooManyRequests)
            #expect(Int(flooded.headers[HTTPField.Name("Retry-After")!] ?? "") ?? 0 >= 1)
            #expect(error["code"] as? String == "rate_limited")
        }
    }

    @Test func metadataDocumentURLsThatReachLoopbackAreRefused() async throws {
        let certificates = try TestCertificates.make()
        let document: @Sendable (String) -> String = { url in
            #"{"client_id":"\#(url)","client_name":"Sneaky","redirect_uris":["https://sneaky.example.com/cb"]}"#
        }
        let literal = try await MetadataDocumentServer.start(certificates: certificates) { port in document("https://127.0.0.1:\(port)/client.json") }
        defer { Task { await literal.close() } }
        let name = try #require(LoopbackName.find(), "no host name other than localhost resolves to a loopback address here")
        let named = try await MetadataDocumentServer.start(certificates: certificates, host: name.address) { port in
            document("https://\(name.name):\(port)/client.json")
        }
        defer { Task { await named.close() } }
        try await MCPAuthFixture.gateway().withLiveServer { client in
            let verifier = OAuthService.s256Challenge(MCPAuthFixture.verifier)
            func authorize(_ clientID: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/oauth/authorize?" + OAuthFixture.query([
                        "response_type": "code", "client_id": clientID, "redirect_uri": "https://sneaky.example.com/cb", "state": "s",
                        "code_challenge": verifier, "code_challenge_method": "S256",
                    ]),
                    method: .get
                )
            }
            // A literal loopback address: refused before connecting.
            let byAddress = try await authorize("https://127.0.0.1:\(literal.port)/client.json")
            #expect(byAddress.status == .badRequest)
            #expect(byAddress.headers[.location] == nil)
            #expect(byAddress.text.contains("loopback"))
            #expect(literal.connections == 0)

            // A name that resolves to loopback: the connection is dropped once made, before any request.
            let byName = try await authorize("https://\(name.name):\(named.port)/client.json")
            #expect(byName.status == .badRequest)
            #expect(byName.headers[.location] == nil)
            #expect(byName.text.contains("could not be fetched"))
            #expect(named.connections >= 1, "the gateway connected, so the refusal is the policy's")
            #expect(named.requests == 0)

            // Plain http client IDs are not metadata documents, and unknown to the gateway.
            let http = try await authorize("http://127.0.0.1:\(literal.port)/client.json")
            #expect(http.status == .badRequest)
        }
    }

    /// The fetch through the outbound client, with a private CA trusted (a TLS configuration no
    /// configuration variable can set) and private addresses allowed, as only a test does.
    @Test func metadataDocumentsAreFetchedParsedCachedAndNameTheClient() async throws {
        let certificates = try TestCertificates.make()
        let document = Captured<String>()
        let server = try await MetadataDocumentServer.start(certificates: certificates) { _ in document.value ?? "" }
        defer { Task { await server.close() } }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificates.caFile)
        let outbound = OutboundHTTPClient(policy: OutboundPolicy(allowPrivate: true), logger: TestGateway.quietLogger, tlsConfiguration: tls)
        defer { Task { try? await outbound.client.shutdown() } }
        var settings = ClientMetadataDocumentClient.Settings()
        settings.maxBytes = 2048
        let documents = ClientMetadataDocumentClient(outbound: outbound, settings: settings, logger: TestGateway.quietLogger)

        let url = "https://localhost:\(server.port)/clients/codex.json"
        document.value = #"{"client_id":"\#(url)","client_name":"Codex CLI","client_uri":"https://codex.example.com","redirect_uris":["http://127.0.0.1:1455/cb"],"token_endpoint_auth_method":"none"}"#
        let fetched = try await documents.client(at: url)
        #expect(fetched.name == "Codex CLI")
        #expect(fetched.redirectURIs == ["http://127.0.0.1:1455/cb"])
        #expect(fetched.isPublic)
        #expect(server.requests == 1)
        _ = try await documents.client(at: url)
        #expect(server.requests == 1, "the second use comes from the cache")

        // What a document must say.
        func refusal(_ body: String, at path: String) async -> String? {
            document.value = body
            do {
                _ = try await documents.client(at: "https://localhost:\(server.port)\(path)")
                return nil
            } catch {
                return error.description
            }
        }
        let other = "https://localhost:\(server.port)/other.json"
        #expect(await refusal(#"{"client_id":"https://elsewhere.example.com/c.json","redirect_uris":["https://a.example.com/cb"]}"#, at: "/other.json")?.contains("another client_id") == true)
        #expect(await refusal(#"{"client_id":"\#(other)","redirect_uris":["http://evil.example.com/cb"]}"#, at: "/other.json")?.contains("redirect URI") == true)
        #expect(await refusal(#"{"client_id":"\#(other)","redirect_uris":["https://a.example.com/cb"],"client_secret":"s"}"#, at: "/other.json")?.contains("public client") == true)
        #expect(await refusal(#"{"client_id":"\#(other)","redirect_uris":[]}"#, at: "/other.json")?.contains("no redirect_uris") == true)
        #expect(await refusal("[1,2]", at: "/other.json")?.contains("not a JSON object") == true)
        #expect(await refusal(String(repeating: " ", count: 4096) + "{}", at: "/other.json")?.contains("larger than 2048 bytes") == true)
        do {
            _ = try await documents.client(at: "https://localhost:\(server.port)/")
            Issue.record("a URL without a path was accepted")
        } catch {
            #expect(error.description.contains("path"))
        }

        // Through the authorization server: the consent page names the client and the document's host.
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        let service = OAuthService(
            store: SQLiteOAuthStore(database: database), settings: .init(issuer: MCPAuthFixture.base), logger: TestGateway.quietLogger, metadataDocuments: documents)
        let validation = try await service.validate(
            responseType: "code", clientID: url, redirectURI: "http://127.0.0.1:1455/cb", state: "s", scope: nil,
            codeChallenge: OAuthService.s256Challenge(MCPAuthFixture.verifier), codeChallengeMethod: "S256", resource: MCPAuthFixture.mcpResource
        )
        guard case .success(let request) = validation else {
            Issue.record("the metadata document's client was not accepted: \(validation)")
            try await database.close()
            return
        }
        let page = ConsentPage.form(request, csrfToken: service.csrfToken(for: request))
        #expect(page.contains("Codex CLI"))
        #expect(page.contains("published by <code>localhost:\(server.port)</code>"))
        // Its code is exchanged as a public client's: client_id and verifier, no secret.
        let location = try await service.approve(request, approvedBy: "key_test")
        let code = try #require(OAuthFixture.parameters(ofLocation: location)["code"])
        var tokenRequest = TokenRequest()
        tokenRequest.grantType = "authorization_code"
        tokenRequest.code = code
        tokenRequest.redirectURI = "http://127.0.0.1:1455/cb"
        tokenRequest.clientID = url
        tokenRequest.codeVerifier = MCPAuthFixture.verifier
        tokenRequest.resource = MCPAuthFixture.mcpResource
        let exchange = try await service.token(tokenRequest, basicAuthorization: nil)
        guard case .success(let tokens) = exchange else {
            Issue.record("the code exchange failed: \(exchange)")
            try await database.close()
            return
        }
        let principal = try await service.principal(forAccessToken: tokens.accessToken)
        #expect(principal?.audience == MCPAuthFixture.mcpResource)
        try await database.close()
    }
}
