@testable import GatewayServer
import NIOCore
import NIOHTTP1
import Testing

/// The requests that spliced streams send on the gateway's own provider connections
/// (``SpliceConnections/request(method:path:query:headers:body:)``), byte for byte.
@Suite("The spliced relay's provider requests")
struct SpliceRequestTests {
    static func connections(_ baseURL: String) throws -> SpliceConnections {
        try #require(SpliceConnections(baseURL: baseURL, perLoopLimit: 1, connectTimeout: .seconds(1), idleTimeout: .seconds(1)))
    }

    static func request(_ baseURL: String, query: String = "", headers: HTTPHeaders = ["Authorization": "Bearer k"], body: String? = "{}") throws -> String? {
        try connections(baseURL).request(method: .POST, path: "/chat/completions", query: query, headers: headers, body: body.map { ByteBuffer(string: $0) })
            .map { String(buffer: $0) }
    }

    @Test func theRequestLineKeepsTheBasePathAsWrittenThenThePathAndQuery() throws {
        let text = try #require(try Self.request("http://models.internal:8000/openai%2Fdeployments/a%20b", query: "?api-version=2024-10-21"))
        #expect(
            text == "POST /openai%2Fdeployments/a%20b/chat/completions?api-version=2024-10-21 HTTP/1.1\r\n"
                + "Host: models.internal:8000\r\nAuthorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test(arguments: [
        ("http://127.0.0.1/v1", "127.0.0.1", 80, "127.0.0.1"),
        ("http://127.0.0.1:8080/v1", "127.0.0.1", 8080, "127.0.0.1:8080"),
        ("http://[::1]:8080/v1", "::1", 8080, "[::1]:8080"),
        ("HTTP://Models.Internal/v1", "Models.Internal", 80, "Models.Internal"),
    ])
    func theHostIsConnectedToAndNamedAsHTTPWants(baseURL: String, host: String, port: Int, header: String) throws {
        let connections = try Self.connections(baseURL)
        #expect(connections.host == host)
        #expect(connections.port == port)
        #expect(connections.hostHeader == header)
    }

    @Test(arguments: ["https://api.openai.com/v1", "http:///v1", "unix:///tmp/socket", "not a url"])
    func onlyAPlainHTTPProviderWithAHostIsSpliced(baseURL: String) {
        #expect(SpliceConnections(baseURL: baseURL, perLoopLimit: 1, connectTimeout: .seconds(1), idleTimeout: .seconds(1)) == nil)
    }

    @Test func aConfiguredHostIsSentInsteadAndTheBodyIsFramedByTheRelayAlone() throws {
        let headers: HTTPHeaders = ["Host": "proxy.internal", "Content-Length": "99", "Transfer-Encoding": "chunked", "Authorization": "Bearer k"]
        let text = try #require(try Self.request("http://10.0.0.1:4000/v1", headers: headers, body: nil))
        #expect(text == "POST /v1/chat/completions HTTP/1.1\r\nHost: proxy.internal\r\nAuthorization: Bearer k\r\nContent-Length: 0\r\n\r\n")
    }

    @Test(arguments: [
        ("X-Tenant", "a\r\nX-Injected: 1"), ("X-Tenant", "a\nb"), ("X-Tenant", "a\u{0}b"),
        ("X Tenant", "a"), ("X-Tenant:", "a"), ("", "a"),
    ])
    func aHeaderNoHTTP1FieldMayHoldIsNotWrittenHere(name: String, value: String) throws {
        // nil: AsyncHTTPClient sends it instead, and refuses it with its own error.
        #expect(try Self.request("http://127.0.0.1:4000/v1", headers: [name: value]) == nil)
    }

    @Test func theProvidersClientsSpliceOnlyPlainHTTPAndOnlyWhenAsked() async throws {
        let off = UpstreamHTTPClients(configuration: .init(), maximumConnections: 2, splice: false)
        let on = UpstreamHTTPClients(configuration: .init(), maximumConnections: 2)
        #expect(off.splice(for: "http://127.0.0.1:9/v1") == nil, "UPSTREAM_SPLICE=false")
        #expect(on.splice(for: "http://127.0.0.1:9/v1") != nil)
        #expect(on.splice(for: "http://127.0.0.1:9/v1") === on.splice(for: "http://127.0.0.1:9/v1"), "one set of connections per provider")
        #expect(on.splice(for: "https://api.openai.com/v1") == nil, "https goes through AsyncHTTPClient")
        try await off.shutdown()
        try await on.shutdown()
    }

    @Test func aTabInAValueIsAllowed() throws {
        let text = try #require(try Self.request("http://127.0.0.1:4000/v1", headers: ["X-Note": "a\tb"], body: nil))
        #expect(text.contains("X-Note: a\tb\r\n"))
    }
}
