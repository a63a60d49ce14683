import Crypto
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Authentication (PROTOCOLS.md §0)")
struct AuthenticationTests {
    @Test func missingCredentialsGet401WithBearerChallenge() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get)
            #expect(response.status == .unauthorized)
            #expect(
                response.headers[.wwwAuthenticate]
                    == "Bearer realm=\"codex-gateway\", resource_metadata=\"http://localhost:0/.well-known/oauth-protected-resource\"",
                "the challenge names the RFC 9728 metadata (PUBLIC_BASE_URL defaults to http://localhost:$PORT)"
            )
            let body = try response.json()
            #expect(body["code"] as? String == "unauthorized")
            #expect(body["status"] as? Int == 401)
            #expect(body["error"] as? String != nil)
            #expect(body["request_id"] as? String == response.headers[HTTPField.Name("X-Request-Id")!])
        }
    }

    @Test func apiKeyHeaderIsAccepted() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(response.status == .ok)
            let body = try response.json()
            #expect(body["kind"] as? String == "api_key")
            let id = try #require(body["id"] as? String)
            #expect(id.hasPrefix("key_"))
            #expect(!id.contains(TestGateway.apiKey), "the identifier never reveals the key")
        }
    }

    @Test func apiKeyAsBearerTokenIsAccepted() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .bearer(TestGateway.apiKey))
            #expect(response.status == .ok)
        }
    }

    @Test func anyKeyOfACommaSeparatedListWorks() async throws {
        let gateway = TestGateway(["GATEWAY_API_KEY": "first-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa, second-key-bbbbbbbbbbbbbbbbbbbbbbbbbbb"])
        try await gateway.withRouter { client in
            let first = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey("first-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
            let second = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey("second-key-bbbbbbbbbbbbbbbbbbbbbbbbbbb"))
            #expect(first.status == .ok)
            #expect(second.status == .ok)
            #expect(try first.json()["id"] as? String != second.json()["id"] as? String)
        }
    }

    @Test func wrongAPIKeyIsRefused() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey("not-the-key"))
            #expect(response.status == .unauthorized)
            #expect(try response.json()["code"] as? String == "invalid_api_key")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer realm=\"codex-gateway\"") == true)
        }
    }

    @Test func invalidBearerTokenGetsInvalidTokenChallenge() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .bearer("forged"))
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate]?.contains("error=\"invalid_token\"") == true)
            #expect(try response.json()["code"] as? String == "invalid_token")
        }
    }

    @Test func authorizationHeaderIsCheckedWhenPresentEvenWithAValidAPIKey() async throws {
        try await TestGateway().withRouter { client in
            var headers = HTTPFields.apiKey()
            headers[.authorization] = "Bearer forged"
            let response = try await client.execute(uri: "/whoami", method: .get, headers: headers)
            #expect(response.status == .unauthorized)
        }
    }

    @Test func nonBearerAuthorizationSchemeIsRefused() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Basic dXNlcjpwYXNz"])
            #expect(response.status == .unauthorized)
            #expect(try response.json()["code"] as? String == "invalid_authorization")
        }
    }

    @Test func thereIsNoDefaultKey() async throws {
        try await TestGateway(["GATEWAY_API_KEY": ""]).withRouter { client in
            for key in ["", "test", "test-api-key", "your-api-key", "changeme"] {
                let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey(key))
                #expect(response.status == .unauthorized, "'\(key)' must not be accepted")
            }
        }
    }

    @Test func theSeedREADMEExampleKeysAreRefusedAtStartupNamingTheVariable() throws {
        // The seed's curl -H "X-API-Key: your-api-key" and its .env's your-secure-api-key-here are too short to configure.
        for key in ["your-api-key", "your-secure-api-key-here"] {
            #expect {
                _ = try TestGateway(["GATEWAY_API_KEY": key]).configuration()
            } throws: { error in
                (error as? ConfigurationError)?.key == "GATEWAY_API_KEY"
            }
        }
    }

    @Test func keysAreComparedByDigest() async throws {
        let store = MemoryAPIKeyStore(keys: ["alpha-key-0000000000"], fingerprinter: KeyFingerprinter(salt: Array(repeating: 7, count: 32)))
        #expect(try await store.principal(forKey: "alpha-key-0000000000") != nil)
        #expect(try await store.principal(forKey: "alpha-key-000000000") == nil)
        #expect(try await store.principal(forKey: "alpha-key-00000000000") == nil)
        #expect(CredentialHash.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!CredentialHash.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!CredentialHash.constantTimeEquals([1, 2], [1, 2, 3]))
        // SHA-256 itself (FIPS 180-2 test vectors), so digests stored by another version still match.
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(CredentialHash.digest("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(CredentialHash.digest("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(CredentialHash.digest("clé")) == hex(Array(SHA256.hash(data: Data("clé".utf8)))), "UTF-8 bytes are hashed")
        // Stored hashes are lowercase hex of the digest, as String(format: "%02x") wrote them before.
        #expect(SecretToken.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(CredentialHash.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(CredentialHash.hex([UInt8]()) == "")
    }
}
