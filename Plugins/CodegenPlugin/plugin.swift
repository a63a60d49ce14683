import Foundation
import PackagePlugin

/// Runs `openapi-codegen` on the package's root `openapi.yaml` for the target that uses the plugin.
///
/// Thin on purpose: find the tool, find the spec, one build command with a fixed list of outputs.
/// SwiftPM reruns it whenever `openapi.yaml` (or the generator) changes.
@main
struct CodegenPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let spec = context.package.directoryURL.appending(path: "openapi.yaml")
        let output = context.pluginWorkDirectoryURL.appending(path: "GeneratedSources")
        let files = ["Types.swift", "Operations.swift", "APIProtocol.swift", "Routes.swift", "Documents.swift"]
        let tool = try context.tool(named: "openapi-codegen").url
        return [
            .buildCommand(
                displayName: "Generating Swift from openapi.yaml",
                executable: tool,
                arguments: [spec.path(percentEncoded: false), output.path(percentEncoded: false)],
                // The tool is an input too, so a change to the generator regenerates.
                inputFiles: [spec, tool],
                outputFiles: files.map { output.appending(path: $0) }
            )
        ]
    }
}
