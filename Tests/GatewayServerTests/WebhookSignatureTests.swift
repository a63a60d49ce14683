import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

let webhookTimestampHeader = HTTPField.Name("X-Webhook-Timestamp")!
let webhookSignatureHeader = HTTPField.Name("X-Webhook-Signature")!

/// Signatures that cover the delivery ID and a timestamp (issue #17 point 8b).
@Suite("Webhook signatures and replays", .serialized)
struct WebhookSignatureTests {
    static let secret = "replay-secret"

    func signed(_ body: String, id: String, timestamp: Int) -> HTTPFields {
        [
            webhookIDHeader: id,
            webhookTimestampHeader: String(timestamp),
            webhookSignatureHeader: WebhookSignature.sign(Data(body.utf8), id: id, timestamp: timestamp, secret: Self.secret),
        ]
    }

    @Test func aTimestampedSignatureHoldsForItsIDAndWithinTheTolerance() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["WEBHOOK_SECRET": Self.secret, "WEBHOOK_TOLERANCE_SECONDS": "300"])
            try await setup.gateway.withRouter { client in
                let body = #"{"event": "test", "data": {"n": 1}}"#
                let now = Int(Date().timeIntervalSince1970)
                let fresh = try await client.webhook(body, headers: signed(body, id: "ts-1", timestamp: now))
                #expect(fresh.status == .accepted)

                var replayed = signed(body, id: "ts-1", timestamp: now)
                replayed[webhookIDHeader] = "ts-2"
                let underNewID = try await client.webhook(body, headers: replayed)
                #expect(underNewID.status == .unauthorized)
                #expect(try underNewID.json()["code"] as? String == "invalid_signature")

                let stale = try await client.webhook(body, headers: signed(body, id: "ts-3", timestamp: Int(Date().timeIntervalSince1970) - 360))
                #expect(stale.status == .unauthorized)
                #expect(try stale.json()["code"] as? String == "signature_expired")
                let future = try await client.webhook(body, headers: signed(body, id: "ts-4", timestamp: Int(Date().timeIntervalSince1970) + 360))
                #expect(future.status == .unauthorized)

                var noID = signed(body, id: "ts-5", timestamp: now)
                noID[webhookIDHeader] = nil
                #expect(try await client.webhook(body, headers: noID).status == .unauthorized)

                let lookup = try await client.execute(uri: "/webhook/ts-2", method: .get, headers: .apiKey())
                #expect(lookup.status == .notFound, "a refused delivery is not stored")
            }
        }
    }

    @Test func aBodyOnlySignedBodyIsAcceptedUnderOneDeliveryIDOnly() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["WEBHOOK_SECRET": Self.secret])
            try await setup.gateway.withRouter { client in
                let body = #"{"event": "prompt", "data": {"prompt": "only once"}}"#
                let signature = WebhookSignature.sign(Data(body.utf8), secret: Self.secret)
                let first = try await client.webhook(body, headers: [signatureHeader: signature, webhookIDHeader: "gh-1"])
                #expect(first.status == .accepted)
                let again = try await client.webhook(body, headers: [signatureHeader: signature, webhookIDHeader: "gh-1"])
                #expect(again.status == .accepted, "the same delivery again gets its first answer")
                #expect(again.text == first.text)

                let replay = try await client.webhook(body, headers: [signatureHeader: signature, webhookIDHeader: "gh-2"])
                #expect(replay.status == .unauthorized)
                #expect(try replay.json()["code"] as? String == "replayed_signature")
                let anonymous = try await client.webhook(body, headers: [signatureHeader: signature])
                #expect(anonymous.status == .unauthorized, "a new generated ID is another delivery too")

                _ = try await client.delivery("gh-1") { $0["status"] as? String == "completed" }
                #expect(fake.recorder.count(path: "/v1/chat/completions") == 1)
            }
        }
    }

    @Test func callbacksAreSignedWithTheirIDAndATimestamp() async throws {
        let receiver = CallbackReceiver()
        try await receiver.run { url in
            try await withFakeUpstream { fake in
                let setup = try CodexTestSetup.make(fake: fake, environment: ["WEBHOOK_SECRET": Self.secret, "OUTBOUND_ALLOW_PRIVATE": "true"])
                try await setup.gateway.withRouter { client in
                    let body = #"{"event": "prompt", "data": {"prompt": "sign it", "callback_url": "\#(url)"}}"#
                    let now = Int(Date().timeIntervalSince1970)
                    let response = try await client.webhook(body, headers: signed(body, id: "cb-signed", timestamp: now))
                    #expect(response.status == .accepted)
                    _ = try await client.delivery("cb-signed") { $0[path: "callback.status"] as? String == "delivered" }
                }
            }
        }
        let call = try #require(receiver.received.first)
        let timestamp = try #require(call.headers[webhookTimestampHeader].flatMap { Int($0) })
        #expect(abs(Double(timestamp) - Date().timeIntervalSince1970) < 300)
        #expect(call.headers[webhookIDHeader] == "cb-signed")
        #expect(
            call.headers[webhookSignatureHeader]
                == WebhookSignature.sign(Data(call.body.utf8), id: "cb-signed", timestamp: timestamp, secret: Self.secret)
        )
    }
}
