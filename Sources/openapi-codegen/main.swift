import Foundation
import OpenAPICodegen

/// openapi-codegen <openapi.yaml> <output-directory>
///
/// Writes every file of `Generator.outputFiles`, and only rewrites a file whose content changed
/// so that an edit to one operation recompiles as little as possible.
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: openapi-codegen <openapi.yaml> <output-directory>\n".utf8))
    exit(2)
}
let specPath = arguments[1]
let outputDirectory = URL(fileURLWithPath: arguments[2], isDirectory: true)

do {
    let text = try String(contentsOfFile: specPath, encoding: .utf8)
    let files = try Generator(file: specPath).generate(yaml: text)
    try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
    for (name, content) in files.sorted(by: { $0.key < $1.key }) {
        let url = outputDirectory.appendingPathComponent(name)
        if let existing = try? String(contentsOf: url, encoding: .utf8), existing == content { continue }
        try content.write(to: url, atomically: true, encoding: .utf8)
    }
} catch let error as DiagnosticList {
    FileHandle.standardError.write(Data((error.description + "\n").utf8))
    exit(1)
} catch let error as Diagnostic {
    FileHandle.standardError.write(Data((error.description + "\n").utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("\(specPath):1:1: error: \(error)\n".utf8))
    exit(1)
}
