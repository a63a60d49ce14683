import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import ModelProvider
import NIOCore
import Testing

/// The ChatGPT client, as OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET register it.
enum OAuthFixture {
    static let clientID = "codex-gateway-client"
    static let secret = "oauth-secret-0123456789"
    static let callback = "https://chatgpt.com/aip/g-0a1b2c3d4e/oauth/callback"

    static func gateway(_ extra: [String: String] = [:], codexHome: String? = nil) -> TestGateway {
        var environment = ["OAUTH_CLIENT_ID": clientID, "OAUTH_CLIENT_SECRET": secret, "PUBLIC_BASE_URL": "https://gateway.example.com"]
        if let codexHome { environment["CODEX_HOME"] = codexHome }
        environment.merge(extra) { _, new in new }
        return TestGateway(environment)
    }

    static func query(_ items: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return items.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
    }

    static func parameters(ofLocation location: String?) -> [String: String] {
        guard let location, let components = URLComponents(string: location) else { return [:] }
        var result: [String: String] = [:]
        for item in components.queryItems ?? [] { result[item.name] = item.value }
        return result
    }
}

extension TestClientProtocol {
    /// GET /oauth/authorize, then approve on the consent page with `key`; returns the redirect.
    func authorizeAndApprove(_ parameters: [String: String], key: String = TestGateway.apiKey) async throws -> (TestResponse, [String: String]) {
        let page = try await execute(uri: "/oauth/authorize?" + OAuthFixture.query(parameters), method: .get)
        #expect(page.status == .ok, "\(page.text)")
        let csrf = try #require(page.text.firstMatch(of: /name="csrf_token" value="([^"]+)"/)?.1)
        var form = parameters
        form["csrf_token"] = String(csrf)
        form["api_key"] = key
        form["decision"] = "approve"
        let answer = try await execute(
            uri: "/oauth/authorize",
            method: .post,
            headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: OAuthFixture.query(form))
        )
        return (answer, OAuthFixture.parameters(ofLocation: answer.headers[.location]))
    }

    func tokenRequest(_ form: [String: String], basic: (String, String)? = nil, json: Bool = false) async throws -> (TestResponse, [String: Any]) {
        var headers: HTTPFields = [.contentType: json ? "application/json" : "application/x-www-form-urlencoded"]
        if let (id, secret) = basic {
            headers[.authorization] = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        }
        let body = json ? String(decoding: try JSONSerialization.data(withJSONObject: form), as: UTF8.self) : OAuthFixture.query(form)
        let response = try await execute(uri: "/oauth/token", method: .post, headers: headers, body: ByteBuffer(string: body))
        return (response, (try? response.json()) ?? [:])
    }

    func codeGrant(_ code: String, redirect: String = OAuthFixture.callback, extra: [String: String] = [:]) async throws -> (TestResponse, [String: Any]) {
        var form = [
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": OAuthFixture.clientID,
            "client_secret": OAuthFixture.secret,
        ]
        form.merge(extra) { _, new in new }
        return try await tokenRequest(form)
    }

    func whoAmI(bearer token: String) async throws -> TestResponse {
        try await execute(uri: "/whoami", method: .get, headers: .bearer(token))
    }
}

let chatGPTAuthorize = [
    "response_type": "code", "client_id": OAuthFixture.clientID, "redirect_uri": OAuthFixture.callback, "state": "st&te=1/2",
]

@Suite("OAuth 2.0 authorization server (PROTOCOLS.md §6)")
struct OAuthTests {
    @Test func theFullChatGPTSequenceWorks() async throws {
        try await OAuthFixture.gateway().withRouter { client in
            // authorize → consent → code
            let (redirect, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize)
            #expect(redirect.status == .seeOther)
            let location = try #require(redirect.headers[.location])
            #expect(location.hasPrefix(OAuthFixture.callback + "?code="))
            #expect(parameters["state"] == "st&te=1/2", "state comes back exactly, encoded")
            let code = try #require(parameters["code"])

            // form-encoded exchange with the secret in the body (what ChatGPT sends)
            let (tokenResponse, tokens) = try await client.codeGrant(code)
            #expect(tokenResponse.status == .ok)
            #expect(tokenResponse.headers[.cacheControl] == "no-store")
            #expect(tokens["token_type"] as? String == "bearer")
            #expect(tokens["expires_in"] as? Int == 3600)
            let access = try #require(tokens["access_token"] as? String)
            let refresh = try #require(tokens["refresh_token"] as? String)

            // bearer call
            let me = try await client.whoAmI(bearer: access)
            #expect(me.status == .ok)
            #expect(try me.json()["kind"] as? String == "oauth")

            // refresh (client_secret_basic this time): a new pair
            let (refreshed, pair) = try await client.tokenRequest(
                ["grant_type": "refresh_token", "refresh_token": refresh],
                basic: (OAuthFixture.clientID, OAuthFixture.secret)
            )
            #expect(refreshed.status == .ok)
            let newAccess = try #require(pair["access_token"] as? String)
            let newRefresh = try #require(pair["refresh_token"] as? String)
            #expect(newAccess != access && newRefresh != refresh)
            #expect(try await client.whoAmI(bearer: newAccess).status == .ok)

            // a retried old refresh token within the grace window gets the same pair
            let (retried, again) = try await client.tokenRequest(
                ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": OAuthFixture.clientID, "client_secret": OAuthFixture.secret]
            )
            #expect(retried.status == .ok)
            #expect(again["access_token"] as? String == newAccess)
            #expect(again["refresh_token"] as? String == newRefresh)

            // revoke the refresh token: the whole grant goes
            let revoke = try await client.execute(
                uri: "/oauth/revoke",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: OAuthFixture.query(["token": newRefresh, "client_id": OAuthFixture.clientID, "client_secret": OAuthFixture.secret]))
            )
            #expect(revoke.status == .ok)
            #expect(try await client.whoAmI(bearer: newAccess).status == .unauthorized)
            let (afterRevoke, error) = try await client.tokenRequest(
                ["grant_type": "refresh_token", "refresh_token": newRefresh],
                basic: (OAuthFixture.clientID, OAuthFixture.secret)
            )
            #expect(afterRevoke.status == .badRequest)
            #expect(error["error"] as? String == "invalid_grant")
        }
    }

    @Test func theSeedREADMEJSONTokenExchangeWorks() async throws {
        try await OAuthFixture.gateway().withRouter { client in
            let (_, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize)
            let (response, tokens) = try await client.tokenRequest(
                [
                    "grant_type": "authorization_code", "client_id": OAuthFixture.clientID, "client_secret": OAuthFixture.secret,
                    "code": try #require(parameters["code"]), "redirect_uri": OAuthFixture.callback,
                ],
                json: true
            )
            #expect(response.status == .ok)
            #expect(tokens["access_token"] is String)
        }
    }

    @Test func everyRFCNegativeCaseGetsItsError() async throws {
        try await OAuthFixture.gateway().withRouter { client in
            func freshCode(_ extra: [String: String] = [:]) async throws -> String {
                var parameters = chatGPTAuthorize
                parameters.merge(extra) { _, new in new }
                let (_, result) = try await client.authorizeAndApprove(parameters)
                return try #require(result["code"])
            }

            // reused code: refused, and what it issued is revoked
            let code = try await freshCode()
            let (_, first) = try await client.codeGrant(code)
            let issued = try #require(first["access_token"] as? String)
            let (reuse, reuseError) = try await client.codeGrant(code)
            #expect(reuse.status == .badRequest && reuseError["error"] as? String == "invalid_grant")
            #expect(try await client.whoAmI(bearer: issued).status == .unauthorized)

            // wrong redirect_uri
            let (wrongRedirect, wrongRedirectError) = try await client.codeGrant(try await freshCode(), redirect: "https://chatgpt.com/aip/g-other/oauth/callback")
            #expect(wrongRedirect.status == .badRequest && wrongRedirectError["error"] as? String == "invalid_grant")

            // wrong secret in the body
            let (bodySecret, bodySecretError) = try await client.codeGrant(try await freshCode(), extra: ["client_secret": "nope"])
            #expect(bodySecret.status == .unauthorized && bodySecretError["error"] as? String == "invalid_client")

            // wrong secret via Basic: 401 with a Basic challenge
            let (basic, basicError) = try await client.tokenRequest(
                ["grant_type": "authorization_code", "code": try await freshCode(), "redirect_uri": OAuthFixture.callback],
                basic: (OAuthFixture.clientID, "nope")
            )
            #expect(basic.status == .unauthorized && basicError["error"] as? String == "invalid_client")
            #expect(basic.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)

            // different values in Basic and body
            let (mixed, mixedError) = try await client.tokenRequest(
                ["grant_type": "authorization_code", "code": "x", "client_id": "someone-else"],
                basic: (OAuthFixture.clientID, OAuthFixture.secret)
            )
            #expect(mixed.status == .badRequest && mixedError["error"] as? String == "invalid_request")

            // PKCE: a wrong verifier, a verifier without a challenge, and the right one
            let verifier = String(repeating: "v", count: 50)
            // RFC 7636 Appendix B's example pins the S256 transform.
            #expect(OAuthService.s256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
            let challenge = OAuthService.s256Challenge(verifier)
            let pkceCode = try await freshCode(["code_challenge": challenge, "code_challenge_method": "S256"])
            let (badVerifier, badVerifierError) = try await client.codeGrant(pkceCode, extra: ["code_verifier": String(repeating: "w", count: 50)])
            #expect(badVerifier.status == .badRequest && badVerifierError["error"] as? String == "invalid_grant")
            let (noChallenge, noChallengeError) = try await client.codeGrant(try await freshCode(), extra: ["code_verifier": verifier])
            #expect(noChallenge.status == .badRequest && noChallengeError["error"] as? String == "invalid_grant")
            let goodPKCECode = try await freshCode(["code_challenge": challenge, "code_challenge_method": "S256"])
            let (goodPKCE, _) = try await client.codeGrant(goodPKCECode, extra: ["code_verifier": verifier])
            #expect(goodPKCE.status == .ok)

            // unsupported grant, missing grant, empty scope
            let (unsupported, unsupportedError) = try await client.tokenRequest(
                ["grant_type": "password", "client_id": OAuthFixture.clientID, "client_secret": OAuthFixture.secret]
            )
            #expect(unsupported.status == .badRequest && unsupportedError["error"] as? String == "unsupported_grant_type")
            let (missing, missingError) = try await client.tokenRequest(["client_id": OAuthFixture.clientID, "client_secret": OAuthFixture.secret])
            #expect(missing.status == .badRequest && missingError["error"] as? String == "invalid_request")
            let (emptyScope, emptyScopeTokens) = try await client.codeGrant(try await freshCode(["scope": ""]), extra: ["scope": ""])
            #expect(emptyScope.status == .ok)
            #expect(emptyScopeTokens["scope"] == nil)

            // no client authentication at all
            let (anonymous, anonymousError) = try await client.tokenRequest(["grant_type": "authorization_code", "code": "x"])
            #expect(anonymous.status == .unauthorized && anonymousError["error"] as? String == "invalid_client")
        }
    }

    @Test func expiredCodesAreRefused() async throws {
        try await OAuthFixture.gateway(["OAUTH_CODE_TTL_SECONDS": "1"]).withRouter { client in
            let (_, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize)
            try await Task.sleep(for: .milliseconds(1100))
            let (response, error) = try await client.codeGrant(try #require(parameters["code"]))
            #expect(response.status == .badRequest)
            #expect(error["error"] as? String == "invalid_grant")
            #expect((error["error_description"] as? String)?.contains("expired") == true)
        }
    }

    @Test func badClientsAndRedirectURIsGetAPageNeverARedirect() async throws {
        try await OAuthFixture.gateway(["OAUTH_REDIRECT_URIS": "https://app.example.com/callback"]).withRouter { client in
            var unknown = chatGPTAuthorize
            unknown["client_id"] = "nobody"
            let unknownPage = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(unknown), method: .get)
            #expect(unknownPage.status == .badRequest)
            #expect(unknownPage.headers[.location] == nil)
            #expect(unknownPage.headers[.contentType]?.hasPrefix("text/html") == true)

            var unregistered = chatGPTAuthorize
            unregistered["redirect_uri"] = "https://evil.example.com/callback"
            let unregisteredPage = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(unregistered), method: .get)
            #expect(unregisteredPage.status == .badRequest && unregisteredPage.headers[.location] == nil)

            // An exactly registered URI works as well as the ChatGPT shape.
            var registered = chatGPTAuthorize
            registered["redirect_uri"] = "https://app.example.com/callback"
            let (_, result) = try await client.authorizeAndApprove(registered)
            #expect(result["code"] != nil)

            // Other errors go back to the client with error and state.
            var token = chatGPTAuthorize
            token["response_type"] = "token"
            let back = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(token), method: .get)
            #expect(back.status == .found)
            let parameters = OAuthFixture.parameters(ofLocation: back.headers[.location])
            #expect(parameters["error"] == "unsupported_response_type")
            #expect(parameters["state"] == "st&te=1/2")

            var scope = chatGPTAuthorize
            scope["scope"] = "admin"
            let badScope = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(scope), method: .get)
            #expect(OAuthFixture.parameters(ofLocation: badScope.headers[.location])["error"] == "invalid_scope")
        }
    }

    @Test func chatGPTCallbacksCanBeTurnedOff() async throws {
        try await OAuthFixture.gateway(["OAUTH_ALLOW_CHATGPT_CALLBACKS": "false"]).withRouter { client in
            let page = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(chatGPTAuthorize), method: .get)
            #expect(page.status == .badRequest)
        }
    }

    @Test func theConsentPageIsProtected() async throws {
        try await OAuthFixture.gateway().withRouter { client in
            let page = try await client.execute(
                uri: "/oauth/authorize?" + OAuthFixture.query(chatGPTAuthorize),
                method: .get,
                headers: [.origin: "https://chatgpt.com"]
            )
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(page.headers[.accessControlAllowOrigin] == nil, "no CORS on the consent page")

            // A forged CSRF token is refused.
            var form = chatGPTAuthorize
            form["csrf_token"] = "9999999999.forged"
            form["api_key"] = TestGateway.apiKey
            form["decision"] = "approve"
            let forged = try await client.execute(
                uri: "/oauth/authorize",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: OAuthFixture.query(form))
            )
            #expect(forged.status == .badRequest)
            #expect(forged.headers[.location] == nil)

            // A wrong API key shows the page again, without issuing a code.
            let (wrongKey, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize, key: "not-a-key")
            #expect(wrongKey.status == .ok)
            #expect(wrongKey.text.contains("not a valid gateway API key"))
            #expect(parameters.isEmpty)
        }
    }

    @Test func autoApproveSkipsTheConsentPage() async throws {
        try await OAuthFixture.gateway(["OAUTH_AUTO_APPROVE": "true"]).withRouter { client in
            let response = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(chatGPTAuthorize), method: .get)
            #expect(response.status == .found)
            let parameters = OAuthFixture.parameters(ofLocation: response.headers[.location])
            let (exchange, _) = try await client.codeGrant(try #require(parameters["code"]))
            #expect(exchange.status == .ok)
        }
    }

    @Test func tokensSurviveARestart() async throws {
        let home = TemporaryDirectory.make()
        let captured = Captured<String>()
        try await OAuthFixture.gateway(codexHome: home).withRouter { client in
            let (_, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize)
            let (_, tokens) = try await client.codeGrant(try #require(parameters["code"]))
            captured.value = tokens["access_token"] as? String
        }
        let token = try #require(captured.value)
        try await OAuthFixture.gateway(codexHome: home).withRouter { client in
            let me = try await client.whoAmI(bearer: token)
            #expect(me.status == .ok)
        }
    }

    @Test func metadataDescribesTheServer() async throws {
        try await OAuthFixture.gateway().withRouter { client in
            let response = try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get)
            #expect(response.status == .ok)
            let metadata = try response.json()
            #expect(metadata["issuer"] as? String == "https://gateway.example.com")
            #expect(metadata["token_endpoint"] as? String == "https://gateway.example.com/oauth/token")
            #expect(metadata["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(metadata["token_endpoint_auth_methods_supported"] as? [String] == ["client_secret_post", "client_secret_basic", "none"])
        }
    }
}


@Suite("Keys and clients managed from the command line")
struct ManagedCredentialsTests {
    @Test func createdKeysAuthenticateUntilRevoked() async throws {
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        let store = SQLiteAPIKeyStore(database: database)
        let (key, info) = try await store.create(name: "ci")
        #expect(key.hasPrefix("cgk_") && key.count > 40)
        #expect(try await store.list().map(\.name) == ["ci"])
        try await TestGateway(["CODEX_HOME": home]).withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey(key))
            #expect(response.status == .ok)
            #expect(try response.json()["id"] as? String == info.id)
        }
        #expect(try await store.revoke(id: info.id))
        #expect(try await store.revoke(id: info.id) == false)
        try await TestGateway(["CODEX_HOME": home]).withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey(key))
            #expect(response.status == .unauthorized)
        }
        try await database.close()
    }

    @Test func registeredClientsCanAuthorizeAndRemovalRevokesTheirTokens() async throws {
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        let store = SQLiteOAuthStore(database: database)
        try await store.upsertClient(clientID: "cli-app", secret: "cli-secret-0123456789", name: "CLI app", redirectURIs: ["https://cli.example.com/cb"], source: "cli")
        let captured = Captured<String>()
        try await TestGateway(["CODEX_HOME": home]).withRouter { client in
            let (_, parameters) = try await client.authorizeAndApprove(["response_type": "code", "client_id": "cli-app", "state": "s"])
            let code = try #require(parameters["code"], "the single registered redirect URI is used when none is given")
            let (response, tokens) = try await client.tokenRequest(
                ["grant_type": "authorization_code", "code": code], basic: ("cli-app", "cli-secret-0123456789")
            )
            #expect(response.status == .ok)
            captured.value = tokens["access_token"] as? String
        }
        #expect(try await store.removeClient("cli-app"))
        let token = try #require(captured.value)
        try await TestGateway(["CODEX_HOME": home]).withRouter { client in
            let me = try await client.whoAmI(bearer: token)
            #expect(me.status == .unauthorized)
        }
        try await database.close()
    }
}
