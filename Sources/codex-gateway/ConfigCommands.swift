import ArgumentParser
import Foundation
import GatewayServer
import Logging
import ModelProvider

/// `codex-gateway config`: the effective configuration, secrets masked.
struct PrintConfiguration: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the effective configuration: every setting, its value (secrets masked) and where it came from."
    )

    func run() throws {
        let environment = try loadEnvironment()
        let configuration = try loadConfiguration(environment)
        print(ConfigurationReport(configuration: configuration, environment: environment).text, terminator: "")
    }
}

/// `codex-gateway doctor`: checks the configuration against the machine; exit 1 when a check fails.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration: directories writable, database opens (DATABASE_URL: answers, migrations applied), API keys, the provider's key and whether the provider answers."
    )

    @Option(help: "Seconds to wait for the model provider's answer.") var timeout: Double = 5

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds, not \(timeout)") }
    }

    func run() async throws {
        let configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(environment: try Environment.load())
        } catch let error as ConfigurationError {
            print("FAIL configuration: \(error)")
            throw ExitCode(78)
        }
        print("ok   configuration: valid (environment, .env, \(configuration.codex.path ?? "no config.toml: built-in providers"))")
        var logger = Logger(label: "codex-gateway")
        logger.logLevel = .critical
        let checks = await ConfigurationDoctor.run(configuration: configuration, providerTimeout: .milliseconds(Int64(timeout * 1000)), logger: logger)
        for check in checks { print(check.line) }
        if checks.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}
