import Foundation
import GatewayServer
import NIOCore
import NIOPosix
import Testing

/// The `codex-gateway` executable's startup: the line it logs, and the configuration failures that
/// stop it with one line naming the variable and exit status 78 (EX_CONFIG).
@Suite("Startup of the codex-gateway executable")
struct StartupTests {
    static let key = String(repeating: "s", count: 40)

    func gateway(_ overrides: [String: String]) -> GatewayExecutable {
        let home = TemporaryDirectory.make()
        var environment = ["CODEX_HOME": home, "HOST": "127.0.0.1", "PORT": "0", "GATEWAY_API_KEY": Self.key, "OPENAI_API_KEY": "sk-unused"]
        environment.merge(overrides) { _, new in new }
        return GatewayExecutable(environment: environment)
    }

    /// Exit 78, and the last stderr line is the one configuration error, naming `variable`.
    func expectConfigurationFailure(_ result: GatewayExecutable.Result, variable: String, containing fragment: String) {
        #expect(result.status == 78, "stderr: \(result.stderr)")
        let failures = result.stderrLines.filter { $0.hasPrefix("codex-gateway: configuration error:") }
        #expect(failures.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderrLines.last?.contains(": \(variable): ") == true, "stderr: \(result.stderr)")
        #expect(result.stderrLines.last?.contains(fragment) == true, "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Error: "), "no stack or raw error: \(result.stderr)")
    }

    /// A path under a regular file: nothing can be created there, not even by root.
    func pathUnderAFile() -> String {
        let file = TemporaryDirectory.make() + "/a-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        return file + "/below"
    }

    @Test func startupLogsOneLineWithEngineProviderModelBaseURLHomeDatabaseAndAddress() async throws {
        let executable = gateway(["LOG_FORMAT": "json"])
        let running = try executable.start([])
        defer { running.stop() }
        let line = try #require(try await running.waitForStderrLine(containing: "\"codex-gateway started\""), "stderr: \(running.result().stderr)")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let home = try #require(executable.environment["CODEX_HOME"])
        #expect(fields["engine"] as? String == "chat")
        #expect(fields["provider.id"] as? String == "openai")
        #expect(fields["provider.model"] as? String == "gpt-4o")
        #expect(fields["provider.base_url"] as? String == "https://api.openai.com/v1")
        #expect(fields["codex_home"] as? String == home)
        #expect(fields["database.path"] as? String == home + "/gateway.sqlite3")
        let address = try #require(fields["listen.address"] as? String)
        #expect(address.hasPrefix("127.0.0.1:") && address != "127.0.0.1:0", "the bound port, not 0: \(address)")
    }

    @Test func aPortInUseExits78NamingPORT() async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 0)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        let result = try gateway(["PORT": String(port)]).run([])
        try await listener.close()
        expectConfigurationFailure(result, variable: "PORT", containing: "already in use")
    }

    @Test func aHostThatDoesNotResolveExits78NamingHOST() throws {
        let result = try gateway(["HOST": "no-such-host.invalid"]).run([])
        expectConfigurationFailure(result, variable: "HOST", containing: "does not resolve")
    }

    @Test func anOTLPEndpointThatIsNotAURLExits78NamingIt() throws {
        let result = try gateway(["OTEL_EXPORTER_OTLP_ENDPOINT": "otel-collector:4318"]).run([])
        expectConfigurationFailure(result, variable: "OTEL_EXPORTER_OTLP_ENDPOINT", containing: "expected an http(s) URL")
    }

    @Test func anUnwritableCodexHomeExits78NamingCODEX_HOME() throws {
        let result = try gateway(["CODEX_HOME": pathUnderAFile()]).run([])
        expectConfigurationFailure(result, variable: "CODEX_HOME", containing: "is a file, not a directory")
    }

    @Test func anUnwritableDatabaseDirectoryExits78NamingDATABASE_PATH() throws {
        let result = try gateway(["DATABASE_PATH": pathUnderAFile() + "/gateway.sqlite3"]).run([])
        expectConfigurationFailure(result, variable: "DATABASE_PATH", containing: "cannot be created")
    }

    @Test func anAPIKeyShorterThan32CharactersExits78NamingGATEWAY_API_KEY() throws {
        let result = try gateway(["GATEWAY_API_KEY": "your-secure-api-key-here"]).run([])
        expectConfigurationFailure(result, variable: "GATEWAY_API_KEY", containing: "at least 32")
    }
}
