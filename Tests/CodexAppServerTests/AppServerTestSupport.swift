import CodexAppServer
import Foundation

/// The package's root folder (this file is Tests/CodexAppServerTests/AppServerTestSupport.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The Codex binary the tests run (`CODEX_BIN`, else `codex` on PATH), nil when there is none.
let installedCodex = CodexBinary.locate(environment: ProcessInfo.processInfo.environment)

/// A fresh directory for one test under the package's `.build` (Codex's sandbox refuses a
/// `CODEX_HOME` under /tmp); remove it with `FileManager.default.removeItem`.
func makeScratchDirectory(_ name: String) throws -> URL {
    let directory = repositoryRoot.appendingPathComponent(".build/codex-app-server-tests/\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Runs a program to its end and returns its exit status and standard error.
func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    let stderr = Pipe()
    process.standardError = stderr
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let errors = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: errors, as: UTF8.self))
}
