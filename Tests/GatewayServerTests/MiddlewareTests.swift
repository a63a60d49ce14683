import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelProvider
import Testing

let requestIDHeader = HTTPField.Name("X-Request-Id")!

@Suite("Request IDs, errors and CORS")
struct MiddlewareTests {
    @Test func everyResponseCarriesAGeneratedRequestID() async throws {
        try await TestGateway().withRouter { client in
            let ok = try await client.execute(uri: "/health", method: .get)
            let missing = try await client.execute(uri: "/nope", method: .get)
            let first = try #require(ok.headers[requestIDHeader])
            let second = try #require(missing.headers[requestIDHeader])
            #expect(first.count == 32 && second.count == 32)
            #expect(first != second)
        }
    }

    @Test func aValidIncomingRequestIDIsEchoed() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/health", method: .get, headers: [requestIDHeader: "trace-abc.123:x_y"])
            #expect(response.headers[requestIDHeader] == "trace-abc.123:x_y")
        }
    }

    @Test func anUnsafeIncomingRequestIDIsReplaced() async throws {
        try await TestGateway().withRouter { client in
            for bad in ["has space", String(repeating: "a", count: 129), "quote\"d", "new\u{7F}line"] {
                let response = try await client.execute(uri: "/health", method: .get, headers: [requestIDHeader: bad])
                #expect(response.headers[requestIDHeader] != bad)
                #expect(response.headers[requestIDHeader]?.count == 32)
            }
        }
    }

    @Test func generatedRequestIDsAre32LowercaseHexDigitsAndNeverRepeat() async throws {
        try await TestGateway().withRouter { client in
            var seen = Set<String>()
            for _ in 0..<200 {
                let id = try #require(try await client.execute(uri: "/health", method: .get).headers[requestIDHeader])
                #expect(id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "\(id)")
                seen.insert(id)
            }
            #expect(seen.count == 200)
            // Every digit position takes more than one value: no nibble is stuck.
            let columns = (0..<32).map { column in Set(seen.map { Array($0.utf8)[column] }) }
            #expect(columns.allSatisfy { $0.count > 1 })
        }
    }

    @Test func unknownRoutesGetTheEnvelope() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/does-not-exist", method: .get)
            #expect(response.status == .notFound)
            let body = try response.json()
            #expect(body["code"] as? String == "not_found")
            #expect(body["status"] as? Int == 404)
            #expect(body["request_id"] as? String == response.headers[requestIDHeader])
        }
    }

    @Test func aWrongMethodGets405WithAllow() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/health", method: .delete)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "GET")
            #expect(try response.json()["code"] as? String == "method_not_allowed")
        }
    }

    @Test func preflightFromAnAllowedOriginIsAnswered() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(
                uri: "/whoami",
                method: .options,
                headers: [.origin: "https://chatgpt.com", .accessControlRequestMethod: "GET", .accessControlRequestHeaders: "x-api-key"]
            )
            #expect(response.status == .noContent)
            #expect(response.headers[.accessControlAllowOrigin] == "https://chatgpt.com")
            #expect(response.headers[.accessControlAllowHeaders]?.contains("X-API-Key") == true)
            #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
            #expect(response.headers[.accessControlAllowCredentials] == nil)
        }
    }

    @Test func preflightFromAnotherOriginIsRefused() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(
                uri: "/whoami",
                method: .options,
                headers: [.origin: "https://evil.example", .accessControlRequestMethod: "GET"]
            )
            #expect(response.status == .forbidden)
            #expect(response.headers[.accessControlAllowOrigin] == nil)
            #expect(try response.json()["code"] as? String == "cors_origin_denied")
        }
    }

    @Test func simpleRequestsGetCORSHeadersIncludingOnErrors() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: [.origin: "https://chat.openai.com"])
            #expect(response.status == .unauthorized)
            #expect(response.headers[.accessControlAllowOrigin] == "https://chat.openai.com")
            #expect(response.headers[.accessControlExposeHeaders]?.contains("X-Request-Id") == true)
            #expect(response.headers[.vary] == "Origin")
        }
    }

    @Test func configuredOriginsReplaceTheDefaults() async throws {
        try await TestGateway(["CORS_ALLOWED_ORIGINS": "https://app.example.com, http://localhost:3000"]).withRouter { client in
            let allowed = try await client.execute(uri: "/health", method: .get, headers: [.origin: "http://localhost:3000"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "http://localhost:3000")
            let dropped = try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://chatgpt.com"])
            #expect(dropped.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func wildcardOriginAllowsAnyOriginWithoutCredentials() async throws {
        try await TestGateway(["CORS_ALLOWED_ORIGINS": "*"]).withRouter { client in
            let response = try await client.execute(
                uri: "/whoami",
                method: .options,
                headers: [.origin: "https://anything.example", .accessControlRequestMethod: "POST"]
            )
            #expect(response.status == .noContent)
            #expect(response.headers[.accessControlAllowOrigin] == "*")
            #expect(response.headers[.accessControlAllowCredentials] == nil)
        }
    }

    @Test func theOAuthConsentPathHasNoCORS() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/oauth/authorize", method: .get, headers: [.origin: "https://chatgpt.com"])
            #expect(response.headers[.accessControlAllowOrigin] == nil)
        }
    }
}

@Suite("Request metrics")
struct RequestMetricsTests {
    /// A stream is timed to its last byte. A body of known length is timed when the handler hands
    /// it over, unwrapped, so that Hummingbird can write head, body and end in one go.
    @Test func streamsAreTimedToTheirLastByteAndSizedBodiesWhenHandedOver() async throws {
        GatewayMetrics.bootstrap()
        let router = Router()
        router.add(middleware: RequestMetricsMiddleware())
        router.get("/metrics-probe/stream") { _, _ in
            Response(
                status: .ok,
                body: ResponseBody { writer in
                    try await Task.sleep(for: .milliseconds(300))
                    try await writer.write(ByteBuffer(string: "late"))
                    try await writer.finish(nil)
                })
        }
        router.get("/metrics-probe/sized") { _, _ in
            // Known length, written late: recorded when handed over, so well under the 300 ms.
            Response(
                status: .ok,
                body: ResponseBody(contentLength: 4) { writer in
                    try await Task.sleep(for: .milliseconds(300))
                    try await writer.write(ByteBuffer(string: "late"))
                    try await writer.finish(nil)
                })
        }
        router.get("/metrics-probe/fails") { _, _ -> Response in throw HTTPError(.conflict) }
        try await Application(router: router).test(.router) { client in
            let stream = try await client.execute(uri: "/metrics-probe/stream", method: .get)
            let sized = try await client.execute(uri: "/metrics-probe/sized", method: .get)
            let fails = try await client.execute(uri: "/metrics-probe/fails", method: .get)
            #expect(String(buffer: stream.body) == "late" && String(buffer: sized.body) == "late")
            #expect(fails.status == .conflict)
        }
        let text = String(decoding: GatewayMetrics.exposition(), as: UTF8.self)
        func value(_ prefix: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        let labels = #"http_request_method="GET",http_response_status_code="200"}"#
        let stream = #"{http_route="/metrics-probe/stream","# + labels
        let sized = #"{http_route="/metrics-probe/sized","# + labels
        #expect(value("hb_requests" + stream) == 1)
        #expect(value("hb_requests" + sized) == 1)
        #expect(try #require(value("http_server_request_duration_sum" + stream)) >= 0.3)
        #expect(try #require(value("http_server_request_duration_sum" + sized)) < 0.25)
        #expect(value(#"hb_request_errors{http_route="/metrics-probe/fails",http_request_method="GET",error_type="409"}"#) == 1)
    }
}
