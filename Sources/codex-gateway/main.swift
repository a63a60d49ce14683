import ArgumentParser
import Foundation
import GatewayAPI
import GatewayServer
import Logging

@main
struct CodexGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codex-gateway",
        abstract: "HTTP gateway to the Codex agent core.",
        version: GatewayVersion.current,
        subcommands: [Serve.self, PrintOpenAPI.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (the default). Configuration comes from the environment, .env and $CODEX_HOME/config.toml."
    )

    func run() async throws {
        let configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(environment: try Environment.load())
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("codex-gateway: configuration error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        let format: StructuredLogHandler.Format = configuration.logFormat == .json ? .json : .text
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in StructuredLogHandler(label: label, level: level, format: format) }
        let logger = Logger(label: "codex-gateway")
        try await runGateway(configuration: configuration, logger: logger)
    }
}

struct PrintOpenAPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the OpenAPI document (servers[0].url from PUBLIC_BASE_URL)."
    )

    @Flag(help: "Print the GPT Actions view instead of the full document.")
    var gpt = false

    @Flag(help: "Print JSON instead of YAML.")
    var json = false

    func run() throws {
        let environment = try Environment.load()
        var baseURL = "http://localhost:\(environment.nonEmpty("PORT") ?? "8080")"
        if let raw = environment.nonEmpty("PUBLIC_BASE_URL") {
            baseURL = raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        }
        let spec = try PublishedSpec(publicBaseURL: baseURL)
        print(gpt ? (json ? spec.gptJSON : spec.gptYAML) : (json ? spec.json : spec.yaml), terminator: "")
    }
}
