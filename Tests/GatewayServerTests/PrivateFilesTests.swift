import Foundation
import Testing

@testable import GatewayServer

/// Conversations, credentials and the database are readable by the gateway's user alone.
@Suite struct PrivateFilesTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int) & 0o777
    }

    @Test func codexHomeItsConversationsAndTheDatabaseAreTheOwnersAlone() async throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let home = TemporaryDirectory.make() + "/home"
        let database = home + "/gateway.sqlite3"
        let store = try RolloutConversationStore(codexHome: home, logger: TestGateway.quietLogger)
        let record = try await store.create(model: "m", provider: "p", owner: "key_test")
        try await store.appendUserMessage(record.id, text: "secret", model: "m")
        let db = try GatewayDatabase(path: database, logger: TestGateway.quietLogger)
        #expect(await db.ping())
        #expect(try Self.mode(home) == 0o700)
        #expect(try Self.mode(home + "/sessions") == 0o700)
        var directory = URL(fileURLWithPath: record.path).deletingLastPathComponent()
        while directory.path != home + "/sessions" {
            #expect(try Self.mode(directory.path) == 0o700, "\(directory.path)")
            directory.deleteLastPathComponent()
        }
        #expect(try Self.mode(record.path) == 0o600)
        for file in [database, database + "-wal", database + "-shm"] where FileManager.default.fileExists(atPath: file) {
            #expect(try Self.mode(file) == 0o600, "\(file)")
        }
        try await db.close()
    }

    @Test func directoriesAreMadeWithTheirParentsAndAFileInTheWayIsAnError() throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let root = TemporaryDirectory.make()
        try PrivateFiles.createDirectory(at: URL(fileURLWithPath: root + "/a/b/c"))
        try PrivateFiles.createDirectory(at: URL(fileURLWithPath: root + "/a/b/c"))
        for path in ["/a", "/a/b", "/a/b/c"] {
            #expect(try Self.mode(root + path) == 0o700, "\(path)")
        }
        #expect(PrivateFiles.entryType(atPath: root + "/a") == .typeDirectory)
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/a")
        #expect(PrivateFiles.entryType(atPath: root + "/link") == .typeSymbolicLink)
        try PrivateFiles.createDirectory(at: URL(fileURLWithPath: root + "/link/d"))
        #expect(PrivateFiles.entryType(atPath: root + "/a/d") == .typeDirectory)
        #expect(PrivateFiles.entryType(atPath: root + "/missing") == nil)
        FileManager.default.createFile(atPath: root + "/file", contents: Data())
        #expect(throws: CocoaError.self) { try PrivateFiles.createDirectory(at: URL(fileURLWithPath: root + "/file")) }
        #expect(throws: CocoaError.self) { try PrivateFiles.createDirectory(at: URL(fileURLWithPath: root + "/file/below")) }
    }

    @Test func anExistingReadableDatabaseAndHomeAreNarrowed() async throws {
        let home = TemporaryDirectory.make()
        let database = home + "/gateway.sqlite3"
        FileManager.default.createFile(atPath: database, contents: nil, attributes: [.posixPermissions: 0o644])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: home)
        _ = try RolloutConversationStore(codexHome: home, logger: TestGateway.quietLogger)
        let db = try GatewayDatabase(path: database, logger: TestGateway.quietLogger)
        #expect(try Self.mode(database) == 0o600)
        #expect(try Self.mode(home) == 0o700)
        try await db.close()
    }
}
