import Foundation
import GatewayServer
import Testing

@Suite("Workspaces: one directory per principal under WORKSPACES_ROOT, nothing outside it")
struct WorkspaceResolverTests {
    let root = TemporaryDirectory.make() + "/workspaces"
    var resolver: WorkspaceResolver { WorkspaceResolver(root: root) }
    var realRoot: String { URL(fileURLWithPath: root).resolvingSymlinksInPath().path }

    func expectInvalid(_ name: String?, owner: String = "key_aaaaaaaaaaaa", containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) {
            _ = try resolver.resolve(workspace: name, conversationID: "conv-1", owner: owner)
        } throws: { error in
            guard case .invalidWorkspace(let reason) = error as? TurnPolicyError else { return false }
            return reason.contains(fragment)
        }
    }

    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func theDefaultWorkspaceIsNamedAfterTheConversationAndCreated0700() throws {
        let path = try resolver.resolve(workspace: nil, conversationID: "conv-1", owner: "key_aaaaaaaaaaaa")
        #expect(path == realRoot + "/key_aaaaaaaaaaaa/conv-1")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(try mode(realRoot + "/key_aaaaaaaaaaaa") == 0o700)
        #expect(try mode(path) == 0o700)
    }

    @Test func theSameNameIsTheSamePathAndNestedNamesAreAllowed() throws {
        let first = try resolver.resolve(workspace: "projects/site", conversationID: "conv-1", owner: "key_aaaaaaaaaaaa")
        let again = try resolver.resolve(workspace: "projects/site", conversationID: "conv-2", owner: "key_aaaaaaaaaaaa")
        let spelledDifferently = try resolver.resolve(workspace: "./projects//site/", conversationID: "conv-3", owner: "key_aaaaaaaaaaaa")
        #expect(first == realRoot + "/key_aaaaaaaaaaaa/projects/site")
        #expect(again == first)
        #expect(spelledDifferently == first)
    }

    @Test func twoPrincipalsNeverShareADirectory() throws {
        let owners = [
            "key_aaaaaaaaaaaa", "key_bbbbbbbbbbbb", "oauth-client:app", "oauth-client%3Aapp", "oauth-client_app", "a/b", "a%2Fb", "..", ".",
            "", "Key_aaaaaaaaaaaa", "KEY_AAAAAAAAAAAA", String(repeating: "x", count: 300), String(repeating: "x", count: 301), "ключ",
        ]
        var paths: Set<String> = []
        for owner in owners {
            let path = try resolver.resolve(workspace: "shared-name", conversationID: "conv-1", owner: owner)
            let principal = (path as NSString).deletingLastPathComponent
            #expect((principal as NSString).deletingLastPathComponent == realRoot, "'\(owner)' gets a directory directly under the root")
            paths.insert(principal.lowercased())
        }
        #expect(paths.count == owners.count, "distinct even ignoring case")
        #expect(WorkspaceResolver.principalDirectoryName(forOwner: "key_0123abcd") == "key_0123abcd")
        #expect(WorkspaceResolver.principalDirectoryName(forOwner: "oauth-client:app") == "oauth-client%3Aapp")
        #expect(WorkspaceResolver.principalDirectoryName(forOwner: "") == WorkspaceResolver.principalDirectoryName(forOwner: ""))
    }

    @Test func namesThatLeaveTheDirectoryOrCannotBeADirectoryAreRefused() throws {
        expectInvalid("", containing: "empty")
        expectInvalid("/etc", containing: "absolute path")
        expectInvalid("..", containing: "'..'")
        expectInvalid("projects/../../key_bbbbbbbbbbbb", containing: "'..'")
        expectInvalid("a\0b", containing: "control character")
        expectInvalid("a\nb", containing: "control character")
        expectInvalid(String(repeating: "a", count: 64), containing: "64 characters")
        expectInvalid("./", containing: "names no directory")
        #expect(throws: Never.self) { try resolver.resolve(workspace: String(repeating: "a", count: 63), conversationID: "c", owner: "key_a") }
        #expect(throws: Never.self, "63 four-byte characters fit a file name") {
            try resolver.resolve(workspace: String(repeating: "😀", count: 63), conversationID: "c", owner: "key_a")
        }
        #expect(throws: TurnPolicyError.self, "a conversation id is checked like a name") {
            try resolver.resolve(workspace: nil, conversationID: "../escape", owner: "key_a")
        }
    }

    @Test func aSymbolicLinkOutOfThePrincipalsDirectoryIsRefusedAndNothingIsCreatedThere() throws {
        let principal = (try resolver.resolve(workspace: "inside", conversationID: "c", owner: "key_aaaaaaaaaaaa") as NSString).deletingLastPathComponent
        let outside = TemporaryDirectory.make()
        let neighbour = (try resolver.resolve(workspace: "theirs", conversationID: "c", owner: "key_bbbbbbbbbbbb") as NSString).deletingLastPathComponent
        let files = FileManager.default
        try files.createSymbolicLink(atPath: principal + "/escape", withDestinationPath: outside)
        try files.createSymbolicLink(atPath: principal + "/neighbour", withDestinationPath: neighbour)
        try files.createSymbolicLink(atPath: principal + "/dangling", withDestinationPath: outside + "/missing")
        try files.createSymbolicLink(atPath: principal + "/up", withDestinationPath: "..")
        expectInvalid("escape", containing: "symbolic link that leads outside")
        expectInvalid("escape/sub", containing: "'escape' is a symbolic link that leads outside")
        expectInvalid("neighbour/theirs", containing: "leads outside")
        expectInvalid("dangling", containing: "leads outside")
        expectInvalid("up/key_bbbbbbbbbbbb", containing: "leads outside")
        #expect(try files.contentsOfDirectory(atPath: outside).isEmpty, "nothing was created through the link")
        #expect(!files.fileExists(atPath: outside + "/missing"))
    }

    @Test func aSymbolicLinkThatStaysInsideResolvesToItsTarget() throws {
        let target = try resolver.resolve(workspace: "projects/site", conversationID: "c", owner: "key_aaaaaaaaaaaa")
        let principal = realRoot + "/key_aaaaaaaaaaaa"
        try FileManager.default.createSymbolicLink(atPath: principal + "/current", withDestinationPath: "projects/site")
        #expect(try resolver.resolve(workspace: "current", conversationID: "c", owner: "key_aaaaaaaaaaaa") == target)
        #expect(try resolver.resolve(workspace: "current/docs", conversationID: "c", owner: "key_aaaaaaaaaaaa") == target + "/docs")
    }

    @Test func aFileWhereADirectoryShouldBeIsRefused() throws {
        let principal = (try resolver.resolve(workspace: "w", conversationID: "c", owner: "key_aaaaaaaaaaaa") as NSString).deletingLastPathComponent
        try "x".write(toFile: principal + "/notes", atomically: true, encoding: .utf8)
        expectInvalid("notes", containing: "'notes' exists and is not a directory")
        expectInvalid("notes/sub", containing: "'notes' exists and is not a directory")
    }
}
