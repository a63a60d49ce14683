import Foundation
import Testing

@testable import GatewayServer

/// What one replica vouches for when it forwards a request (the client's address, the principal)
/// is covered by the signature: changing either breaks it.
@Suite struct ReplicaSignatureTests {
    let signature = ReplicaSignature(secret: Array(repeating: 7, count: 32))

    @Test func theAssertedAddressAndPrincipalAreSignedWithTheRequestLine() {
        let assertions = ReplicaSignature.Assertions(clientAddress: "203.0.113.9", principal: "cHJpbmNpcGFs")
        let signed = signature.sign(method: .post, target: "/exec", assertions: assertions)
        #expect(signed.contains(",v2="))
        #expect(signature.verify(signed, method: .post, target: "/exec", assertions: assertions))
        var otherAddress = assertions
        otherAddress.clientAddress = "203.0.113.10"
        #expect(!signature.verify(signed, method: .post, target: "/exec", assertions: otherAddress))
        var otherPrincipal = assertions
        otherPrincipal.principal = nil
        #expect(!signature.verify(signed, method: .post, target: "/exec", assertions: otherPrincipal))
        #expect(!signature.verify(signed, method: .get, target: "/exec", assertions: assertions))
        #expect(!ReplicaSignature(secret: Array(repeating: 8, count: 32)).verify(signed, method: .post, target: "/exec", assertions: assertions))
        let old = signature.sign(method: .post, target: "/exec", at: Date().addingTimeInterval(-120))
        #expect(!signature.verify(old, method: .post, target: "/exec"), "older than the tolerance")
    }

    @Test(arguments: [
        Principal.Credential.configuredKey, .storedKey(id: "key_1"), .accessToken(hash: "abc:def"), .engine(threadID: "t-1"),
    ])
    func anAssertedPrincipalReadsBackAsItWasSent(credential: Principal.Credential) throws {
        let principal = Principal(
            kind: credential == .accessToken(hash: "abc:def") ? .oauth : .apiKey, id: "fp_1", owner: "owner-1", scopes: ["codex"],
            limitOverrides: RateLimitOverrides(perMinute: 5, concurrentTurns: 2), credential: credential, audience: "https://gw.example/mcp")
        let value = AssertedPrincipal(principal).headerValue
        #expect(!value.contains("=") && !value.contains("/") && !value.contains("+"), "fits a header as base64url")
        #expect(AssertedPrincipal.principal(headerValue: value) == principal)
        #expect(AssertedPrincipal.principal(headerValue: "not-a-principal") == nil)
    }
}
