import CodexAppServer
import Foundation
import Testing

@Suite("Finding the Codex binary")
struct CodexBinaryTests {
    @Test func codexBinNamesTheProgramAndAMissingOneIsNil() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("codex-bin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = directory.appendingPathComponent("codex").path
        #expect(FileManager.default.createFile(atPath: program, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        #expect(CodexBinary.locate(environment: ["CODEX_BIN": program])?.path == program)
        #expect(CodexBinary.locate(environment: ["PATH": "/nonexistent:\(directory.path)"])?.path == program)
        #expect(CodexBinary.locate(environment: ["CODEX_BIN": directory.appendingPathComponent("nope").path, "PATH": directory.path]) == nil)
        #expect(CodexBinary.locate(environment: ["PATH": "/nonexistent"]) == nil)
    }
}
