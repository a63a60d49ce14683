import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import HummingbirdWSClient
import Logging
import ModelProvider
import NIOCore
import NIOPosix
import NIOWebSocket
import ServiceLifecycle
import Synchronization
import Testing

@Suite("WebSocket: GET /ws and POST /ws/ticket")
struct WebSocketTests {
    // MARK: Messages and turns

    @Test func execStreamsTheTurnsEventsTaggedWithTheClientsID() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-echo")
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"hello there","id":"t1"}"#)
                    let ack = try await messages.next()
                    #expect(ack["type"] as? String == "ack")
                    #expect(ack["message"] as? String == "accepted")
                    #expect(ack["id"] as? String == "t1")
                    let events = try await messages.events(until: "turn.completed")
                    #expect(events.allSatisfy { $0["type"] as? String == "event" && $0["id"] as? String == "t1" })
                    #expect(events.first?[path: "event.type"] as? String == "thread.started")
                    #expect((events.first?[path: "event.thread_id"] as? String)?.isEmpty == false)
                    #expect(events.compactMap { $0[path: "event.type"] as? String }.contains("turn.started"))
                    let completed = try #require(first(events, "item.completed"))
                    #expect(completed[path: "event.item.text"] as? String == "Echo: hello there")
                    #expect(events.last?[path: "event.usage.output_tokens"] as? Int == 3)
                }
            }
        }
    }

    @Test func anExecOverTheSocketCountsAgainstTheRateLimitLikeARequest() async throws {
        try await withFakeUpstream { fake in
            // The handshake takes one request of the two; the first exec the other.
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-echo", environment: ["RATE_LIMIT_PER_MINUTE": "2"])
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"one","id":"a"}"#)
                    #expect(try await messages.next()["message"] as? String == "accepted")
                    _ = try await messages.events(until: "turn.completed")
                    try await outbound.send(#"{"type":"exec","prompt":"two","id":"b"}"#)
                    let refused = try await messages.next()
                    #expect(refused["type"] as? String == "error")
                    #expect(refused["code"] as? String == "rate_limited")
                    #expect(refused["id"] as? String == "b")
                }
            }
        }
    }

    @Test func anExecContinuesAConversationAndReportsItsID() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-count")
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"one"}"#)
                    let first = try await messages.events(until: "turn.completed")
                    let id = try #require(threadID(in: first))
                    try await outbound.send(#"{"type":"exec","prompt":"two","conversation_id":"\#(id)","id":"again"}"#)
                    let ack = try await messages.next()
                    #expect(ack["conversation_id"] as? String == id)
                    #expect(ack["id"] as? String == "again")
                    let second = try await messages.events(until: "turn.completed")
                    #expect(second.first?[path: "event.thread_id"] as? String == id)
                    // user, assistant, user: the history was sent.
                    #expect(second.contains { $0[path: "event.item.text"] as? String == "messages=3" })
                }
            }
        }
    }

    @Test func interruptStopsARunningTurnAndItsUpstreamRequest() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-200")
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"long","id":"slow"}"#)
                    let started = try await messages.events(until: "item.updated")
                    let id = try #require(threadID(in: started))

                    // The connection is read while the turn runs.
                    try await outbound.send(#"{"type":"ping"}"#)
                    var rest = try await messages.read(until: "pong")
                    try await outbound.send(#"{"type":"interrupt","conversation_id":"\#(id)"}"#)
                    rest += try await messages.read(until: "turn.failed")
                    if first(rest, "ack") == nil {
                        rest += try await messages.read(until: "ack")
                    }
                    let ack = try #require(first(rest, "ack"))
                    #expect(ack["message"] as? String == "cancelled")
                    #expect(ack["conversation_id"] as? String == id)
                    let failed = try #require(first(rest, "turn.failed"))
                    #expect(failed["id"] as? String == "slow")
                    #expect((failed[path: "event.error.message"] as? String)?.contains("cancelled") == true)
                    #expect(first(rest, "turn.completed") == nil)

                    // Nothing left to interrupt.
                    try await outbound.send(#"{"type":"interrupt","conversation_id":"\#(id)"}"#)
                    let notRunning = try await messages.next()
                    #expect(notRunning["type"] as? String == "error")
                    #expect(notRunning["code"] as? String == "conversation_not_running")
                }
                let disconnected = await fake.recorder.waitUntil(timeout: .seconds(3)) { $0.last?.clientDisconnected == true }
                #expect(disconnected, "the upstream request was really stopped")
            }
        }
    }

    @Test func turnsOfDifferentConversationsRunConcurrentlyOnOneConnection() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-100")
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"a","id":"a"}"#)
                    try await outbound.send(#"{"type":"exec","prompt":"b","id":"b"}"#)
                    var all: [[String: Any]] = []
                    var completed: Set<String> = []
                    while completed.count < 2 {
                        let message = try await messages.next()
                        all.append(message)
                        if message[path: "event.type"] as? String == "turn.completed", let id = message["id"] as? String { completed.insert(id) }
                    }
                    let updates = all.enumerated().filter { $0.element[path: "event.type"] as? String == "item.updated" }
                    let a = updates.filter { $0.element["id"] as? String == "a" }.map(\.offset)
                    let b = updates.filter { $0.element["id"] as? String == "b" }.map(\.offset)
                    #expect(a.count >= 5 && b.count >= 5, "updates are coalesced (ItemUpdateCoalescer), the first five always go out")
                    // Interleaved, not one after the other.
                    #expect(try #require(a.first) < #require(b.last) && #require(b.first) < #require(a.last), "\(a) \(b)")
                    let threads = Set(all.compactMap { $0[path: "event.thread_id"] as? String })
                    #expect(threads.count == 2)
                    let items = all.filter { $0[path: "event.type"] as? String == "item.completed" }
                    #expect(items.allSatisfy { ($0[path: "event.item.text"] as? String)?.hasPrefix("tick0 ") == true })
                }
            }
        }
    }

    @Test func malformedMessagesGetAnErrorAndTheConnectionStaysOpen() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake)
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    func expectError(_ frame: String, code: String, mentioning text: String, id: String? = nil) async throws {
                        try await outbound.send(frame)
                        let error = try await messages.next()
                        #expect(error["type"] as? String == "error", "\(frame)")
                        #expect(error["code"] as? String == code, "\(frame): \(error)")
                        #expect((error["message"] as? String)?.contains(text) == true, "\(frame): \(error)")
                        #expect(error["id"] as? String == id, "\(frame)")
                    }
                    try await expectError("not json", code: "invalid_message", mentioning: "not valid JSON")
                    try await expectError(#"{"type":"dance","id":"d1"}"#, code: "invalid_message", mentioning: "'dance'", id: "d1")
                    try await expectError(#"{"prompt":"no type"}"#, code: "invalid_message", mentioning: "message.type is required")
                    try await expectError(#"{"type":"exec","id":"e1"}"#, code: "invalid_message", mentioning: "message.prompt is required", id: "e1")
                    try await expectError(#"{"type":"exec","prompt":""}"#, code: "invalid_message", mentioning: "message.prompt")
                    try await expectError(
                        #"{"type":"exec","prompt":"   ","id":"w"}"#, code: "invalid_request", mentioning: "must not be empty", id: "w")
                    try await expectError(#"[1,2]"#, code: "invalid_message", mentioning: "message")
                    try await expectError(
                        #"{"type":"exec","prompt":"x","conversation_id":"00000000-0000-0000-0000-000000000000","id":"c"}"#,
                        code: "conversation_not_found",
                        mentioning: "00000000-0000-0000-0000-000000000000",
                        id: "c"
                    )
                    try await expectError(#"{"type":"interrupt","conversation_id":"nope"}"#, code: "conversation_not_found", mentioning: "nope")

                    try await outbound.write(.binary(ByteBuffer(string: #"{"type":"ping"}"#)))
                    let binary = try await messages.next()
                    #expect(binary["code"] as? String == "invalid_message")
                    #expect((binary["message"] as? String)?.contains("Binary") == true)

                    try await outbound.send(#"{"type":"ping"}"#)
                    #expect(try await messages.next()["type"] as? String == "pong")
                }
            }
        }
    }

    /// A client that writes without reading must not make the gateway queue answers without bound:
    /// the gateway stops reading from it (TCP backpressure) until it reads. Each message here is
    /// 64 KiB and gets an error that echoes its 64 KiB id; more is sent than the socket buffers of
    /// both directions can hold (see ``socketBufferCeiling()``: 36 MiB on the CI machine). Once the
    /// client reads, every message has had its answer, in order.
    ///
    /// The client is raw TCP, frames written by hand, so that its own writes wait for the socket
    /// (HummingbirdWSClient's writer here took all 192 MiB at once).
    @Test func aClientThatDoesNotReadIsHeldBackAndStillGetsEveryAnswer() async throws {
        let padding = String(repeating: "x", count: 64 * 1024)
        let count = Self.socketBufferCeiling() / padding.utf8.count + 200
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake)
            try await withLiveGateway(setup.gateway) { port in
                let (client, handshaken) = try await Self.openRawWebSocket(port: port)
                defer { client.close() }
                var reader = handshaken
                let (accepted, writer) = try await Self.flood(client, count: count, padding: padding)
                #expect(accepted < count, "the gateway read all \(count) messages of a client that read nothing")

                for index in 0..<count {
                    let answer = try #require(try JSONSerialization.jsonObject(with: Data(try await reader.nextText().utf8)) as? [String: Any])
                    #expect(answer["code"] as? String == "invalid_message")
                    let id = answer["id"] as? String ?? ""
                    #expect(id == "\(index)-\(padding)", "answer \(index) is \(id.prefix(20))…")
                    if id != "\(index)-\(padding)" { break }
                }
                try await writer.value
                try await client.write(RawWebSocketReader.maskedTextFrame(#"{"type":"ping"}"#))
                #expect(try await reader.nextText() == #"{"type":"pong"}"#)
            }
        }
    }

    /// A client that stopped reading for the idle timeout is dropped, even while a turn runs (which
    /// otherwise keeps a connection open): nobody is there to deliver to, and neither a close frame
    /// nor a protocol ping would get through.
    @Test func aClientThatStopsReadingIsDroppedAfterTheIdleTimeoutEvenDuringATurn() async throws {
        let padding = String(repeating: "x", count: 64 * 1024)
        let count = Self.socketBufferCeiling() / padding.utf8.count + 200
        try await withFakeUpstream { fake in
            // A turn of 60 s (600 deltas, 100 ms apart). A 2 s idle timeout: with 1 s, a client held up
            // that long between its handshake and its first frame (the whole suite on 2 cores) was
            // closed as idle before the test began. It cannot be much longer: the drop must come
            // before the reader below starts, since reading lets the stalled writes through.
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-100-600", environment: ["WS_IDLE_TIMEOUT_SECONDS": "2"])
            try await withLiveGateway(setup.gateway) { port in
                let (client, handshaken) = try await Self.openRawWebSocket(port: port)
                defer { client.close() }
                let reader = handshaken
                try await client.write(RawWebSocketReader.maskedTextFrame(#"{"type":"exec","prompt":"go on","id":"long"}"#))
                let (accepted, writer) = try await Self.flood(client, count: count, padding: padding)
                #expect(accepted < count)
                // Dropped within a few idle timeouts of the stall (which began two seconds ago) while
                // the turn runs; the turn itself would go on for a minute.
                let reading = Task { [reader] in
                    var reader = reader
                    while (try? await reader.nextText()) != nil {}
                }
                let timeout = Task {
                    try await Task.sleep(for: .seconds(15))
                    reading.cancel()
                }
                await reading.value
                timeout.cancel()
                #expect(!reading.isCancelled, "the connection was still open 17 s after the client stopped reading")
                _ = await writer.result
            }
        }
    }

    /// Writes `count` 64 KiB messages that each get a 64 KiB error, until the writes stall (no
    /// progress for two seconds) or all went through; returns how many went out, and the writer.
    static func flood(_ client: RawWebSocketClient, count: Int, padding: String) async throws -> (Int, Task<Void, any Error>) {
        let sent = Atomic(0)
        let writer = Task {
            for index in 0..<count {
                try await client.write(RawWebSocketReader.maskedTextFrame(#"{"type":"bogus","id":"\#(index)-\#(padding)"}"#))
                sent.add(1, ordering: .relaxed)
            }
        }
        var last = -1
        var unchangedSince = ContinuousClock.now
        while true {
            let now = sent.load(ordering: .relaxed)
            if now == count { break }
            if now != last {
                last = now
                unchangedSince = .now
            } else if ContinuousClock.now - unchangedSince > .seconds(2) {
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (sent.load(ordering: .relaxed), writer)
    }

    /// The client's socket buffers for the flood tests: small and fixed (a size set by the
    /// program turns the kernel's autotuning off), so the gateway's writes fill them quickly.
    static let clientSocketBuffer = 64 * 1024

    /// A ``RawWebSocketClient`` with small socket buffers, past its handshake.
    static func openRawWebSocket(port: Int) async throws -> (RawWebSocketClient, RawWebSocketReader) {
        let client = try await RawWebSocketClient.connect(port: port, socketBuffer: clientSocketBuffer)
        var reader = client.reader()
        try await client.write(ByteBuffer(string: upgradeRequest(port: port, headers: ["X-API-Key": TestGateway.apiKey])))
        let status = try await reader.handshakeStatus()
        guard status == 101 else {
            client.close()
            throw HandshakeRefused(status: status)
        }
        return (client, reader)
    }

    struct HandshakeRefused: Error {
        var status: Int
    }

    /// The most the flood tests' connection can hold in its socket buffers: the gateway's side
    /// grows to the largest receive and send buffers (the third figures of `tcp_rmem` and
    /// `tcp_wmem`), the client's are fixed (the kernel doubles the size asked).
    static func socketBufferCeiling() -> Int {
        func largest(_ name: String) -> Int {
            let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/\(name)", encoding: .utf8)) ?? ""
            return text.split(whereSeparator: \.isWhitespace).last.flatMap { Int($0) } ?? 32 << 20
        }
        return largest("tcp_rmem") + largest("tcp_wmem") + 4 * clientSocketBuffer
    }

    @Test func aMissingModelKeyIsAnErrorMessage() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["FAKE_OPENAI_KEY": ""])
            try await withLiveGateway(setup.gateway) { port in
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"hi","id":"k"}"#)
                    let error = try await messages.next()
                    #expect(error["code"] as? String == "model_not_configured")
                    #expect((error["message"] as? String)?.contains("FAKE_OPENAI_KEY") == true)
                    #expect(error["id"] as? String == "k")
                }
            }
        }
    }

    // MARK: Authentication

    @Test func aHandshakeWithoutValidCredentialsIsRefusedWith401() async throws {
        try await withLiveGateway(TestGateway()) { port in
            let anonymous = try await rawHandshake(port: port)
            #expect(anonymous.status == 401)
            #expect(anonymous.headers["www-authenticate"]?.hasPrefix(#"Bearer realm="codex-gateway", resource_metadata=""#) == true)
            #expect(anonymous.headers["x-request-id"]?.isEmpty == false)
            #expect(anonymous.json["code"] as? String == "unauthorized")
            #expect(anonymous.json["status"] as? Int == 401)
            #expect(anonymous.json["request_id"] as? String == anonymous.headers["x-request-id"])
            #expect((anonymous.json["error"] as? String)?.contains("bearer.<token>") == true)

            let badKey = try await rawHandshake(port: port, headers: ["X-API-Key": "wrong-key-0123456789"])
            #expect(badKey.status == 401)
            #expect(badKey.json["code"] as? String == "invalid_api_key")

            let badToken = try await rawHandshake(port: port, headers: ["Sec-WebSocket-Protocol": "bearer.wrong-token"])
            #expect(badToken.status == 401)
            #expect(badToken.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true)

            let badTicket = try await rawHandshake(port: port, path: "/ws?ticket=made-up")
            #expect(badTicket.status == 401)
            #expect(badTicket.json["code"] as? String == "invalid_ticket")

            // A header is checked when present, even if a subprotocol would have been valid.
            let mixed = try await rawHandshake(
                port: port,
                headers: ["Authorization": "Bearer wrong", "Sec-WebSocket-Protocol": "bearer.\(TestGateway.apiKey)"]
            )
            #expect(mixed.status == 401)

            await #expect(throws: WebSocketClientError.webSocketUpgradeFailed) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws", logger: Self.quietLogger) { _, _, _ in }
            }
        }
    }

    @Test func aHandshakeIsAcceptedWithAKeyHeaderOrABearerHeader() async throws {
        try await withLiveGateway(TestGateway()) { port in
            for headers: HTTPFields in [.apiKey(), .bearer(TestGateway.apiKey)] {
                try await connect(port: port, headers: headers) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"ping"}"#)
                    #expect(try await messages.next()["type"] as? String == "pong")
                }
            }
            let accepted = try await rawHandshake(port: port, headers: ["X-API-Key": TestGateway.apiKey, "X-Request-Id": "ws-request-1"])
            #expect(accepted.status == 101)
            #expect(accepted.headers["x-request-id"] == "ws-request-1")
            #expect(accepted.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            #expect(accepted.headers["sec-websocket-protocol"] == nil)
        }
    }

    @Test func aBrowserAuthenticatesWithTheBearerSubprotocolWhichIsSelected() async throws {
        try await withLiveGateway(TestGateway()) { port in
            let offered = "codex, bearer.\(TestGateway.apiKey)"
            let accepted = try await rawHandshake(port: port, headers: ["Sec-WebSocket-Protocol": offered])
            #expect(accepted.status == 101)
            #expect(accepted.headers["sec-websocket-protocol"] == "bearer.\(TestGateway.apiKey)")

            try await connect(port: port, headers: [.secWebSocketProtocol: "bearer.\(TestGateway.apiKey)"]) { inbound, outbound, _ in
                var messages = ServerMessages(inbound)
                try await outbound.send(#"{"type":"ping"}"#)
                #expect(try await messages.next()["type"] as? String == "pong")
            }
        }
    }

    @Test func aTicketOpensOneConnectionOnly() async throws {
        try await withLiveGateway(TestGateway()) { port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/ws/ticket")
            request.method = .POST
            let anonymous = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(anonymous.status == .unauthorized)

            request.headers.add(name: "X-API-Key", value: TestGateway.apiKey)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(response.status == .created)
            let body = try await response.body.collect(upTo: 1 << 16)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
            #expect(json["expires_in"] as? Int == 60)
            let ticket = try #require(json["ticket"] as? String)
            #expect(ticket.hasPrefix("cgwt_") && ticket.count >= 48)
            #expect(ticket.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })

            try await connect(port: port, path: "/ws?ticket=\(ticket)", headers: [:]) { inbound, outbound, _ in
                var messages = ServerMessages(inbound)
                try await outbound.send(#"{"type":"ping"}"#)
                #expect(try await messages.next()["type"] as? String == "pong")
            }
            let reused = try await rawHandshake(port: port, path: "/ws?ticket=\(ticket)")
            #expect(reused.status == 401)
            #expect(reused.json["code"] as? String == "invalid_ticket")
        }
    }

    @Test func aPlainGetIsABadRequestAndAnAnonymousOneUnauthorized() async throws {
        try await TestGateway().withRouter { client in
            let plain = try await client.execute(uri: "/ws", method: .get, headers: .apiKey())
            #expect(plain.status == .badRequest)
            #expect(try plain.json()["code"] as? String == "websocket_upgrade_required")
            #expect(plain.headers[.secWebSocketVersion] == "13")
            let anonymous = try await client.execute(uri: "/ws", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix(#"Bearer realm="codex-gateway", resource_metadata=""#) == true)
        }
    }

    @Test func ticketsAreSingleUseBoundToTheirPrincipalAndExpire() {
        let now = Mutex(ContinuousClock.now)
        let store = MemoryWebSocketTicketStore(lifetime: .seconds(60)) { now.withLock { $0 } }
        let alice = Principal(kind: .apiKey, id: "key_alice")
        let bob = Principal(kind: .oauth, id: "client:bob")
        let first = store.issue(for: alice)
        let second = store.issue(for: bob)
        #expect(first != second)
        #expect(store.redeem(second) == bob)
        #expect(store.redeem(second) == nil)
        #expect(store.redeem(first) == alice)

        let late = store.issue(for: alice)
        now.withLock { $0 += .seconds(61) }
        #expect(store.redeem(late) == nil)
        #expect(store.redeem("") == nil)
    }

    // MARK: Lifetime and close codes

    @Test func anIdleConnectionIsClosedWithGoingAwayButNotDuringATurn() async throws {
        try await withFakeUpstream { fake in
            // 2 s: a reader that a busy machine (the whole suite in parallel on 2 cores) holds up for
            // a second is not taken for one that stalled.
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-500", environment: ["WS_IDLE_TIMEOUT_SECONDS": "2"])
            try await withLiveGateway(setup.gateway) { port in
                // The close code and reason say it was the idle timeout that closed it; no clock bound
                // (a loaded machine stretches the turn, not the verdict).
                let close = try await connect(port: port, timeout: .seconds(60)) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    // 5 s of turn: over twice the idle timeout, yet the connection stays open.
                    try await outbound.send(#"{"type":"exec","prompt":"tick","id":"t"}"#)
                    let events = try await messages.events(until: "turn.completed")
                    #expect(events.last?[path: "event.type"] as? String == "turn.completed")
                    try await messages.drain()
                }
                #expect(close?.closeCode == .goingAway)
                #expect(close?.reason == "idle timeout")
            }
        }
    }

    @Test func closingTheClientCancelsItsRunningTurn() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-300")
            try await withLiveGateway(setup.gateway) { port in
                let conversation = Mutex<String?>(nil)
                try await connect(port: port) { inbound, outbound, _ in
                    var messages = ServerMessages(inbound)
                    try await outbound.send(#"{"type":"exec","prompt":"long"}"#)
                    let started = try await messages.events(until: "item.updated")
                    conversation.withLock { $0 = started.first?[path: "event.thread_id"] as? String }
                    // Returning closes the connection mid-turn.
                }
                let disconnected = await fake.recorder.waitUntil(timeout: .seconds(3)) { $0.last?.clientDisconnected == true }
                #expect(disconnected, "the upstream request was stopped")
                let id = try #require(conversation.withLock { $0 })
                var status: String?
                for _ in 0..<30 {
                    let reply = try await jsonRPCRequest(
                        port: port, #"{"jsonrpc":"2.0","method":"conversation.status","params":{"conversation_id":"\#(id)"},"id":1}"#)
                    status = reply[path: "result.status"] as? String
                    if status == "idle" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(status == "idle")
            }
        }
    }

    @Test func anOversizedOrNonUTF8MessageClosesTheConnectionWithItsCode() async throws {
        try await withLiveGateway(TestGateway()) { port in
            let close = try await connect(port: port) { inbound, outbound, _ in
                var messages = ServerMessages(inbound)
                let prompt = String(repeating: "x", count: (1 << 20) + 1)
                try await outbound.write(.text(#"{"type":"exec","prompt":"\#(prompt)"}"#))
                try await messages.drain()
            }
            #expect(close?.closeCode == .messageTooLarge)

            let notUTF8 = try await connect(port: port) { inbound, outbound, _ in
                var messages = ServerMessages(inbound)
                try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: [0x7B, 0xFF, 0xFE, 0x7D]))))
                try await messages.drain()
            }
            #expect(notUTF8?.closeCode == .dataInconsistentWithMessage)
        }
    }

    @Test func serverShutdownClosesConnectionsWithGoingAway() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, model: "fake-slow-100")
            let configuration = try setup.gateway.configuration()
            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let app = try await buildApplication(configuration: configuration, logger: TestGateway.quietLogger) { portContinuation.yield($0) }
            let group = ServiceGroup(services: [app], logger: TestGateway.quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var portIterator = ports.makeAsyncIterator()
                let port = try #require(await portIterator.next())
                let (opened, openedContinuation) = AsyncStream.makeStream(of: Void.self)
                // One idle connection, one with a turn streaming when the server stops.
                for busy in [false, true] {
                    tasks.addTask {
                        let close = try await connect(port: port) { inbound, outbound, _ in
                            var messages = ServerMessages(inbound)
                            if busy {
                                try await outbound.send(#"{"type":"exec","prompt":"tick"}"#)
                                _ = try await messages.events(until: "item.updated")
                            } else {
                                try await outbound.send(#"{"type":"ping"}"#)
                                _ = try await messages.next()
                            }
                            openedContinuation.yield()
                            try await messages.drain()
                        }
                        #expect(close?.closeCode == .goingAway, "busy: \(busy)")
                        #expect(close?.reason == "server shutting down", "busy: \(busy)")
                    }
                }
                var openedIterator = opened.makeAsyncIterator()
                _ = await openedIterator.next()
                _ = await openedIterator.next()
                let stopping = ContinuousClock.now
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                #expect(ContinuousClock.now - stopping < .seconds(8), "the running turn did not hold the shutdown up")
            }
        }
    }
}

extension WebSocketTests {
    @Test func shutdownDoesNotWaitForAConnectionThatNeverSentARequest() async throws {
        let configuration = try TestGateway().configuration()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try await buildApplication(configuration: configuration, logger: TestGateway.quietLogger) { portContinuation.yield($0) }
        let group = ServiceGroup(services: [app], logger: TestGateway.quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var portIterator = ports.makeAsyncIterator()
            let port = try #require(await portIterator.next())
            // What a client's connection pool leaves open: connected, nothing sent.
            let idle = try await rawConnection(port: port)
            try await Task.sleep(for: .milliseconds(100))
            let stopping = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await idle.executeThenClose { inbound, _ in
                for try await _ in inbound {}  // ends when the server closes it
            }
            try await tasks.waitForAll()
            // Well under the 10 s header timeout that would otherwise close it: not waited for.
            #expect(ContinuousClock.now - stopping < .seconds(8))
        }
    }
}

// MARK: - Helpers

extension WebSocketTests {
    static let quietLogger: Logger = {
        var logger = Logger(label: "ws-test-client")
        logger.logLevel = .critical
        return logger
    }()

    /// Connects to the gateway (with the test key unless `headers` says otherwise) and runs `handler`;
    /// fails the test if it all takes more than `timeout`.
    @discardableResult
    func connect(
        port: Int,
        path: String = "/ws",
        headers: HTTPFields = .apiKey(),
        timeout: Duration = .seconds(15),
        handler: @escaping WebSocketDataHandler<WebSocketClient.Context>
    ) async throws -> WebSocketCloseFrame? {
        let url = "ws://127.0.0.1:\(port)\(path)"
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 22, additionalHeaders: headers)
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                .closed(try await WebSocketClient.connect(url: url, configuration: configuration, logger: Self.quietLogger, handler: handler))
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return .timedOut
            }
            defer { group.cancelAll() }
            switch try await group.next() {
            case .closed(let frame): return frame
            case .timedOut, nil: throw TimedOut()
            }
        }
    }

    enum Outcome: Sendable {
        case closed(WebSocketCloseFrame?)
        case timedOut
    }

    struct TimedOut: Error {}

    /// What a raw handshake got back: WebSocket clients do not show a refused handshake's answer.
    struct HandshakeResponse {
        var status: Int
        /// Lowercased names.
        var headers: [String: String]
        var json: [String: Any]
    }

    /// A WebSocket handshake request, written by hand.
    static func upgradeRequest(port: Int, path: String = "/ws", headers: [String: String]) -> String {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        return request + "\r\n"
    }

    func rawHandshake(port: Int, path: String = "/ws", headers: [String: String] = [:]) async throws -> HandshakeResponse {
        let request = Self.upgradeRequest(port: port, path: path, headers: headers)
        let channel = try await rawConnection(port: port)
        let received = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ""
            for try await chunk in inbound {
                received += String(buffer: chunk)
                guard let end = received.range(of: "\r\n\r\n") else { continue }
                let head = received[..<end.lowerBound].lowercased()
                if head.hasPrefix("http/1.1 101") { break }
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if received[end.upperBound...].utf8.count >= length { break }
            }
            return received
        }
        let parts = received.components(separatedBy: "\r\n\r\n")
        let lines = parts[0].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = parts.dropFirst().joined(separator: "\r\n\r\n")
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        return HandshakeResponse(status: status, headers: fields, json: json)
    }
}

/// The server's messages, parsed.
struct ServerMessages {
    private var iterator: WebSocketInboundMessageStream.AsyncIterator

    init(_ inbound: WebSocketInboundStream) {
        iterator = inbound.messages(maxSize: 1 << 22).makeAsyncIterator()
    }

    struct Closed: Error {}

    mutating func next() async throws -> [String: Any] {
        while let message = try await iterator.next() {
            guard case .text(let text) = message else { continue }
            return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        }
        throw Closed()
    }

    /// Reads up to and including the first message of `type` (`pong`, `ack`…, or an event's, `turn.completed`…).
    mutating func read(until type: String) async throws -> [[String: Any]] {
        var messages: [[String: Any]] = []
        while true {
            let message = try await next()
            messages.append(message)
            if kind(of: message) == type { return messages }
        }
    }

    /// Reads event messages up to and including the first exec event of `type`.
    mutating func events(until type: String) async throws -> [[String: Any]] {
        var events: [[String: Any]] = []
        for message in try await read(until: type) where message["type"] as? String == "event" {
            events.append(message)
        }
        return events
    }

    /// Reads until the server closes the connection.
    mutating func drain() async throws {
        while try await iterator.next() != nil {}
    }
}

/// A message's type, or its event's for `event` messages.
func kind(of message: [String: Any]) -> String? {
    message["type"] as? String == "event" ? message[path: "event.type"] as? String : message["type"] as? String
}

/// The first message of `type` (see ``kind(of:)``).
func first(_ messages: [[String: Any]], _ type: String) -> [String: Any]? {
    for message in messages where kind(of: message) == type { return message }
    return nil
}

/// The conversation ID from a `thread.started` event.
func threadID(in messages: [[String: Any]]) -> String? {
    first(messages, "thread.started")?[path: "event.thread_id"] as? String
}

extension WebSocketOutboundWriter {
    func send(_ text: String) async throws {
        try await write(.text(text))
    }
}

/// WebSocket by hand over a raw TCP stream: the handshake's answer, then the server's frames
/// (unmasked, unfragmented text frames; control frames skipped).
struct RawWebSocketReader {
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    /// Asks the connection for one more read (it reads nothing unless asked).
    private let requestRead: @Sendable () -> Void
    private var buffer = ByteBuffer()

    init(_ stream: AsyncStream<ByteBuffer>, requestRead: @escaping @Sendable () -> Void) {
        self.iterator = stream.makeAsyncIterator()
        self.requestRead = requestRead
    }

    struct Closed: Error {}

    private mutating func fill() async throws {
        requestRead()
        guard var more = await iterator.next() else { throw Closed() }
        buffer.writeBuffer(&more)
    }

    /// The status of the handshake's answer; leaves what follows it in the buffer.
    mutating func handshakeStatus() async throws -> Int {
        while true {
            let view = buffer.readableBytesView
            if let end = view.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = buffer.readString(length: end.upperBound - view.startIndex) ?? ""
                return Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
            try await fill()
        }
    }

    mutating func nextText() async throws -> String {
        while true {
            let start = buffer.readerIndex
            if let first = buffer.getInteger(at: start, as: UInt8.self), let second = buffer.getInteger(at: start + 1, as: UInt8.self) {
                var header = 2
                var length: Int? = Int(second & 0x7F)
                if length == 126 {
                    length = buffer.getInteger(at: start + 2, as: UInt16.self).map(Int.init)
                    header = 4
                } else if length == 127 {
                    length = buffer.getInteger(at: start + 2, as: UInt64.self).map(Int.init)
                    header = 10
                }
                if let length, buffer.readableBytes >= header + length {
                    buffer.moveReaderIndex(forwardBy: header)
                    let payload = buffer.readString(length: length)!
                    buffer.discardReadBytes()
                    if first & 0x0F == 0x1 { return payload }
                    continue
                }
            }
            try await fill()
        }
    }

    /// A client's text frame (masked, as clients must; a zero key keeps the bytes as they are).
    static func maskedTextFrame(_ text: String) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(0x81))
        let length = text.utf8.count
        if length < 126 {
            frame.writeInteger(UInt8(0x80) | UInt8(length))
        } else if length <= 0xFFFF {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(length))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeInteger(UInt32(0))
        frame.writeString(text)
        return frame
    }
}

/// A WebSocket client by hand over a plain NIO channel, for the flood tests. It reads from the
/// socket only when its reader asks (`autoRead` is off), and a write completes once the kernel has
/// taken the bytes, so what the gateway took in is exactly what was written. (NIOAsyncChannel's
/// inbound stream, and HummingbirdWSClient over it, at times went on reading and buffering while
/// nobody iterated.)
final class RawWebSocketClient: Sendable {
    let channel: any Channel
    private let bytes: AsyncStream<ByteBuffer>

    private init(channel: any Channel, bytes: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.bytes = bytes
    }

    /// Connects with fixed `socketBuffer`-sized socket buffers (a size set by the program turns
    /// the kernel's autotuning off).
    static func connect(port: Int, socketBuffer: Int) async throws -> RawWebSocketClient {
        let (bytes, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(socketBuffer))
            .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(socketBuffer))
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(continuation)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawWebSocketClient(channel: channel, bytes: bytes)
    }

    /// The reader of the connection's bytes (one per connection).
    func reader() -> RawWebSocketReader {
        let channel = channel
        return RawWebSocketReader(bytes) { channel.read() }
    }

    func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes).get()
    }

    func close() {
        channel.close(promise: nil)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<ByteBuffer>.Continuation

        init(_ continuation: AsyncStream<ByteBuffer>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
