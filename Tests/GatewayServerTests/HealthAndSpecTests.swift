import Foundation
import GatewayAPI
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import ModelProvider
import Testing

@Suite("Health, readiness and the served documents")
struct HealthAndSpecTests {
    @Test func healthAnswersWithoutCredentials() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/health", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let body = try response.json()
            #expect(body["status"] as? String == "healthy")
            #expect(body["version"] as? String == GatewayVersion.current)
            #expect(body["uptime_seconds"] is Double || body["uptime_seconds"] is Int)
        }
    }

    @Test func healthWorksWithNoModelKeyAndNoAPIKeys() async throws {
        try await TestGateway(["GATEWAY_API_KEY": "", "OPENAI_API_KEY": ""]).withRouter { client in
            let response = try await client.execute(uri: "/health", method: .get)
            #expect(response.status == .ok)
        }
    }

    @Test func readyReportsEveryCheck() async throws {
        try await TestGateway().withRouter { client in
            let response = try await client.execute(uri: "/ready", method: .get)
            #expect(response.status == .ok)
            let body = try response.json()
            // The default provider (api.openai.com) may be out of reach here: that is `degraded`, still 200.
            #expect(["ready", "degraded"].contains(body["status"] as? String))
            let checks = try #require(body["checks"] as? [String: String])
            #expect(checks["configuration"] == "ok" && checks["database"] == "ok" && checks["conversation_store"] == "ok")
            #expect(checks["provider"] != nil)
        }
    }

    @Test func servedDocumentsNameThePublicBaseURL() async throws {
        try await TestGateway(["PUBLIC_BASE_URL": "https://gateway.example.com/"]).withRouter { client in
            let json = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(json.status == .ok)
            let document = try json.json()
            #expect(document["openapi"] as? String == "3.1.0")
            let servers = try #require(document["servers"] as? [[String: Any]])
            #expect(servers.first?["url"] as? String == "https://gateway.example.com")
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(paths["/health"] != nil && paths["/openapi.gpt.yaml"] != nil)

            let yaml = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(yaml.status == .ok)
            #expect(yaml.headers[.contentType] == "application/yaml; charset=utf-8")
            #expect(yaml.text.contains("url: \"https://gateway.example.com\""))
            #expect(!yaml.text.contains(APIDocuments.serverURLPlaceholder))
        }
    }

    @Test func gptViewHasOneOAuthSchemeAndAbsoluteURLs() async throws {
        try await TestGateway(["PUBLIC_BASE_URL": "https://gateway.example.com"]).withRouter { client in
            let response = try await client.execute(uri: "/openapi.gpt.json", method: .get)
            #expect(response.status == .ok)
            let document = try response.json()
            #expect(document["openapi"] as? String == "3.1.0")
            let components = try #require(document["components"] as? [String: Any])
            let schemes = try #require(components["securitySchemes"] as? [String: Any])
            #expect(Array(schemes.keys) == ["OAuth2"])
            let flow = try #require(((schemes["OAuth2"] as? [String: Any])?["flows"] as? [String: Any])?["authorizationCode"] as? [String: Any])
            #expect(flow["authorizationUrl"] as? String == "https://gateway.example.com/oauth/authorize")
            #expect(flow["tokenUrl"] as? String == "https://gateway.example.com/oauth/token")
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(paths["/openapi.yaml"] == nil, "operations marked x-gpt-action: false are left out")
            #expect(paths["/whoami"] != nil)
            #expect(!response.text.contains("x-gpt-action"))

            let yaml = try await client.execute(uri: "/openapi.gpt.yaml", method: .get)
            #expect(yaml.status == .ok)
            #expect(yaml.text.hasPrefix("openapi: \"3.1.0\""))
        }
    }

    @Test func everyOperationInTheDocumentIsServed() async throws {
        // The generated route table is the list of operations in openapi.yaml.
        #expect(OperationTable.all.count == APIDocuments.operationCount)
        try await TestGateway().withRouter { client in
            for operation in OperationTable.all {
                let path = operation.path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x", options: .regularExpression)
                let response = try await client.execute(uri: path, method: operation.method, headers: .apiKey())
                // A handler may answer a documented 404 (no such delivery); the router's own 404 says "No route".
                // A documented 405 (GET /mcp: no standalone stream) names the methods it takes in Allow.
                let unrouted = (response.status == .methodNotAllowed && response.headers[.allow] == nil)
                    || (response.status == .notFound && (try? response.json()["error"] as? String)?.hasPrefix("No route") == true)
                #expect(!unrouted, "\(operation.method) \(operation.path) (\(operation.id)) is not routed")
                if !operation.isPublic {
                    let anonymous = try await client.execute(uri: path, method: operation.method)
                    #expect(anonymous.status == .unauthorized, "\(operation.id) must require credentials")
                }
            }
        }
    }
}

@Suite("Closing the database")
struct DatabaseServiceTests {
    @Test func theDatabaseIsClosedEvenWhenItsServiceIsCancelled() async throws {
        // A service group that is cancelled (a test that throws, a service that fails) cancels its
        // services instead of shutting them down gracefully; the database must still be closed.
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        #expect(await database.ping())
        let service = Task { try await DatabaseService(database: database).run() }
        try await Task.sleep(for: .milliseconds(20))
        service.cancel()
        try await service.value
        #expect(await database.ping() == false, "the connection is closed")
    }
}
