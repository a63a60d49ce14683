import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdTesting
import ModelProvider
import NIOCore
import Testing

/// A batch of `count` copies of `entry` (a request object with `"id":ID`, numbered from 1).
func batch(_ count: Int, _ entry: String) -> String {
    "[" + (1...count).map { entry.replacingOccurrences(of: "\"id\":ID", with: "\"id\":\($0)") }.joined(separator: ",") + "]"
}

/// The responses of a batch, by their `id`.
func responsesByID(_ json: Any?) -> [Int: [String: Any]] {
    var byID: [Int: [String: Any]] = [:]
    for response in json as? [[String: Any]] ?? [] {
        if let id = response["id"] as? Int { byID[id] = response }
    }
    return byID
}

@Suite("JSON-RPC batches are bounded: entries, rate limit, turn cap, response size")
struct JSONRPCBatchLimitTests {
    static let list = #"{"jsonrpc":"2.0","method":"conversation.list","id":ID}"#

    @Test func aBatchOverTheLimitIsOneInvalidRequestNamingTheLimit() async throws {
        try await TestGateway(["JSONRPC_MAX_BATCH": "3"]).withRouter { client in
            let (_, refused) = try await client.jsonRPC(batch(4, Self.list))
            let error = try #require(refused as? [String: Any], "one error object, not a batch: \(String(describing: refused))")
            #expect(error[path: "error.code"] as? Int == -32600)
            let message = try #require(error[path: "error.message"] as? String)
            #expect(message.contains("3") && message.contains("JSONRPC_MAX_BATCH"), "\(message)")
            let (_, allowed) = try await client.jsonRPC(batch(3, Self.list))
            #expect((allowed as? [Any])?.count == 3)
        }
        // The default is 50.
        try await TestGateway().withRouter { client in
            let (_, refused) = try await client.jsonRPC(batch(51, Self.list))
            #expect((refused as? [String: Any])?[path: "error.code"] as? Int == -32600)
            let (_, allowed) = try await client.jsonRPC(batch(50, Self.list))
            #expect((allowed as? [Any])?.count == 50)
        }
    }

    @Test func eachEntryIsChargedToTheRateLimitAndThoseBeyondItAreRefusedAlone() async throws {
        try await TestGateway(["RATE_LIMIT_PER_MINUTE": "3"]).withRouter { client in
            let (response, json) = try await client.jsonRPC(batch(5, Self.list))
            #expect(response.status == .ok)
            let byID = responsesByID(json)
            #expect(byID.count == 5)
            for id in 1...3 { #expect(byID[id]?["result"] != nil, "entry \(id) ran") }
            for id in 4...5 {
                #expect(byID[id]?[path: "error.code"] as? Int == -32005, "entry \(id): \(String(describing: byID[id]))")
                #expect(byID[id]?[path: "error.data.code"] as? String == "rate_limited")
                #expect((byID[id]?[path: "error.message"] as? String)?.contains("Rate limit exceeded") == true)
            }
            // The budget is spent: the next request is refused at the door.
            let (next, _) = try await client.jsonRPC(#"{"jsonrpc":"2.0","method":"conversation.list","id":9}"#)
            #expect(next.status == .tooManyRequests)
        }
    }

    @Test func theTurnsOfABatchCountTogetherAgainstTheConcurrentTurnCap() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-100", environment: ["RATE_LIMIT_CONCURRENT_TURNS": "8"])
            try await setup.gateway.withRouter { client in
                let (_, json) = try await client.jsonRPC(batch(9, #"{"jsonrpc":"2.0","method":"conversation.prompt","params":{"prompt":"p"},"id":ID}"#))
                let responses = Array(responsesByID(json).values)
                #expect(responses.count == 9)
                #expect(responses.filter { $0[path: "result.type"] as? String == "ai_response" }.count == 8)
                let refused = responses.filter { $0[path: "error.code"] as? Int == -32005 }
                #expect(refused.count == 1)
                #expect(refused.first?[path: "error.data.limit"] as? Int == 8)
            }
        }
    }

    @Test func answersPastTheResponseSizeLimitGetAnErrorInsteadOfTheirResult() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-echo", environment: ["JSONRPC_MAX_RESPONSE_BYTES": "2048"])
            try await setup.gateway.withRouter { client in
                let prompt = String(repeating: "a", count: 600)
                let id = try await client.startConversation(prompt)
                let history = #"{"jsonrpc":"2.0","method":"conversation.history","params":{"conversation_id":"\#(id)"},"id":ID}"#
                let (_, alone) = try await client.jsonRPC(batch(1, history))
                #expect((responsesByID(alone)[1]?[path: "result.messages"] as? [Any])?.count == 2, "one history fits")

                let (_, json) = try await client.jsonRPC(batch(3, history))
                let responses = Array(responsesByID(json).values)
                #expect(responses.count == 3)
                #expect(responses.filter { $0["result"] != nil }.count == 1)
                let cut = responses.filter { $0[path: "error.code"] as? Int == -32007 }
                #expect(cut.count == 2)
                #expect((cut.first?[path: "error.message"] as? String)?.contains("JSONRPC_MAX_RESPONSE_BYTES") == true)

                // A history too long for the limit on its own is refused, not built (two turns,
                // each of whose answers fits).
                let long = try await client.startConversation(String(repeating: "b", count: 700))
                let second = try await client.rpc("conversation.prompt", #"{"prompt":"\#(String(repeating: "c", count: 700))","conversation_id":"\#(long)"}"#)
                #expect(second[path: "result.conversation_id"] as? String == long, "\(second)")
                let reply = try await client.rpc("conversation.history", #"{"conversation_id":"\#(long)"}"#)
                #expect(reply[path: "error.code"] as? Int == -32007)
            }
        }
    }

    @Test func invalidLimitsAreConfigurationErrorsNamingTheVariable() throws {
        for (variable, value) in [("JSONRPC_MAX_BATCH", "0"), ("JSONRPC_MAX_BATCH", "many"), ("JSONRPC_MAX_RESPONSE_BYTES", "100"),
            ("WS_CREDENTIAL_CHECK_SECONDS", "0"), ("WS_CREDENTIAL_CHECK_SECONDS", "60")]
        {
            #expect(throws: ConfigurationError.self) { try TestGateway([variable: value]).configuration() }
            do {
                _ = try TestGateway([variable: value]).configuration()
            } catch let error as ConfigurationError {
                #expect(error.key == variable)
            }
        }
    }

    @Test func aWebhookTurnCountsAgainstItsSendersTurnCapAndWaitsForASlot() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(
                fake: fake, model: "fake-slow-150", environment: ["RATE_LIMIT_CONCURRENT_TURNS": "1", "RATE_LIMIT_PER_MINUTE": "0"]
            )
            try await withLiveGateway(setup.gateway) { port in
                // The webhook's turn holds the sender's only slot: an exec of the same key is refused meanwhile.
                try await withWebhook(port: port, id: "first", #"{"event":"prompt","data":{"prompt":"hook"}}"#)
                _ = try await deliveryStatus(port: port, id: "first") { $0 == "running" }
                let refused = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"meanwhile"}"#), timeout: .seconds(10))
                #expect(refused.status.code == 429)
                #expect(try await deliveryStatus(port: port, id: "first") { $0 == "completed" } == "completed")

                // An exec holds the slot: a webhook waits for it instead of failing.
                let running = try await HTTPClient.shared.execute(execRequest(port: port, #"{"prompt":"long"}"#), timeout: .seconds(10))
                var reader = LineReader(iterator: running.body.makeAsyncIterator())
                _ = try await reader.next()  // thread.started: the exec's turn runs
                try await withWebhook(port: port, id: "second", #"{"event":"prompt","data":{"prompt":"later"}}"#)
                while try await reader.next() != nil {}
                #expect(try await deliveryStatus(port: port, id: "second") { $0 == "completed" || $0 == "failed" } == "completed")
            }
        }
    }

    func withWebhook(port: Int, id: String, _ body: String) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook")
        request.method = .POST
        request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Webhook-Id", value: id)
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status.code == 202)
        _ = try await response.body.collect(upTo: 1 << 16)
    }

    /// Polls the delivery until `done` holds for its status (or 15 s pass); returns the last status.
    func deliveryStatus(port: Int, id: String, until done: (String?) -> Bool) async throws -> String? {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook/\(id)")
            request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            let status = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["status"] as? String
            if done(status) || ContinuousClock.now > deadline { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
