import Foundation
import GatewayServer
import Hummingbird
import HummingbirdTesting
import ModelProvider
import Testing

/// Callbacks run concurrently, so one receiver cannot hold up another's (issue #17 point 7c).
@Suite("Webhook callbacks run side by side")
struct WebhookCallbackConcurrencyTests {
    @Test func aStalledReceiverDoesNotHoldUpAnotherReceiversCallback() async throws {
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        defer { open.finish() }
        let stalled = CallbackReceiver { _ in
            for await _ in gate {}  // answers once the test opens the gate
            return Response(status: .ok)
        }
        let quick = CallbackReceiver()
        try await stalled.run { stalledURL in
            try await quick.run { quickURL in
                try await withFakeUpstream { fake in
                    let setup = try CodexTestSetup.make(fake: fake, environment: ["OUTBOUND_ALLOW_PRIVATE": "true"])
                    try await setup.gateway.withRouter { client in
                        let first = try await client.webhook(
                            #"{"event": "prompt", "data": {"prompt": "a", "callback_url": "\#(stalledURL)"}}"#,
                            headers: [webhookIDHeader: "to-stalled"]
                        )
                        #expect(first.status == .accepted)
                        try await until { !stalled.received.isEmpty }  // its callback is now held

                        let second = try await client.webhook(
                            #"{"event": "prompt", "data": {"prompt": "b", "callback_url": "\#(quickURL)"}}"#,
                            headers: [webhookIDHeader: "to-quick"]
                        )
                        #expect(second.status == .accepted)
                        let delivered = try await client.delivery("to-quick") { $0[path: "callback.status"] as? String == "delivered" }
                        #expect(delivered[path: "callback.status"] as? String == "delivered")

                        let held = try await client.delivery("to-stalled") { _ in true }
                        #expect(held[path: "callback.status"] as? String == "pending")
                        #expect(held[path: "callback.attempts"] as? Int == 0, "the stalled callback is still in flight")

                        open.finish()
                        let released = try await client.delivery("to-stalled") { $0[path: "callback.status"] as? String == "delivered" }
                        #expect(released[path: "callback.status"] as? String == "delivered")
                    }
                }
            }
        }
    }

    /// Polls `condition` until it holds; gives up after 10 s (a hang guard only).
    func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            try #require(ContinuousClock.now < deadline, "the condition never held")
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
