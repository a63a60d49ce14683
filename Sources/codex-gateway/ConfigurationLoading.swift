import ArgumentParser
import Foundation
import GatewayServer

/// The environment merged with `./.env`; a malformed `.env` is a configuration failure (exit 78).
func loadEnvironment() throws -> Environment {
    do {
        return try Environment.load()
    } catch let error as ConfigurationError {
        throw configurationFailure(error)
    }
}

/// The validated configuration; an invalid one is a configuration failure (exit 78).
func loadConfiguration(_ environment: Environment) throws -> GatewayConfiguration {
    do {
        return try GatewayConfiguration.load(environment: environment)
    } catch let error as ConfigurationError {
        throw configurationFailure(error)
    }
}

/// Writes the one line that names the variable at fault to stderr; the exit code is 78 (EX_CONFIG).
func configurationFailure(_ error: ConfigurationError) -> ExitCode {
    FileHandle.standardError.write(Data("codex-gateway: configuration error: \(error)\n".utf8))
    return ExitCode(78)
}
