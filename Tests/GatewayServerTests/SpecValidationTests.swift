import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// What `openapi.yaml` says about input holds on every operation: raw-body operations still check
/// their body against its schema, and query strings are form-decoded.
@Suite("Spec validation")
struct SpecValidationTests {
    static let autoApprove = ["OAUTH_AUTO_APPROVE": "true"]

    func authorize(state: String, on client: some TestClientProtocol) async throws -> TestResponse {
        let query = OAuthFixture.query(["response_type": "code", "client_id": OAuthFixture.clientID, "redirect_uri": OAuthFixture.callback])
        return try await client.execute(uri: "/oauth/authorize?" + query + "&state=" + state, method: .get)
    }

    @Test func aPlusInTheQueryStringIsASpace() async throws {
        try await OAuthFixture.gateway(Self.autoApprove).withLiveServer { client in
            let redirect = try await authorize(state: "a+b", on: client)
            #expect(redirect.status == .found)
            let location = try #require(redirect.headers[.location])
            #expect(location.contains("state=a%20b"), "\(location)")
        }
    }

    @Test func anEncodedPlusInTheQueryStringStaysAPlus() async throws {
        try await OAuthFixture.gateway(Self.autoApprove).withLiveServer { client in
            let redirect = try await authorize(state: "a%2Bb+c", on: client)
            #expect(redirect.status == .found)
            let location = try #require(redirect.headers[.location])
            #expect(location.contains("state=a%2Bb%20c"), "\(location)")
        }
    }

    @Test func aMalformedQueryStringIsABadRequestNamingIt() async throws {
        try await TestGateway().withLiveServer { client in
            let response = try await client.execute(uri: "/conversations?limit=%E0%A4%A", method: .get, headers: .apiKey())
            #expect(response.status == .badRequest)
            let body = try response.json()
            #expect(body["code"] as? String == "invalid_request")
            #expect((body["error"] as? String)?.contains("query string") == true, "\(body)")
        }
    }
}
