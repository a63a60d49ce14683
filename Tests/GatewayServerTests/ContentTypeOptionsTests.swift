import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("X-Content-Type-Options")
struct ContentTypeOptionsTests {
    @Test func everyKindOfResponseCarriesNosniff() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let json: HTTPFields = [.contentType: "application/json"]
                let requests: [(String, HTTPRequest.Method, HTTPFields, String?)] = [
                    ("/health", .get, [:], nil),
                    ("/ready", .get, [:], nil),
                    ("/openapi.yaml", .get, [:], nil),
                    ("/no/such/route", .get, [:], nil),
                    ("/health", .post, [:], nil),
                    ("/whoami", .get, [:], nil),
                    ("/whoami", .get, .apiKey(), nil),
                    ("/oauth/authorize?response_type=code&client_id=unknown", .get, [:], nil),
                    ("/jsonrpc", .post, .apiKey() + json, "not json"),
                    ("/exec", .post, .apiKey() + json, #"{"prompt":"stream me"}"#),
                ]
                for (uri, method, headers, body) in requests {
                    let response = try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                    #expect(response.headers[ContentTypeOptionsMiddleware.header] == "nosniff", "\(method) \(uri): \(response.status)")
                }
            }
        }
    }
}

private func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var fields = lhs
    fields.append(contentsOf: rhs)
    return fields
}
