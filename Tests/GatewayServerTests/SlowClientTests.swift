import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// Header, body and idle timeouts (issue #17 point 2), on raw loopback connections, with timeouts
/// of a fraction of a second.
@Suite("Slow clients are timed out; slow answers are not")
struct SlowClientTests {
    static let shortTimeouts = [
        "HTTP_HEADER_TIMEOUT_SECONDS": "0.3",
        "HTTP_BODY_TIMEOUT_SECONDS": "0.3",
        "HTTP_IDLE_TIMEOUT_SECONDS": "0.3",
    ]

    /// Only `key` is short, so a loaded machine cannot trip another timeout first.
    static func only(_ key: String) -> [String: String] {
        var timeouts = shortTimeouts.mapValues { _ in "30" }
        timeouts[key] = "0.3"
        return timeouts
    }

    /// Sends `request` as it is, then reads until the server closes the connection. The limit
    /// only keeps a server that never closes from hanging the test.
    func sendAndReadUntilClosed(port: Int, _ request: String, limit: Duration = .seconds(30)) async throws -> String {
        let channel = try await rawConnection(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            // The header timeout may already have answered and closed (a slow machine): what it
            // sent is still there to read.
            if !request.isEmpty { try? await outbound.write(ByteBuffer(string: request)) }
            return try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    var received = ""
                    for try await chunk in inbound { received += String(buffer: chunk) }
                    return received
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return try #require(first, "the server kept the connection open")
            }
        }
    }

    func expectRequestTimeout(_ received: String, _ fragment: String) throws {
        let head = received.lowercased()
        #expect(head.hasPrefix("http/1.1 408"), "\(received)")
        #expect(head.contains("connection: close"))
        #expect(head.contains("x-content-type-options: nosniff"))
        #expect(head.contains("x-request-id: "))
        #expect(received.contains(#""code":"request_timeout""#))
        #expect(received.contains(fragment), "\(received)")
    }

    @Test func aHalfSentHeadGets408AndIsClosed() async throws {
        try await LiveServerTests().withRunningGateway(Self.shortTimeouts) { port in
            let received = try await sendAndReadUntilClosed(port: port, "GET /health HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n")
            try expectRequestTimeout(received, "HTTP_HEADER_TIMEOUT_SECONDS")
        }
    }

    @Test func aConnectionThatSendsNothingGets408AndIsClosed() async throws {
        try await LiveServerTests().withRunningGateway(Self.shortTimeouts) { port in
            let received = try await sendAndReadUntilClosed(port: port, "")
            try expectRequestTimeout(received, "HTTP_HEADER_TIMEOUT_SECONDS")
        }
    }

    @Test func aHalfSentWebSocketHandshakeGets408AndIsClosed() async throws {
        try await LiveServerTests().withRunningGateway(Self.shortTimeouts) { port in
            let received = try await sendAndReadUntilClosed(
                port: port,
                "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            )
            try expectRequestTimeout(received, "HTTP_HEADER_TIMEOUT_SECONDS")
        }
    }

    @Test func aHalfSentBodyGets408AndIsClosed() async throws {
        try await LiveServerTests().withRunningGateway(Self.only("HTTP_BODY_TIMEOUT_SECONDS")) { port in
            let received = try await sendAndReadUntilClosed(
                port: port,
                "POST /webhook HTTP/1.1\r\nHost: localhost\r\nX-API-Key: \(TestGateway.apiKey)\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100\r\n\r\n{\"event\": \"te"
            )
            try expectRequestTimeout(received, "HTTP_BODY_TIMEOUT_SECONDS")
        }
    }

    @Test func aHalfSentBodyBehindAnUpgradeHeaderGets408AndIsClosed() async throws {
        try await LiveServerTests().withRunningGateway(Self.only("HTTP_BODY_TIMEOUT_SECONDS")) { port in
            let received = try await sendAndReadUntilClosed(
                port: port,
                "POST /webhook HTTP/1.1\r\nHost: localhost\r\nX-API-Key: \(TestGateway.apiKey)\r\nUpgrade: something\r\nConnection: Upgrade\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"event\": \"te"
            )
            #expect(received.lowercased().hasPrefix("http/1.1 408"), "\(received)")
        }
    }

    @Test func aSilentKeepAliveConnectionIsClosedAfterItsAnswer() async throws {
        try await LiveServerTests().withRunningGateway(Self.only("HTTP_IDLE_TIMEOUT_SECONDS")) { port in
            let received = try await sendAndReadUntilClosed(port: port, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(received.lowercased().hasPrefix("http/1.1 200"), "\(received)")
            #expect(!received.contains(" 408 "), "a connection idle between requests is closed without an answer")
        }
    }

    @Test func slowAnswersAndStreamsAreNotCut() async throws {
        try await withFakeUpstream { fake in
            // Four ticks 0.5 s apart: every gap is longer than every timeout.
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-500-4", idleTimeoutMilliseconds: 5000)
            try await LiveServerTests().withRunningGateway(setup.gateway.environment.merging(Self.shortTimeouts) { _, new in new }) { port in
                for stream in [true, false] {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "Connection", value: "close")  // no reuse across an idle timeout
                    request.body = .bytes(
                        ByteBuffer(string: #"{"model":"fake-slow-500-4","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#)
                    )
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    #expect(response.status == .ok)
                    let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                    #expect(body.contains("tick3"), "stream: \(stream): \(body)")
                }
                // A JSON Lines stream of the same model, from the gateway's own turn.
                var exec = HTTPClientRequest(url: "http://127.0.0.1:\(port)/exec")
                exec.method = .POST
                exec.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
                exec.headers.add(name: "Content-Type", value: "application/json")
                exec.headers.add(name: "Connection", value: "close")
                exec.body = .bytes(ByteBuffer(string: #"{"prompt":"hi"}"#))
                let response = try await HTTPClient.shared.execute(exec, timeout: .seconds(30))
                #expect(response.status == .ok)
                let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(body.contains("tick3"), "\(body)")
                #expect(body.contains("turn.completed"), "\(body)")
            }
        }
    }
}
