import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import GatewayServer

/// Credential guessing is slowed: past `AUTH_FAILURE_BUDGET_PER_MINUTE` failed attempts, an address
/// (and an OAuth client id) gets 429 with `Retry-After`, even for right credentials.
@Suite struct CredentialThrottleTests {
    static let budget = ["AUTH_FAILURE_BUDGET_PER_MINUTE": "3"]

    @Test func wrongKeysFromOneAddressAreRefusedPastTheBudgetRightOnesToo() async throws {
        try await TestGateway(Self.budget).withLiveServer { client in
            for _ in 0..<3 {
                let wrong = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey("wrong-key-000000000000000000000000000"))
                #expect(wrong.status == .unauthorized)
            }
            let refused = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(refused.status == .tooManyRequests)
            #expect(try refused.json()["code"] as? String == "too_many_failed_attempts")
            let retryAfter = try #require(refused.headers[HTTPField.Name("Retry-After")!].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
            let bearer = try await client.execute(uri: "/whoami", method: .get, headers: .bearer(TestGateway.apiKey))
            #expect(bearer.status == .tooManyRequests, "the Bearer form of a key is throttled too")
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok, "requests without credentials are not affected")
        }
    }

    @Test func requestsWithoutCredentialsAreNotCountedAsGuesses() async throws {
        try await TestGateway(Self.budget).withLiveServer { client in
            for _ in 0..<5 {
                let anonymous = try await client.execute(uri: "/whoami", method: .get)
                #expect(anonymous.status == .unauthorized)
            }
            let authenticated = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(authenticated.status == .ok)
        }
    }

    @Test func wrongClientSecretsAreRefusedPastTheBudgetForThatClient() async throws {
        try await OAuthFixture.gateway(Self.budget).withRouter { client in
            let form = ["grant_type": "authorization_code", "code": "nope", "redirect_uri": OAuthFixture.callback, "client_id": OAuthFixture.clientID]
            for _ in 0..<3 {
                let (response, json) = try await client.tokenRequest(form.merging(["client_secret": "wrong"]) { _, new in new })
                #expect(response.status == .unauthorized)
                #expect(json["error"] as? String == "invalid_client")
            }
            let (refused, json) = try await client.tokenRequest(form.merging(["client_secret": OAuthFixture.secret]) { _, new in new })
            #expect(refused.status == .tooManyRequests)
            #expect(json["code"] as? String == "too_many_failed_attempts")
            #expect(refused.headers[HTTPField.Name("Retry-After")!] != nil)
            let (other, _) = try await client.tokenRequest(form.merging(["client_id": "another-client", "client_secret": "x"]) { _, new in new })
            #expect(other.status == .unauthorized, "another client id has its own budget")
        }
    }

    @Test func wrongKeysOnTheConsentPageAreThrottled() async throws {
        try await OAuthFixture.gateway(Self.budget).withRouter { client in
            for _ in 0..<3 {
                let (answer, _) = try await client.authorizeAndApprove(chatGPTAuthorize, key: "not-a-key-000000000000000000000000")
                #expect(answer.status == .ok && answer.text.contains("not a valid gateway API key"))
            }
            let (refused, _) = try await client.authorizeAndApprove(chatGPTAuthorize)
            #expect(refused.status == .tooManyRequests)
        }
    }

    @Test func theBudgetRefillsOverAMinute() {
        let now = Mutex(0.0)
        let throttle = CredentialFailureThrottle(budgetPerMinute: 3) { now.withLock { $0 } }
        let subject = CredentialFailureThrottle.Subject.address("192.0.2.1")
        for _ in 0..<3 { throttle.recordFailure([subject]) }
        #expect(throttle.refusal([subject]) == 20)
        #expect(throttle.refusal([.address("192.0.2.2")]) == nil)
        now.withLock { $0 = 20 }
        #expect(throttle.refusal([subject]) == nil, "one more attempt after 60 s / budget")
        throttle.recordFailure([subject])
        #expect(throttle.refusal([subject]) != nil)
    }

    @Test func aZeroBudgetTurnsTheThrottleOff() {
        let throttle = CredentialFailureThrottle(budgetPerMinute: 0)
        for _ in 0..<100 { throttle.recordFailure([.address("192.0.2.1")]) }
        #expect(throttle.refusal([.address("192.0.2.1")]) == nil)
        #expect(throttle.trackedCount == 0)
    }

    @Test func memoryIsBoundedByDroppingRefilledSubjects() {
        let now = Mutex(0.0)
        let throttle = CredentialFailureThrottle(budgetPerMinute: 3, sweepThreshold: 100) { now.withLock { $0 } }
        for index in 0...100 { throttle.recordFailure([.address("198.51.100.\(index)")]) }
        now.withLock { $0 = 61 }
        throttle.recordFailure([.address("203.0.113.1")])
        #expect(throttle.trackedCount == 1)
    }

    @Test func ipv6AddressesCountByTheirSlash64() throws {
        let one = try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1)
        let two = try SocketAddress(ipAddress: "2001:db8:1:2:bbbb::2", port: 1)
        let other = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        let mapped = try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)
        #expect(CredentialFailureThrottle.subject(for: one) == CredentialFailureThrottle.subject(for: two))
        #expect(CredentialFailureThrottle.subject(for: one) != CredentialFailureThrottle.subject(for: other))
        #expect(CredentialFailureThrottle.subject(for: mapped) == .address("192.0.2.7"))
    }
}
