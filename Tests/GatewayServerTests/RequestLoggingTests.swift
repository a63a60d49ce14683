import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ModelProvider
import NIOCore
import Testing

@Suite("What a request logs", .serialized)
struct RequestLoggingTests {
    /// Runs a live gateway that logs to `capture`, with the fake provider serving `model`.
    static func withLoggingGateway(
        _ capture: LogCapture,
        model: String = "fake-echo",
        _ body: @escaping @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: model)
            try await buildApplication(configuration: try setup.gateway.configuration(), logger: capture.logger).test(.live) { client in
                try await body(client, try #require(client.port))
            }
        }
    }

    /// The principal `/whoami` reports for the test key.
    static func principal(_ client: any TestClientProtocol) async throws -> String {
        let whoami = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
        return try #require(try whoami.json()["id"] as? String)
    }

    /// Waits (polling) until `capture` has a record that satisfies `predicate`.
    static func eventually(_ capture: LogCapture, _ predicate: ([String: Any]) -> Bool) async throws -> [String: Any] {
        for _ in 0..<500 {
            if let found = capture.records.first(where: predicate) { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        let found = capture.records.first(where: predicate)
        return try #require(found, "never logged")
    }

    static func records(_ capture: LogCapture, requestID: String) -> [[String: Any]] {
        capture.records.filter { $0["request_id"] as? String == requestID }
    }

    @Test func everyLineATurnCausesCarriesTheRequestIDAndTheCodexEventsThePrincipal() async throws {
        let capture = LogCapture()
        try await Self.withLoggingGateway(capture) { client, _ in
            let principal = try await Self.principal(client)
            var headers = HTTPFields.apiKey()
            headers[.contentType] = "application/json"
            headers[RequestIDMiddleware.header] = "req-exec-1"
            let exec = try await client.execute(uri: "/exec", method: .post, headers: headers, body: ByteBuffer(string: #"{"prompt":"hello logs"}"#))
            #expect(exec.status == .ok)
            _ = try await Self.eventually(capture) { $0["msg"] as? String == "request" && $0["request_id"] as? String == "req-exec-1" }
            let codex = capture.records.filter { ($0["msg"] as? String)?.hasPrefix("codex.") == true }
            let names = Set(codex.compactMap { $0["msg"] as? String })
            for name in ["codex.conversation_starts", "codex.user_prompt", "codex.api_request", "codex.sse_event"] {
                #expect(names.contains(name), "\(name) was not logged: \(names)")
            }
            for record in codex {
                #expect(record["request_id"] as? String == "req-exec-1", "\(record)")
                #expect(record["principal"] as? String == principal, "\(record)")
            }
            // Nothing else the gateway logged meanwhile lacks the ID (the /whoami before has its own).
            let access = capture.records("request")
            #expect(access.allSatisfy { ($0["request_id"] as? String)?.isEmpty == false })
            #expect(access.last?["principal"] as? String == principal)
            #expect(access.last?["http.route"] as? String == "/exec")
        }
    }

    @Test func aRelayedCompletionLogsItsProviderCallUnderTheRequestID() async throws {
        let capture = LogCapture()
        try await Self.withLoggingGateway(capture) { client, _ in
            let principal = try await Self.principal(client)
            var (headers, body) = RelayTests.chat(#"{"messages":[{"role":"user","content":"hi"}]}"#)
            headers[RequestIDMiddleware.header] = "req-relay-1"
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
            #expect(response.status == .ok)
            let call = try await Self.eventually(capture) { $0["msg"] as? String == "codex.api_request" && $0["request_id"] as? String == "req-relay-1" }
            #expect(call["principal"] as? String == principal)
        }
    }

    @Test func aWebSocketTurnLogsUnderItsHandshakesRequestID() async throws {
        let capture = LogCapture()
        try await Self.withLoggingGateway(capture) { client, port in
            let principal = try await Self.principal(client)
            var headers = HTTPFields.apiKey()
            headers[RequestIDMiddleware.header] = "req-ws-1"
            try await WebSocketTests().connect(port: port, headers: headers) { inbound, outbound, _ in
                var messages = ServerMessages(inbound)
                try await outbound.send(#"{"type":"exec","prompt":"hello socket","id":"t1"}"#)
                _ = try await messages.events(until: "turn.completed")
            }
            let prompt = try await Self.eventually(capture) { $0["msg"] as? String == "codex.user_prompt" }
            #expect(prompt["request_id"] as? String == "req-ws-1")
            #expect(prompt["principal"] as? String == principal)
        }
    }

    /// A streamed request's access line is written at its end, with how it ended.
    @Test func theAccessLineOfAStreamSaysHowItEnded() async throws {
        let capture = LogCapture()
        try await Self.withLoggingGateway(capture) { client, port in
            func stream(_ model: String, id: String) -> String {
                let body = #"{"model":"\#(model)","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
                return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(TestGateway.apiKey)\r\n"
                    + "X-Request-Id: \(id)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            func accessLine(_ id: String) async throws -> [String: Any] {
                try await Self.eventually(capture) { $0["msg"] as? String == "request" && $0["request_id"] as? String == id }
            }

            var (headers, body) = RelayTests.chat(#"{"model":"fake-echo","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            headers[RequestIDMiddleware.header] = "stream-completed"
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
            let completed = try await accessLine("stream-completed")
            #expect(completed["stream.end"] as? String == "completed")
            #expect(completed["duration_ms"] as? Double != nil)
            #expect(completed["http.status_code"] as? Int == 200)

            // The provider sends a delta every 50 ms; the client reads a few and hangs up.
            let leaving = try await rawConnection(port: port)
            try await leaving.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: stream("fake-slow-50-400", id: "stream-left")))
                var received = ""
                for try await chunk in inbound {
                    received += String(buffer: chunk)
                    if received.components(separatedBy: "data: {").count > 3 { break }
                }
            }
            let left = try await accessLine("stream-left")
            #expect(left["stream.end"] as? String == "client_disconnected", "\(left)")

            // The provider cuts the connection mid-stream.
            let cut = try await rawConnection(port: port)
            try await cut.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: stream("fake-cut", id: "stream-cut")))
                for try await _ in inbound {}
            }
            let cutLine = try await accessLine("stream-cut")
            #expect(cutLine["stream.end"] as? String == "upstream_error", "\(cutLine)")
        }
    }
}
