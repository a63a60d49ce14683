import AsyncHTTPClient
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// The outbound policy for URLs fetched on a caller's behalf (issue #17 point 3).
@Suite("Outbound URLs")
struct OutboundPolicyTests {
    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.1", "loopback"), ("2130706433", "loopback"), ("0x7f.1", "loopback"),
        ("0x7f000001", "loopback"), ("0177.0.0.1", "loopback"), ("127.0.0.1.", "loopback"), ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"), ("::ffff:7f00:1", "loopback"), ("[::127.0.0.1]", "loopback"), ("[2002:7f00:1::]", "loopback"),
        ("0.0.0.0", "unspecified"), ("0", "unspecified"), ("[::]", "unspecified"),
        ("169.254.169.254", "link-local"), ("[::ffff:169.254.169.254]", "link-local"), ("[64:ff9b::a9fe:a9fe]", "link-local"),
        ("[fe80::1%eth0]", "link-local"),
        ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
        ("[::ffff:10.1.2.3]", "private"), ("[fd00::1]", "private (ULA)"), ("100.64.0.1", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"), ("[ff02::1]", "multicast"), ("255.255.255.255", "broadcast"), ("240.0.0.1", "reserved"),
        ("192.0.2.1", "documentation"), ("198.51.100.7", "documentation"), ("203.0.113.9", "documentation"), ("[2001:db8::1]", "documentation"),
    ])
    func forbiddenAddressesAreRecognisedInEveryForm(host: String, kind: String) throws {
        let address = try #require(OutboundAddress(literal: host), "\(host) is a literal address")
        #expect(address.restriction == kind, "\(host) → \(address)")
        #expect(!OutboundPolicy().permits(address))
        #expect(OutboundPolicy(allowPrivate: true).permits(address))
    }

    @Test(arguments: ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "[2606:4700:4700::1111]", "[::ffff:8.8.8.8]"])
    func publicAddressesAreAllowed(host: String) throws {
        let address = try #require(OutboundAddress(literal: host))
        #expect(address.restriction == nil, "\(host) → \(address)")
    }

    @Test(arguments: ["example.com", "256.1.1.1", "1.2.3.4.5", "1..2", "::g", "08.1.1.1"])
    func namesAreNotLiteralAddresses(host: String) {
        #expect(OutboundAddress(literal: host) == nil)
    }

    @Test func urlsAreCheckedForSchemeSyntaxAndLiteralAddresses() {
        let policy = OutboundPolicy()
        #expect(policy.check("https://example.com/hooks/codex") == nil)
        #expect(policy.check("http://93.184.216.34:8080/x") == nil)
        #expect(policy.check("ftp://example.com/x") == .notHTTP)
        #expect(policy.check("file:///etc/passwd") == .notHTTP)
        #expect(policy.check("not a url") != nil)
        #expect(policy.check("http:///path") == .malformed)
        #expect(policy.check("http://localhost:8080/") == .forbiddenHost("loopback"))
        #expect(policy.check("http://api.localhost/") == .forbiddenHost("loopback"))
        #expect(policy.check("http://2130706433/") == .forbiddenHost("loopback"))
        #expect(policy.check("http://0x7f.1/") == .forbiddenHost("loopback"))
        #expect(policy.check("http://[::ffff:127.0.0.1]:80/") == .forbiddenHost("loopback"))
        #expect(policy.check("http://169.254.169.254/latest/meta-data/") == .forbiddenHost("link-local"))
        #expect(OutboundPolicy(allowPrivate: true).check("http://127.0.0.1:9/") == nil)
        #expect(OutboundPolicy(allowPrivate: true).check("gopher://127.0.0.1/") == .notHTTP)
    }

    /// A name is judged by the address it was connected to, so a name that resolves to loopback
    /// (here `localhost`, which ``OutboundPolicy/check(_:)`` would refuse by name) is refused by the
    /// client itself, before anything is sent.
    @Test func theClientRefusesAForbiddenAddressWhenItConnects() async throws {
        let receiver = CallbackReceiver()
        try await receiver.run { url in
            let port = try #require(URLComponents(string: url)?.port)
            let outbound = OutboundHTTPClient(policy: OutboundPolicy(), logger: TestGateway.quietLogger)
            var request = HTTPClientRequest(url: "http://localhost:\(port)/callback")
            request.method = .POST
            await #expect(throws: OutboundConnectionRefused.self) {
                _ = try await outbound.client.execute(request, timeout: .seconds(10))
            }
            #expect(receiver.received.isEmpty)

            let allowed = OutboundHTTPClient(policy: OutboundPolicy(allowPrivate: true), logger: TestGateway.quietLogger)
            let response = try await allowed.client.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            #expect(receiver.received.count == 1)
            try await outbound.client.shutdown()
            try await allowed.client.shutdown()
        }
    }

    @Test func aLoopbackCallbackIsRefusedWhenAcceptedAndDeliveredWithTheFlag() async throws {
        let receiver = CallbackReceiver()
        try await receiver.run { url in
            try await withFakeUpstream { fake in
                try await CodexTestSetup.make(fake: fake).gateway.withRouter { client in
                    for target in [url, url.replacingOccurrences(of: "127.0.0.1", with: "2130706433"), "http://169.254.169.254/latest/meta-data/"] {
                        let response = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "x", "callback_url": "\#(target)"}}"#)
                        #expect(response.status == .badRequest, "\(target)")
                        #expect(try response.json()["code"] as? String == "invalid_callback_url")
                        #expect((try response.json()["error"] as? String)?.contains("OUTBOUND_ALLOW_PRIVATE") == true)
                    }
                }
                let allowed = try CodexTestSetup.make(fake: fake, environment: ["OUTBOUND_ALLOW_PRIVATE": "true"])
                try await allowed.gateway.withRouter { client in
                    let response = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "x", "callback_url": "\#(url)"}}"#)
                    #expect(response.status == .accepted)
                    let id = try #require(try response.json()["id"] as? String)
                    let delivery = try await client.delivery(id) { $0[path: "callback.status"] as? String == "delivered" }
                    #expect(delivery[path: "callback.status"] as? String == "delivered")
                }
            }
        }
        #expect(receiver.received.count == 1)
    }

    @Test func redirectsAreNotFollowedAndFailuresReadTheSameWhateverTheCause() async throws {
        let receiver = CallbackReceiver { _ in
            var headers = HTTPFields()
            headers[.location] = "/callback?followed=1"
            return Response(status: .temporaryRedirect, headers: headers)
        }
        try await receiver.run { url in
            try await withFakeUpstream { fake in
                let setup = try CodexTestSetup.make(fake: fake, environment: ["OUTBOUND_ALLOW_PRIVATE": "true", "WEBHOOK_CALLBACK_MAX_ATTEMPTS": "1"])
                try await setup.gateway.withRouter { client in
                    let redirected = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "x", "callback_url": "\#(url)"}}"#)
                    let id = try #require(try redirected.json()["id"] as? String)
                    let delivery = try await client.delivery(id) { $0[path: "callback.status"] as? String == "failed" }
                    #expect(delivery[path: "callback.last_error"] as? String == "HTTP 307")

                    // Nothing listens on port 9 (discard): the caller learns only that it was not reached.
                    let closed = try await client.webhook(#"{"event": "prompt", "data": {"prompt": "x", "callback_url": "http://127.0.0.1:9/"}}"#)
                    let closedID = try #require(try closed.json()["id"] as? String)
                    let failed = try await client.delivery(closedID) { $0[path: "callback.status"] as? String == "failed" }
                    #expect(failed[path: "callback.last_error"] as? String == "the callback URL could not be reached")
                }
            }
        }
        #expect(receiver.received.count == 1, "the 307 was not followed")
    }
}
