import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import NIOCore
import NIOWebSocket
import Testing

@Suite("Revocation reaches open WebSockets: 1008 and the running turn cancelled")
struct WebSocketRevocationTests {
    /// A slow model (20 s of ticks) and a fast credential check.
    static func setup(_ fake: FakeOpenAIServer, _ extra: [String: String] = [:]) throws -> CodexTestSetup {
        var environment = [
            "OAUTH_CLIENT_ID": OAuthFixture.clientID, "OAUTH_CLIENT_SECRET": OAuthFixture.secret, "WS_CREDENTIAL_CHECK_SECONDS": "0.1",
        ]
        environment.merge(extra) { _, new in new }
        return try CodexTestSetup.make(fake: fake, model: "fake-slow-200-100", environment: environment)
    }

    /// Opens `/ws` with `headers`, starts a turn, runs `revoke` once the turn streams, and returns
    /// the close frame the server sent and whether the messages ended before the turn did.
    func runTurnThenRevoke(port: Int, headers: HTTPFields, revoke: @escaping @Sendable () async throws -> Void) async throws -> WebSocketCloseFrame? {
        try await WebSocketTests().connect(port: port, headers: headers) { inbound, outbound, _ in
            var messages = ServerMessages(inbound)
            try await outbound.send(#"{"type":"exec","prompt":"long","id":"t"}"#)
            _ = try await messages.events(until: "item.updated")
            try await revoke()
            var rest: [[String: Any]] = []
            while let message = try? await messages.next() { rest.append(message) }
            #expect(first(rest, "turn.completed") == nil, "the turn did not run to its end")
        }
    }

    @Test func revokingAnOAuthTokenClosesItsSocketsWithPolicyViolationAndCancelsTheTurn() async throws {
        try await withFakeUpstream { fake in
            try await Self.setup(fake).gateway.withLiveServer { client in
                let port = try #require(client.port)
                let (_, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize)
                let code = try #require(parameters["code"])
                let token = try #require(try await client.codeGrant(code).1["access_token"] as? String)
                let close = try await runTurnThenRevoke(port: port, headers: .bearer(token)) {
                    let form = ["token": token, "client_id": OAuthFixture.clientID, "client_secret": OAuthFixture.secret]
                    let response = try await client.execute(
                        uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                        body: ByteBuffer(string: OAuthFixture.query(form))
                    )
                    #expect(response.status == .ok)
                }
                #expect(close?.closeCode == .policyViolation)
                let cancelled = await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.last?.clientDisconnected == true }
                #expect(cancelled, "the turn's upstream request was stopped")
            }
        }
    }

    @Test func aKeyRevokedByAnotherProcessClosesItsSocketsWithPolicyViolation() async throws {
        try await withFakeUpstream { fake in
            let setup = try Self.setup(fake)
            // The command line's own connection to the same database file.
            let database = try GatewayDatabase(path: setup.codexHome + "/gateway.sqlite3", logger: TestGateway.quietLogger)
            let keys = SQLiteAPIKeyStore(database: database)
            do {
                let (key, info) = try await keys.create(name: "revoked-soon")
                try await withLiveGateway(setup.gateway) { port in
                    let close = try await runTurnThenRevoke(port: port, headers: .apiKey(key)) {
                        let revoked = try await keys.revoke(id: info.id)
                        #expect(revoked)
                    }
                    #expect(close?.closeCode == .policyViolation)
                    let cancelled = await fake.recorder.waitUntil(timeout: .seconds(5)) { $0.last?.clientDisconnected == true }
                    #expect(cancelled, "the turn's upstream request was stopped")
                }
            } catch {
                try? await database.close()  // an open connection must not outlive the test
                throw error
            }
            try await database.close()
        }
    }

    @Test func anExpiredAccessTokenClosesItsSocketWithPolicyViolation() async throws {
        try await withFakeUpstream { fake in
            try await Self.setup(fake, ["OAUTH_ACCESS_TOKEN_TTL_SECONDS": "5"]).gateway.withLiveServer { client in
                let port = try #require(client.port)
                let (_, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize)
                let code = try #require(parameters["code"])
                let token = try #require(try await client.codeGrant(code).1["access_token"] as? String)
                let close = try await WebSocketTests().connect(port: port, headers: .bearer(token)) { inbound, _, _ in
                    var messages = ServerMessages(inbound)
                    try? await messages.drain()
                }
                #expect(close?.closeCode == .policyViolation)
            }
        }
    }

    @Test func aValidCredentialKeepsItsSocketOpen() async throws {
        try await withFakeUpstream { fake in
            try await withLiveGateway(try Self.setup(fake).gateway) { port in
                try await WebSocketTests().connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    // Many checks pass while the turn runs.
                    try await outbound.send(#"{"type":"exec","prompt":"short","model":"fake-slow-100","id":"ok"}"#)
                    let events = try await messages.events(until: "turn.completed")
                    #expect(events.last?[path: "event.type"] as? String == "turn.completed")
                }
            }
        }
    }
}
