import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ModelProvider
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// A local HTTP server that records callback POSTs and fails the first `failures` of them, or
/// answers the n-th (from 1) with `answer`.
final class CallbackReceiver: Sendable {
    struct Call: Sendable {
        var headers: HTTPFields
        var body: String
    }

    let calls = Mutex<[Call]>([])
    let failures: Int
    let answer: (@Sendable (Int) async -> Response)?

    init(failures: Int = 0, answer: (@Sendable (Int) async -> Response)? = nil) {
        self.failures = failures
        self.answer = answer
    }

    var received: [Call] { calls.withLock { $0 } }

    func run(_ body: (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/callback") { request, _ -> Response in
            var request = request
            let bytes = try await request.collectBody(upTo: 1 << 20)
            let count = self.calls.withLock { calls -> Int in
                calls.append(Call(headers: request.headers, body: String(buffer: bytes)))
                return calls.count
            }
            if let answer = self.answer { return await answer(count) }
            return Response(status: count <= self.failures ? .internalServerError : .ok)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: TestGateway.quietLogger
        )
        let group = ServiceGroup(services: [app], logger: TestGateway.quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = await iterator.next() ?? 0
            do {
                try await body("http://127.0.0.1:\(port)/callback")
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

extension TestClientProtocol {
    func webhook(_ body: String, headers extra: HTTPFields = [:], key: String = TestGateway.apiKey) async throws -> TestResponse {
        var headers = HTTPFields.apiKey(key)
        headers[.contentType] = "application/json"
        headers.append(contentsOf: extra)
        return try await execute(uri: "/webhook", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// Polls GET /webhook/{id} until `done` holds (or 10 s pass) and returns the last answer.
    func delivery(_ id: String, key: String = TestGateway.apiKey, until done: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let response = try await execute(uri: "/webhook/\(id)", method: .get, headers: .apiKey(key))
            let object = (try? response.json()) ?? [:]
            if done(object) || ContinuousClock.now > deadline { return object }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

let webhookIDHeader = HTTPField.Name("X-Webhook-Id")!
let signatureHeader = HTTPField.Name("X-Hub-Signature-256")!

@Suite("Webhooks (PROTOCOLS.md §5)", .serialized)
struct WebhookTests {
    @Test func theSeedREADMEWebhookIsAccepted() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let response = try await client.webhook(#"{"event": "test", "data": {"message": "Hello"}}"#)
                #expect(response.status == .accepted)
                let body = try response.json()
                #expect(body["status"] as? String == "accepted")
                let id = try #require(body["id"] as? String)
                #expect((body["timestamp"] as? String)?.hasSuffix("Z") == true)
                let delivery = try await client.delivery(id) { _ in true }
                #expect(delivery["status"] as? String == "stored")
                #expect(delivery["event"] as? String == "test")
                #expect(fake.recorder.requests.isEmpty, "other events run nothing")
            }
        }
    }

    @Test func aPromptEventRunsATurnInTheBackground() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let response = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "from a webhook"}}"#)
                #expect(response.status == .accepted)
                let id = try #require(try response.json()["id"] as? String)
                let delivery = try await client.delivery(id) { $0["status"] as? String == "completed" }
                #expect(delivery["status"] as? String == "completed")
                #expect(delivery["result"] as? String == "Echo: from a webhook")
                #expect(UUID(uuidString: delivery["conversation_id"] as? String ?? "") != nil)
                #expect(delivery[path: "usage.output_tokens"] as? Int == 4)
            }
        }
    }

    @Test func aReplayedDeliveryGetsTheFirstAnswerAndRunsOnce() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                let body = #"{"event": "prompt", "data": {"prompt": "once"}}"#
                let first = try await client.webhook(body, headers: [webhookIDHeader: "delivery-42"])
                let second = try await client.webhook(body, headers: [webhookIDHeader: "delivery-42"])
                #expect(first.status == .accepted && second.status == .accepted)
                #expect(first.text == second.text, "the same answer, timestamp included")
                #expect(try first.json()["id"] as? String == "delivery-42")
                _ = try await client.delivery("delivery-42") { $0["status"] as? String == "completed" }
                try await Task.sleep(for: .milliseconds(200))
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 1)

                let github = try await client.webhook(#"{"event": "push", "data": {}}"#, headers: [HTTPField.Name("X-GitHub-Delivery")!: "gh-7"])
                #expect(try github.json()["id"] as? String == "gh-7")
            }
        }
    }

    @Test func signaturesAreRequiredWhenASecretIsSet() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["WEBHOOK_SECRET": "s3cret"])
            try await setup.gateway.withRouter { client in
                let body = #"{"event": "test", "data": {"n": 1}}"#
                let missing = try await client.webhook(body)
                #expect(missing.status == .unauthorized)
                #expect(try missing.json()["code"] as? String == "invalid_signature")
                let wrong = try await client.webhook(body, headers: [signatureHeader: WebhookSignature.sign(Data("other".utf8), secret: "s3cret")])
                #expect(wrong.status == .unauthorized)
                let tampered = try await client.webhook(body + " ", headers: [signatureHeader: WebhookSignature.sign(Data(body.utf8), secret: "s3cret")])
                #expect(tampered.status == .unauthorized, "the signature covers the raw bytes")
                let good = try await client.webhook(body, headers: [signatureHeader: WebhookSignature.sign(Data(body.utf8), secret: "s3cret")])
                #expect(good.status == .accepted)
                // GitHub's example: HMAC-SHA256("It's a Secret to Everybody", "Hello, World!").
                #expect(
                    WebhookSignature.sign(Data("Hello, World!".utf8), secret: "It's a Secret to Everybody")
                        == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                )
                let anonymous = try await client.execute(uri: "/webhook", method: .post, body: ByteBuffer(string: body))
                #expect(anonymous.status == .unauthorized)
            }
        }
    }

    @Test func badDeliveriesAreRefusedWithoutBeingStored() async throws {
        try await withFakeUpstream { fake in
            try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                for (body, fragment) in [
                    ("not json", "not valid JSON"),
                    (#"{"data": {}}"#, "body.event is required"),
                    (#"{"event": ""}"#, "body.event"),
                    (#"{"event": "prompt", "data": {}}"#, "data.prompt"),
                    (#"{"event": "prompt", "data": {"prompt": "x", "callback_url": "ftp://x"}}"#, "callback_url"),
                    (#"{"event": "prompt", "data": {"prompt": "x", "conversation_id": "nope"}}"#, "No conversation"),
                ] {
                    let response = try await client.webhook(body, headers: [webhookIDHeader: "bad-\(body.count)"])
                    #expect(response.status == .badRequest, "\(body)")
                    #expect((try response.json()["error"] as? String)?.contains(fragment) == true, "\(body): \(response.text)")
                    let lookup = try await client.execute(uri: "/webhook/bad-\(body.count)", method: .get, headers: .apiKey())
                    #expect(lookup.status == .notFound)
                }
            }
        }
    }

    @Test func callbacksAreRetriedUntilDelivered() async throws {
        let receiver = CallbackReceiver(failures: 2)
        try await receiver.run { url in
            try await withFakeUpstream { fake in
                let setup = try CodexTestSetup.make(
                    fake: fake,
                    environment: [
                        "WEBHOOK_SECRET": "cb-secret", "WEBHOOK_CALLBACK_RETRY_SECONDS": "0.05", "WEBHOOK_CALLBACK_MAX_ATTEMPTS": "5",
                        "OUTBOUND_ALLOW_PRIVATE": "true",
                    ]
                )
                try await setup.gateway.withRouter { client in
                    let body = #"{"event": "prompt", "data": {"prompt": "call me back", "callback_url": "\#(url)"}}"#
                    let response = try await client.webhook(body, headers: [signatureHeader: WebhookSignature.sign(Data(body.utf8), secret: "cb-secret")])
                    let id = try #require(try response.json()["id"] as? String)
                    let delivery = try await client.delivery(id) { ($0["callback"] as? [String: Any])?["status"] as? String == "delivered" }
                    #expect(delivery[path: "callback.status"] as? String == "delivered")
                    #expect(delivery[path: "callback.attempts"] as? Int == 3)
                    let calls = receiver.received
                    #expect(calls.count == 3)
                    let last = try #require(calls.last)
                    #expect(last.headers[webhookIDHeader] == id)
                    #expect(last.headers[signatureHeader] == WebhookSignature.sign(Data(last.body.utf8), secret: "cb-secret"))
                    let payload = try #require(try JSONSerialization.jsonObject(with: Data(last.body.utf8)) as? [String: Any])
                    #expect(payload["result"] as? String == "Echo: call me back")
                    #expect(payload["status"] as? String == "completed")
                }
            }
        }
    }

    @Test func aCallbackThatNeverSucceedsIsMarkedFailed() async throws {
        let receiver = CallbackReceiver(failures: 100)
        try await receiver.run { url in
            try await withFakeUpstream { fake in
                let setup = try CodexTestSetup.make(
                    fake: fake,
                    environment: ["WEBHOOK_CALLBACK_RETRY_SECONDS": "0.02", "WEBHOOK_CALLBACK_MAX_ATTEMPTS": "2", "OUTBOUND_ALLOW_PRIVATE": "true"]
                )
                try await setup.gateway.withRouter { client in
                    let response = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "x", "callback_url": "\#(url)"}}"#)
                    let id = try #require(try response.json()["id"] as? String)
                    let delivery = try await client.delivery(id) { $0[path: "callback.status"] as? String == "failed" }
                    #expect(delivery[path: "callback.status"] as? String == "failed")
                    #expect(delivery[path: "callback.attempts"] as? Int == 2)
                    #expect(delivery[path: "callback.last_error"] as? String == "HTTP 500")
                }
            }
        }
    }

    @Test func acceptedDeliveriesSurviveACrashAndResume() async throws {
        try await withFakeUpstream { fake in
            let home = TemporaryDirectory.make()
            let captured = Captured<String>()
            // First life: the model stalls, so the turn is still running when the process stops.
            try await CodexTestSetup.make(fake: fake, model: "fake-stall", idleTimeoutMilliseconds: 60_000, codexHome: home).gateway.withRouter { client in
                let response = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "survive"}}"#, headers: [webhookIDHeader: "resume-1"])
                #expect(response.status == .accepted)
                captured.value = try response.json()["id"] as? String
                _ = try await client.delivery("resume-1") { $0["status"] as? String == "running" }
            }
            // The row was on disk when 202 was sent, and is still unfinished.
            let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
            let store = SQLiteWebhookStore(database: database)
            let owner = database.fingerprinter.fingerprint(ofKey: TestGateway.apiKey)
            let stored = try #require(try await store.delivery("resume-1", owner: owner))
            #expect(stored.status == .running || stored.status == .pending)
            try await database.close()

            // Second life: a working model; the delivery is picked up again and completes.
            try await CodexTestSetup.make(fake: fake, model: "fake-echo", codexHome: home).gateway.withRouter { client in
                let delivery = try await client.delivery("resume-1") { $0["status"] as? String == "completed" }
                #expect(delivery["status"] as? String == "completed")
                #expect(delivery["result"] as? String == "Echo: survive")
            }
            #expect(captured.value == "resume-1")
        }
    }
}
