import Crypto
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("Key fingerprints")
struct KeyFingerprintTests {
    static func whoami(_ gateway: TestGateway, key: String = TestGateway.apiKey) async throws -> String {
        let id = Mutex<String?>(nil)
        try await gateway.withRouter { client in
            let response = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey(key))
            #expect(response.status == .ok)
            id.withLock { $0 = try? response.json()["id"] as? String }
        }
        return try #require(id.withLock { $0 })
    }

    /// What a fingerprint was before it had a salt: anyone could compute it from a guessed key.
    static func unsalted(_ key: String) -> String {
        "key_" + SHA256.hash(data: Data(key.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    @Test func aKeysFingerprintIsSaltedPerInstallationAndStaysTheSameAcrossRestarts() async throws {
        let first = TestGateway()
        let second = TestGateway()
        let fingerprint = try await Self.whoami(first)
        #expect(fingerprint.wholeMatch(of: /key_[0-9a-f]{12}/) != nil, "\(fingerprint)")
        #expect(fingerprint != Self.unsalted(TestGateway.apiKey), "a guessed key must not be confirmable from a log line")
        #expect(try await Self.whoami(second) != fingerprint, "another installation, another salt")
        #expect(try await Self.whoami(first) == fingerprint, "the same installation after a restart")
    }

    @Test func theCommandLineAndTheServerShowTheSameFingerprint() async throws {
        let gateway = TestGateway()
        let configuration = try gateway.configuration()
        // As `codex-gateway keys create` and `keys list` do, in their own process.
        let database = try GatewayDatabase(path: configuration.databasePath, logger: TestGateway.quietLogger)
        let (key, created) = try await SQLiteAPIKeyStore(database: database).create(name: "cli")
        let listed = try await SQLiteAPIKeyStore(database: database).list()
        try await database.close()
        #expect(listed.map(\.id) == [created.id])
        #expect(created.id != Self.unsalted(key))
        #expect(try await Self.whoami(gateway, key: key) == created.id)
    }

    @Test func keysStoredBeforeThereWasASaltAreGivenTheirSaltedFingerprintOnce() async throws {
        let gateway = TestGateway()
        let path = try gateway.configuration().databasePath
        let database = try GatewayDatabase(path: path, logger: TestGateway.quietLogger)
        let (key, _) = try await SQLiteAPIKeyStore(database: database).create(name: "old")
        // The database as an earlier version left it: the unsalted ID, no salt.
        let legacy = Self.unsalted(key)
        try await database.query("UPDATE api_keys SET id = '\(legacy)'")
        try await database.query("DELETE FROM installation_secrets")
        try await database.close()

        let reopened = try GatewayDatabase(path: path, logger: TestGateway.quietLogger)
        let listed = try await SQLiteAPIKeyStore(database: reopened).list()
        try await reopened.close()
        #expect(listed.count == 1)
        #expect(listed.first?.id != legacy)
        #expect(try await Self.whoami(gateway, key: key) == listed.first?.id)
    }
}
