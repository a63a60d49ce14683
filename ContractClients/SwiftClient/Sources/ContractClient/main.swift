// Uses the client that apple/swift-openapi-generator generated from the served document against
// the running gateway, and checks the typed results. Run by scripts/contract-test:
//   GATEWAY_URL=http://127.0.0.1:PORT GATEWAY_API_KEY=KEY .build/debug/ContractClient
// Exits 1 on the first unexpected result, printing what came back.
import AsyncHTTPClient
import Foundation
import HTTPTypes
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// Adds a credential header to every request, as a third party would (the generator leaves
/// security to middleware).
struct CredentialMiddleware: ClientMiddleware {
    let field: HTTPField.Name
    let value: String

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[field] = value
        return try await next(request, body, baseURL)
    }
}

struct CheckFailure: Error, CustomStringConvertible {
    let description: String
}

func unwrap<T>(_ value: T?, _ message: @autoclosure () -> String) throws -> T {
    guard let value else { throw CheckFailure(description: message()) }
    return value
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure(description: message()) }
}

func makeClient(_ serverURL: URL, _ transport: AsyncHTTPClientTransport, _ middlewares: [any ClientMiddleware]) -> Client {
    Client(serverURL: serverURL, transport: transport, middlewares: middlewares)
}

func run(serverURL: URL, key: String, transport: AsyncHTTPClientTransport) async throws {
    let anonymous = makeClient(serverURL, transport, [])

    // GET /health: typed HealthStatus.
    switch try await anonymous.getHealth() {
    case .ok(let ok):
        let health = try ok.body.json
        try expect(health.status == .healthy, "health.status: \(health.status)")
        try expect(!health.version.isEmpty, "health.version is empty")
        try expect(health.uptimeSeconds >= 0, "health.uptime_seconds: \(health.uptimeSeconds)")
        print("ok   GET /health -> 200 HealthStatus(status: \(health.status), version: \(health.version))")
    case .undocumented(let status, _):
        throw CheckFailure(description: "GET /health: undocumented status \(status)")
    }

    // GET /whoami with X-API-Key: typed Principal of kind api_key.
    for (label, middleware) in [
        ("X-API-Key", CredentialMiddleware(field: HTTPField.Name("X-API-Key")!, value: key)),
        ("Authorization: Bearer", CredentialMiddleware(field: .authorization, value: "Bearer \(key)")),
    ] {
        let client = makeClient(serverURL, transport, [middleware])
        switch try await client.whoAmI() {
        case .ok(let ok):
            let principal = try ok.body.json
            try expect(principal.kind == .apiKey, "whoami (\(label)).kind: \(principal.kind)")
            try expect(principal.id.hasPrefix("key_"), "whoami (\(label)).id: \(principal.id)")
            try expect(!principal.id.contains(key), "whoami (\(label)).id contains the key itself")
            let limits = try unwrap(principal.rateLimits, "whoami (\(label)).rate_limits is missing")
            try expect(limits.perMinute > 0, "whoami (\(label)).rate_limits.per_minute: \(limits.perMinute)")
            print("ok   GET /whoami (\(label)) -> 200 Principal(kind: \(principal.kind), id: \(principal.id), per_minute: \(limits.perMinute))")
        case .unauthorized(let response):
            throw CheckFailure(description: "GET /whoami (\(label)): 401 \(try response.body.json)")
        case .tooManyRequests(let response):
            throw CheckFailure(description: "GET /whoami (\(label)): 429 \(try response.body.json), Retry-After \(response.headers.retryAfter)")
        case .undocumented(let status, _):
            throw CheckFailure(description: "GET /whoami (\(label)): undocumented status \(status)")
        }
    }

    // GET /whoami without credentials: the documented 401, typed ErrorEnvelope and challenge.
    switch try await anonymous.whoAmI() {
    case .unauthorized(let response):
        let envelope = try response.body.json
        try expect(envelope.status == 401, "401 envelope.status: \(envelope.status)")
        try expect(envelope.code == "unauthorized", "401 envelope.code: \(envelope.code)")
        try expect(!envelope.requestId.isEmpty, "401 envelope.request_id is empty")
        try expect(
            response.headers.wwwAuthenticate.hasPrefix("Bearer"),
            "401 WWW-Authenticate: \(response.headers.wwwAuthenticate)")
        print("ok   GET /whoami (no credentials) -> 401 ErrorEnvelope(code: \(envelope.code))")
    case .ok:
        throw CheckFailure(description: "GET /whoami without credentials answered 200")
    case .tooManyRequests:
        throw CheckFailure(description: "GET /whoami without credentials answered 429: anonymous requests are not rate limited by principal")
    case .undocumented(let status, _):
        throw CheckFailure(description: "GET /whoami (no credentials): undocumented status \(status)")
    }
}

let environment = ProcessInfo.processInfo.environment
guard let base = environment["GATEWAY_URL"], let serverURL = URL(string: base),
    let key = environment["GATEWAY_API_KEY"], !key.isEmpty
else {
    FileHandle.standardError.write(Data("usage: GATEWAY_URL=http://HOST:PORT GATEWAY_API_KEY=KEY ContractClient\n".utf8))
    exit(2)
}

// HTTPClient.shared: the process-wide client, which needs no shutdown.
let transport = AsyncHTTPClientTransport(configuration: .init(client: .shared, timeout: .seconds(10)))
var failed = false
do {
    try await run(serverURL: serverURL, key: key, transport: transport)
} catch {
    print("FAIL swift client: \(error)")
    failed = true
}
print(failed ? "swift client: FAILED" : "swift client: all checks passed")
exit(failed ? 1 : 0)
