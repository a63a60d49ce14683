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

    @Test func aWebhookWhoseDataIsNotAnObjectIsABadRequestNamingData() async throws {
        try await TestGateway().withLiveServer { client in
            for body in [#"{"event":"push","data":true}"#, #"{"prompt":"hi","event":"push","data":[1]}"#] {
                let response = try await client.webhook(body)
                #expect(response.status == .badRequest, "\(body): \(response.text)")
                let envelope = try response.json()
                #expect(envelope["code"] as? String == "invalid_request")
                #expect(envelope["status"] as? Int == 400)
                #expect(envelope["request_id"] is String)
                #expect((envelope["error"] as? String)?.contains("body.data") == true, "\(envelope)")
            }
            let accepted = try await client.webhook(#"{"event":"push","data":{"ref":"main"}}"#)
            #expect(accepted.status == .accepted, "\(accepted.text)")
        }
    }

    @Test func aWebhooksSignatureIsCheckedBeforeItsBody() async throws {
        try await TestGateway(["WEBHOOK_SECRET": "webhook-secret-0123456789"]).withLiveServer { client in
            let response = try await client.webhook(#"{"event":"push","data":true}"#)
            #expect(response.status == .unauthorized, "\(response.text)")
            #expect(try response.json()["code"] as? String == "invalid_signature")
        }
    }

    @Test func aJSONRPCRequestBreakingItsSchemaIsAnInvalidRequestErrorAndTheRestOfItsBatchStillRuns() async throws {
        try await TestGateway().withLiveServer { client in
            let (single, singleJSON) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.list","params":"x","id":7}"#)
            #expect(single.status == .ok)
            let error = try #require(singleJSON as? [String: Any])
            #expect(error["id"] as? Int == 7)
            #expect(error[path: "error.code"] as? Int == -32600)
            #expect((error[path: "error.message"] as? String)?.contains("request.params") == true, "\(error)")

            let (batch, batchJSON) = try await client.jsonRPC(
                #"[{"jsonrpc":"2.0","method":"conversation.list","params":{"limit":1},"id":1},{"jsonrpc":"2.0","method":"conversation.list","params":true,"id":2}]"#
            )
            #expect(batch.status == .ok)
            let responses = try #require(batchJSON as? [[String: Any]])
            #expect(responses.count == 2)
            #expect(responses.first { $0["id"] as? Int == 1 }?["result"] != nil, "\(responses)")
            #expect(responses.first { $0["id"] as? Int == 2 }?[path: "error.code"] as? Int == -32600, "\(responses)")
        }
    }

    @Test func aJSONRPCRequestWithANullIDIsAnsweredButOneWithoutAnIDIsANotification() async throws {
        try await TestGateway().withLiveServer { client in
            let (answered, json) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.list","id":null}"#)
            #expect(answered.status == .ok)
            let response = try #require(json as? [String: Any])
            #expect(response["id"] is NSNull)
            #expect(response["result"] != nil, "\(response)")
            let (notification, _) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.list"}"#)
            #expect(notification.status == .noContent)
        }
    }

    @Test func anOAuthTokenRequestBreakingItsSchemaGetsAnRFC6749Error() async throws {
        try await OAuthFixture.gateway().withLiveServer { client in
            let response = try await client.execute(
                uri: "/oauth/token",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"grant_type":5,"code":"x"}"#)
            )
            #expect(response.status == .badRequest)
            #expect(response.headers[.cacheControl] == "no-store")
            let body = try response.json()
            #expect(body["error"] as? String == "invalid_request")
            #expect((body["error_description"] as? String)?.contains("grant_type") == true, "\(body)")
            #expect(body["code"] == nil && body["request_id"] == nil, "not the gateway's envelope: \(body)")
        }
    }

    @Test func aConsentFormBreakingItsSchemaGetsTheErrorPage() async throws {
        try await OAuthFixture.gateway().withLiveServer { client in
            let response = try await client.execute(
                uri: "/oauth/authorize",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "decision=maybe&client_id=" + OAuthFixture.clientID)
            )
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(response.text.contains("decision"), "\(response.text)")
        }
    }
}
