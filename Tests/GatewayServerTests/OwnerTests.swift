import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Two keys of one gateway, as `GATEWAY_API_KEY=a,b` configures them.
enum Owners {
    static let alice = TestGateway.apiKey
    static let bob = "bob-key-0123456789abcdef0123456789abcdef"

    static func setup(_ fake: FakeOpenAIServer, model: String = "fake-echo", environment: [String: String] = [:], codexHome: String? = nil) throws
        -> CodexTestSetup
    {
        var variables = ["GATEWAY_API_KEY": "\(alice),\(bob)"]
        variables.merge(environment) { _, new in new }
        return try CodexTestSetup.make(fake: fake, model: model, environment: variables, codexHome: codexHome)
    }
}

extension TestClientProtocol {
    /// Runs one JSON-RPC request as `key` and returns its response object.
    func rpc(_ method: String, _ params: String, key: String = Owners.alice) async throws -> [String: Any] {
        let (_, json) = try await jsonRPC(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#, key: key)
        return try #require(json as? [String: Any])
    }

    /// Starts a conversation as `key` and returns its ID.
    func startConversation(_ prompt: String = "hello", key: String = Owners.alice) async throws -> String {
        let reply = try await rpc("conversation.prompt", #"{"prompt":"\#(prompt)"}"#, key: key)
        return try #require(reply[path: "result.conversation_id"] as? String, "\(reply)")
    }

    func listConversations(_ query: String = "", key: String = Owners.alice) async throws -> (TestResponse, [String: Any]) {
        let response = try await execute(uri: "/conversations" + query, method: .get, headers: .apiKey(key))
        return (response, (try? response.json()) ?? [:])
    }
}

@Suite("Owners: a conversation and a webhook delivery belong to whoever created them")
struct OwnerTests {
    @Test func anotherKeyGetsUnknownConversationFromEveryJSONRPCMethodAndExec() async throws {
        try await withFakeUpstream { fake in
            try await Owners.setup(fake).gateway.withRouter { client in
                let id = try await client.startConversation(key: Owners.alice)
                for (method, params) in [
                    ("conversation.status", #"{"conversation_id":"\#(id)"}"#),
                    ("conversation.history", #"{"conversation_id":"\#(id)"}"#),
                    ("conversation.cancel", #"{"conversation_id":"\#(id)"}"#),
                    ("conversation.prompt", #"{"prompt":"mine now","conversation_id":"\#(id)"}"#),
                ] {
                    let reply = try await client.rpc(method, params, key: Owners.bob)
                    #expect(reply[path: "error.code"] as? Int == -32004, "\(method): \(reply)")
                    #expect(reply["result"] == nil)
                }
                let (exec, _) = try await client.exec(#"{"prompt":"mine now","conversation_id":"\#(id)"}"#, key: Owners.bob)
                #expect(exec.status == .notFound)
                #expect(try exec.json()["code"] as? String == "conversation_not_found")
                // The owner still has it, untouched by the attempts.
                let history = try await client.rpc("conversation.history", #"{"conversation_id":"\#(id)"}"#, key: Owners.alice)
                #expect((history[path: "result.messages"] as? [Any])?.count == 2)
                let (_, bobs) = try await client.listConversations(key: Owners.bob)
                #expect((bobs["conversations"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func anotherKeyCannotContinueOrInterruptAConversationOverTheWebSocket() async throws {
        try await withFakeUpstream { fake in
            try await withLiveGateway(try Owners.setup(fake, model: "fake-slow-100").gateway) { port in
                let reply = try await jsonRPCRequest(port: port, key: Owners.alice, #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"x"},"id":1}"#)
                let id = try #require(reply[path: "result.conversation_id"] as? String)
                try await WebSocketTests().connect(port: port, headers: .apiKey(Owners.bob)) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"mine","conversation_id":"\#(id)","id":"e"}"#)
                    let refused = try await messages.next()
                    #expect(refused["type"] as? String == "error")
                    #expect(refused["code"] as? String == "conversation_not_found")
                    try await outbound.send(#"{"type":"interrupt","conversation_id":"\#(id)"}"#)
                    let notYours = try await messages.next()
                    #expect(notYours["code"] as? String == "conversation_not_found")
                }
            }
        }
    }

    @Test func webhookDeliveriesAreScopedPerKeyAndCannotReachAnotherKeysConversation() async throws {
        try await withFakeUpstream { fake in
            try await Owners.setup(fake).gateway.withRouter { client in
                let id = try await client.startConversation(key: Owners.alice)
                let foreign = try await client.webhook(
                    #"{"event":"prompt","data":{"prompt":"p","conversation_id":"\#(id)"}}"#, key: Owners.bob)
                #expect(foreign.status == .badRequest)
                #expect(try foreign.json()["code"] as? String == "conversation_not_found")

                // The same delivery ID from two keys: two deliveries, both run.
                let first = try await client.webhook(#"{"event":"prompt","data":{"prompt":"from alice"}}"#, headers: [webhookIDHeader: "same"], key: Owners.alice)
                let second = try await client.webhook(#"{"event":"prompt","data":{"prompt":"from bob"}}"#, headers: [webhookIDHeader: "same"], key: Owners.bob)
                #expect(first.status == .accepted && second.status == .accepted)
                let alices = try await client.delivery("same", key: Owners.alice) { $0["status"] as? String == "completed" }
                let bobs = try await client.delivery("same", key: Owners.bob) { $0["status"] as? String == "completed" }
                #expect(alices["result"] as? String == "Echo: from alice")
                #expect(bobs["result"] as? String == "Echo: from bob")
                // Idempotency still holds within one key.
                let again = try await client.webhook(#"{"event":"prompt","data":{"prompt":"twice"}}"#, headers: [webhookIDHeader: "same"], key: Owners.bob)
                #expect(again.status == .accepted)
                #expect(try await client.delivery("same", key: Owners.bob) { _ in true }["result"] as? String == "Echo: from bob")
                // The webhook's conversation is its sender's.
                let bobsConversation = try #require(bobs["conversation_id"] as? String)
                let status = try await client.rpc("conversation.status", #"{"conversation_id":"\#(bobsConversation)"}"#, key: Owners.alice)
                #expect(status[path: "error.code"] as? Int == -32004)
            }
        }
    }

    @Test func aDeliveryOfAnotherKeyIsNotFound() async throws {
        try await withFakeUpstream { fake in
            try await Owners.setup(fake).gateway.withRouter { client in
                let accepted = try await client.webhook(#"{"event":"push","data":{}}"#, headers: [webhookIDHeader: "alices-only"], key: Owners.alice)
                #expect(accepted.status == .accepted)
                let mine = try await client.execute(uri: "/webhook/alices-only", method: .get, headers: .apiKey(Owners.alice))
                #expect(mine.status == .ok)
                let theirs = try await client.execute(uri: "/webhook/alices-only", method: .get, headers: .apiKey(Owners.bob))
                #expect(theirs.status == .notFound)
            }
        }
    }

    @Test func anOAuthTokenActsForTheKeyThatApprovedItAndAuthorizingAgainKeepsTheConversations() async throws {
        try await withFakeUpstream { fake in
            let environment = ["OAUTH_CLIENT_ID": OAuthFixture.clientID, "OAUTH_CLIENT_SECRET": OAuthFixture.secret]
            try await Owners.setup(fake, environment: environment).gateway.withRouter { client in
                func token(approvedBy key: String) async throws -> String {
                    let (_, parameters) = try await client.authorizeAndApprove(chatGPTAuthorize, key: key)
                    let (_, tokens) = try await client.codeGrant(try #require(parameters["code"]))
                    return try #require(tokens["access_token"] as? String)
                }
                func list(bearer: String) async throws -> [String] {
                    let response = try await client.execute(uri: "/conversations", method: .get, headers: .bearer(bearer))
                    #expect(response.status == .ok)
                    return (try response.json()["conversations"] as? [[String: Any]] ?? []).compactMap { $0["conversation_id"] as? String }
                }
                let alicesConversation = try await client.startConversation(key: Owners.alice)
                let first = try await token(approvedBy: Owners.alice)
                #expect(try await list(bearer: first) == [alicesConversation])

                // A conversation the token starts is the key's too, and survives a new authorization.
                var headers = HTTPFields.bearer(first)
                headers[.contentType] = "application/json"
                let viaToken = try await client.execute(
                    uri: "/jsonrpc", method: .post, headers: headers,
                    body: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"via oauth"},"id":1}"#)
                )
                let tokensConversation = try #require(try viaToken.json()[path: "result.conversation_id"] as? String)
                let second = try await token(approvedBy: Owners.alice)
                #expect(Set(try await list(bearer: second)) == [alicesConversation, tokensConversation])
                let status = try await client.rpc("conversation.status", #"{"conversation_id":"\#(tokensConversation)"}"#, key: Owners.alice)
                #expect(status[path: "result.conversation_id"] as? String == tokensConversation)

                // Approved by another key: that key's conversations only.
                let bobs = try await token(approvedBy: Owners.bob)
                #expect(try await list(bearer: bobs).contains(alicesConversation) == false)
                #expect(try await list(bearer: bobs).contains(tokensConversation) == false)
            }
        }
    }

    @Test func underAutoApproveEveryTokenOfAClientSharesItsConversations() async throws {
        try await withFakeUpstream { fake in
            let environment = ["OAUTH_CLIENT_ID": OAuthFixture.clientID, "OAUTH_CLIENT_SECRET": OAuthFixture.secret, "OAUTH_AUTO_APPROVE": "true"]
            try await Owners.setup(fake, environment: environment).gateway.withRouter { client in
                func token() async throws -> String {
                    let response = try await client.execute(uri: "/oauth/authorize?" + OAuthFixture.query(chatGPTAuthorize), method: .get)
                    let code = try #require(OAuthFixture.parameters(ofLocation: response.headers[.location])["code"])
                    return try #require(try await client.codeGrant(code).1["access_token"] as? String)
                }
                var headers = HTTPFields.bearer(try await token())
                headers[.contentType] = "application/json"
                let started = try await client.execute(
                    uri: "/jsonrpc", method: .post, headers: headers,
                    body: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"p"},"id":1}"#)
                )
                let id = try #require(try started.json()[path: "result.conversation_id"] as? String)
                let later = try await client.execute(uri: "/conversations", method: .get, headers: .bearer(try await token()))
                #expect((try later.json()["conversations"] as? [[String: Any]])?.first?["conversation_id"] as? String == id)
                // The keys themselves do not see the client's conversations.
                let (_, alices) = try await client.listConversations(key: Owners.alice)
                #expect((alices["conversations"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func listsArePagedNewestFirstInAStableOrderOverRESTAndJSONRPC() async throws {
        try await withFakeUpstream { fake in
            try await Owners.setup(fake).gateway.withRouter { client in
                var created: [String] = []
                for index in 0..<7 { created.append(try await client.startConversation("n\(index)")) }
                _ = try await client.startConversation(key: Owners.bob)
                var seen: [String] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let query = "?limit=3" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let (response, page) = try await client.listConversations(query)
                    #expect(response.status == .ok)
                    let ids = (page["conversations"] as? [[String: Any]] ?? []).compactMap { $0["conversation_id"] as? String }
                    #expect(ids.count <= 3)
                    seen += ids
                    #expect(page.keys.contains("next_cursor"), "next_cursor is always there (null at the end)")
                    cursor = page["next_cursor"] as? String
                    pages += 1
                } while cursor != nil && pages < 10
                #expect(pages == 3)
                #expect(seen == created.reversed(), "newest first, each once")

                // JSON-RPC pages the same way.
                let first = try await client.rpc("conversation.list", #"{"limit":4}"#)
                let firstIDs = (first[path: "result.conversations"] as? [[String: Any]] ?? []).compactMap { $0["conversation_id"] as? String }
                #expect(firstIDs == Array(created.reversed().prefix(4)))
                let next = try #require(first[path: "result.next_cursor"] as? String)
                let rest = try await client.rpc("conversation.list", #"{"limit":4,"cursor":"\#(next)"}"#)
                let restIDs = (rest[path: "result.conversations"] as? [[String: Any]] ?? []).compactMap { $0["conversation_id"] as? String }
                #expect(restIDs == Array(created.reversed().dropFirst(4)))
                #expect(rest[path: "result.next_cursor"] is NSNull)
                // The default page holds them all.
                let (_, all) = try await client.listConversations()
                #expect((all["conversations"] as? [Any])?.count == 7)
            }
        }
    }

    @Test func aCursorReadsBackToExactlyThePositionItWasMadeFrom() {
        // Any time a Date holds (the store's come from parsing the rollout's timestamps).
        for _ in 0..<20_000 {
            let seconds = Double.random(in: 7e8...9e8)
            let position = ConversationListPosition(createdAt: Date(timeIntervalSinceReferenceDate: seconds), id: "c")
            let read = ConversationListPosition(cursor: position.cursor)
            #expect(read == position, "\(seconds)")
            if read != position { return }
        }
    }

    @Test func badLimitsAndCursorsAreRefused() async throws {
        try await withFakeUpstream { fake in
            try await Owners.setup(fake).gateway.withRouter { client in
                for query in ["?limit=0", "?limit=201", "?limit=ten", "?cursor=not-a-cursor"] {
                    let (response, body) = try await client.listConversations(query)
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(body["code"] as? String != nil)
                }
                for params in [#"{"limit":0}"#, #"{"limit":201}"#, #"{"limit":"ten"}"#, #"{"cursor":"bm90LWEtY3Vyc29y"}"#] {
                    let reply = try await client.rpc("conversation.list", params)
                    #expect(reply[path: "error.code"] as? Int == -32602, "\(params): \(reply)")
                }
                let (ok, _) = try await client.listConversations("?limit=200")
                #expect(ok.status == .ok)
            }
        }
    }

    @Test func ownersSurviveARestartAndConversationsWithoutAnOwnerReachNoOne() async throws {
        try await withFakeUpstream { fake in
            let home = TemporaryDirectory.make()
            let captured = Captured<String>()
            try await Owners.setup(fake, codexHome: home).gateway.withRouter { client in
                captured.value = try await client.startConversation(key: Owners.alice)
            }
            // A conversation from before owners were recorded.
            let legacyID = UUID().uuidString.lowercased()
            let legacy = """
                {"timestamp":"2026-01-02T03:04:05.000Z","type":"session_meta","payload":{"id":"\(legacyID)","model":"fake-echo","model_provider":"fake"}}

                """
            try FileManager.default.createDirectory(atPath: home + "/sessions/2026/01/02", withIntermediateDirectories: true)
            try legacy.write(toFile: home + "/sessions/2026/01/02/rollout-2026-01-02T03-04-05-\(legacyID).jsonl", atomically: true, encoding: .utf8)

            let id = try #require(captured.value)
            try await Owners.setup(fake, codexHome: home).gateway.withRouter { client in
                let (_, alices) = try await client.listConversations(key: Owners.alice)
                #expect((alices["conversations"] as? [[String: Any]])?.compactMap { $0["conversation_id"] as? String } == [id])
                let mine = try await client.rpc("conversation.history", #"{"conversation_id":"\#(id)"}"#, key: Owners.alice)
                #expect((mine[path: "result.messages"] as? [Any])?.count == 2)
                let theirs = try await client.rpc("conversation.history", #"{"conversation_id":"\#(id)"}"#, key: Owners.bob)
                #expect(theirs[path: "error.code"] as? Int == -32004)
                for key in [Owners.alice, Owners.bob] {
                    let old = try await client.rpc("conversation.status", #"{"conversation_id":"\#(legacyID)"}"#, key: key)
                    #expect(old[path: "error.code"] as? Int == -32004)
                }
            }
        }
    }
}
