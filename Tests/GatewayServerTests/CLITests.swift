import FakeOpenAI
import Foundation
@testable import GatewayServer
import ModelProvider
import Testing

/// The `codex-gateway` subcommands an operator runs beside the server: `config`, `doctor`, `keys`
/// and `oauth-clients`, each against a throwaway `CODEX_HOME`.
@Suite("codex-gateway commands")
struct CLITests {
    static let environmentKey = String(repeating: "e", count: 40)

    func cli(_ overrides: [String: String] = [:]) -> GatewayExecutable {
        var environment = ["CODEX_HOME": TemporaryDirectory.make(), "GATEWAY_API_KEY": Self.environmentKey]
        environment.merge(overrides) { _, new in new }
        return GatewayExecutable(environment: environment)
    }

    /// The stdout line of `name` in `config`'s output, split on runs of spaces.
    func configRow(_ output: String, _ name: String) -> [String]? {
        output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == name }
    }

    @Test func configPrintsEveryVariableWithItsValueAndSourceAndMasksSecrets() throws {
        let executable = cli(["WEBHOOK_SECRET": "a-webhook-secret-that-must-not-show"])
        try "PORT=9000\r\nLOG_FORMAT=text\r\n".write(toFile: executable.directory + "/.env", atomically: true, encoding: .utf8)
        let result = try executable.run(["config"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(configRow(result.stdout, "PORT") == ["PORT", "9000", "[.env]"], "a CRLF .env is read without its \\r")
        #expect(configRow(result.stdout, "LOG_FORMAT") == ["LOG_FORMAT", "text", "[.env]"])
        #expect(configRow(result.stdout, "HOST") == ["HOST", "0.0.0.0", "[default]"])
        #expect(configRow(result.stdout, "PUBLIC_BASE_URL") == ["PUBLIC_BASE_URL", "http://localhost:9000", "[default]"])
        #expect(configRow(result.stdout, "GATEWAY_API_KEY") == ["GATEWAY_API_KEY", "set", "(1", "value)", "[environment]"])
        #expect(!result.stdout.contains(Self.environmentKey) && !result.stdout.contains("a-webhook-secret-that-must-not-show"))
        #expect(configRow(result.stdout, "OPENAI_API_KEY") == ["OPENAI_API_KEY", "unset", "[default]"])
        #expect(configRow(result.stdout, "model") == ["model", "gpt-4o", "[default]"])
        for name in ConfigurationReport.variableNames {
            #expect(configRow(result.stdout, name) != nil, "\(name) is listed")
        }
    }

    @Test func configListsEveryVariableOfTheREADMEsTable() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let table = try #require(text.components(separatedBy: "### Environment variables").dropFirst().first?.components(separatedBy: "\n\n").dropFirst().first)
        let names = table.split(separator: "\n").dropFirst(2).compactMap { row -> String? in
            let cell = row.split(separator: "|").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard cell.hasPrefix("`") else { return nil }
            return String(cell.dropFirst().prefix { $0 != "`" })
        }
        #expect(names.count > 20)
        #expect(Set(names).subtracting(["OPENAI_API_KEY"]) == Set(ConfigurationReport.variableNames))
    }

    @Test func doctorPassesAgainstAReachableProviderAndFailsWhenItIsDown() async throws {
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake)
            let executable = GatewayExecutable(environment: setup.gateway.environment.filter { $0.key != "PORT" && $0.key != "HOST" })
            let passing = try executable.run(["doctor", "--timeout", "5"])
            #expect(passing.status == 0, "stdout: \(passing.stdout) stderr: \(passing.stderr)")
            let lines = passing.stdout.split(separator: "\n")
            #expect(lines.count >= 7 && lines.allSatisfy { $0.hasPrefix("ok   ") }, "\(passing.stdout)")
            #expect(passing.stdout.contains("ok   provider fake: GET \(fake.baseURL)/models answered 200"))

            await fake.shutdown()
            let failing = try executable.run(["doctor", "--timeout", "5"])
            #expect(failing.status != 0)
            #expect(failing.stdout.contains("FAIL provider fake: GET \(fake.baseURL)/models failed"), "\(failing.stdout)")
        }
    }

    /// With `DATABASE_URL` the doctor checks PostgreSQL, not the SQLite file: it connects, says how
    /// many migrations are applied without applying any, hides the password, and fails clearly on
    /// a wrong password or a server that is not there.
    @Test func doctorChecksTheDatabaseOfDATABASE_URLWithoutMigratingIt() async throws {
        guard let server = try PostgresTestServer.require() else { return }
        let database = try await PostgresTestServer.freshDatabase(on: server)
        try await withFakeUpstream { fake in
            let setup = try CodexTestSetup.make(fake: fake, environment: ["DATABASE_URL": database.urlString])
            let executable = GatewayExecutable(environment: setup.gateway.environment.filter { $0.key != "PORT" && $0.key != "HOST" })
            let known = PostgresMigrations.versions.count
            let shown = "postgres://\(database.user):***@\(database.host):\(database.port)/\(database.database)?sslmode=disable"

            let fresh = try executable.run(["doctor", "--timeout", "5"])
            #expect(fresh.status == 0, "stdout: \(fresh.stdout) stderr: \(fresh.stderr)")
            #expect(fresh.stdout.contains("ok   DATABASE_URL: \(shown) answers (PostgreSQL 15"), "\(fresh.stdout)")
            #expect(fresh.stdout.contains("migrations: none applied yet (the gateway applies all \(known) when it starts)"), "\(fresh.stdout)")
            #expect(!fresh.stdout.contains("DATABASE_PATH") && !fresh.stdout.contains(":gateway@"), "\(fresh.stdout)")
            #expect(!FileManager.default.fileExists(atPath: setup.codexHome + "/gateway.sqlite3"), "no SQLite file is made")
            // Nothing was migrated by the doctor: the next look still finds none.
            #expect(try executable.run(["doctor", "--timeout", "5"]).stdout.contains("migrations: none applied yet"))

            // Once the gateway (here: its stores) has started on it, every migration is there.
            let stores = try GatewayStores.open(configuration: try setup.gateway.configuration(), logger: TestGateway.quietLogger)
            try await stores.waitUntilReady(timeout: .seconds(20))
            try await stores.close()
            let migrated = try executable.run(["doctor", "--timeout", "5"])
            #expect(migrated.status == 0)
            #expect(migrated.stdout.contains("ok   DATABASE_URL: \(shown) answers (PostgreSQL 15"), "\(migrated.stdout)")
            #expect(migrated.stdout.contains("migrations: all \(known) applied"), "\(migrated.stdout)")

            var wrongPassword = database
            wrongPassword.password = "not-the-password"
            var environment = executable.environment
            environment["DATABASE_URL"] = wrongPassword.urlString
            let refused = try GatewayExecutable(environment: environment).run(["doctor", "--timeout", "5"])
            #expect(refused.status == 1)
            #expect(refused.stdout.contains("FAIL DATABASE_URL: cannot use \(shown): "), "\(refused.stdout)")
            #expect(refused.stdout.contains("password authentication failed"), "\(refused.stdout)")
            #expect(!refused.stdout.contains("not-the-password"))

            environment["DATABASE_URL"] = "postgres://gateway:gateway@127.0.0.1:\(try ReplicaForwardingTests.freePort())/x?sslmode=disable"
            let started = ContinuousClock.now
            let absent = try GatewayExecutable(environment: environment).run(["doctor", "--timeout", "5"])
            #expect(absent.status == 1)
            #expect(absent.stdout.contains("FAIL DATABASE_URL: cannot use postgres://gateway:***@127.0.0.1:"), "\(absent.stdout)")
            #expect(ContinuousClock.now - started < .seconds(20), "a server that is not there fails fast")
        }
    }

    @Test func doctorFailsNamingTheMissingProviderKeyAndAnUnwritableHome() throws {
        let file = TemporaryDirectory.make() + "/a-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        let result = try cli(["CODEX_HOME": file, "GATEWAY_API_KEY": ""]).run(["doctor", "--timeout", "0.5"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL CODEX_HOME: \(file) is a file, not a directory"), "\(result.stdout)")
        #expect(result.stdout.contains("FAIL provider key: The model provider 'OpenAI' needs the environment variable OPENAI_API_KEY"))
        #expect(result.stdout.contains("FAIL GATEWAY_API_KEY: not set"))
    }

    @Test func keysLimitsChangesOnlyTheLimitsItIsGiven() throws {
        let executable = cli()
        let created = try executable.run(["keys", "create", "--name", "ci", "--per-minute", "5", "--per-hour", "50"])
        #expect(created.status == 0)
        #expect(created.stdout.trimmingCharacters(in: .whitespacesAndNewlines).count >= GatewayConfiguration.minimumAPIKeyLength)
        let id = try #require(created.stderr.split(separator: " ").first { $0.hasPrefix("key_") }.map(String.init))
        let changed = try executable.run(["keys", "limits", id, "--per-day", "7"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stdout == "\(id): 5/min 50/h 7/day.\n")
        let reset = try executable.run(["keys", "limits", id, "--reset", "--concurrent-turns", "2"])
        #expect(reset.stdout == "\(id): 2 turns.\n")
    }

    @Test func negativeLimitsGetAClearError() throws {
        let result = try cli().run(["keys", "create", "--per-minute", "-5"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--per-minute must be 0 (unlimited) or more, not -5"), "\(result.stderr)")
    }

    @Test func keysListShowsTheKeysOfGATEWAY_API_KEYByFingerprint() async throws {
        let executable = cli()
        let result = try executable.run(["keys", "list"])
        #expect(result.status == 0)
        let database = try GatewayDatabase(path: try #require(executable.environment["CODEX_HOME"]) + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        let fingerprint = database.fingerprinter.fingerprint(ofKey: Self.environmentKey)
        try await database.close()
        #expect(result.stdout == "\(fingerprint)\tGATEWAY_API_KEY\tfrom the environment\tactive\tdefault limits\n")
    }

    @Test func everyDatabaseCommandSaysWhichDatabaseOnStderr() throws {
        let executable = cli()
        let database = try #require(executable.environment["CODEX_HOME"]) + "/gateway.sqlite3"
        for arguments in [["keys", "list"], ["keys", "create"], ["keys", "revoke", "key_000000000000"], ["oauth-clients", "list"]] {
            let result = try executable.run(arguments)
            #expect(result.stderrLines.first == "codex-gateway: database \(database)", "\(arguments): \(result.stderr)")
            #expect(!result.stdout.contains(database))
        }
    }

    @Test func addingAnExistingOAuthClientIsAnErrorUnlessReplaced() throws {
        let executable = cli()
        #expect(try executable.run(["oauth-clients", "add", "--id", "app", "--redirect-uri", "https://app.example/cb"]).status == 0)
        let again = try executable.run(["oauth-clients", "add", "--id", "app", "--redirect-uri", "https://app.example/other"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("A client app already exists; add --replace to replace it."))
        let replaced = try executable.run(["oauth-clients", "add", "--id", "app", "--redirect-uri", "https://app.example/other", "--replace"])
        #expect(replaced.status == 0)
        #expect(try executable.run(["oauth-clients", "list"]).stdout.contains("https://app.example/other"))
    }

    @Test func weakClientSecretsAndPlainHTTPRedirectsToOtherMachinesAreRefused() throws {
        let executable = cli()
        let weak = try executable.run(["oauth-clients", "add", "--id", "app", "--secret", "short-secret"])
        #expect(weak.status != 0)
        #expect(weak.stderr.contains("--secret has 12 characters; at least 32 are required"))
        let plain = try executable.run(["oauth-clients", "add", "--id", "app", "--redirect-uri", "http://app.example/cb"])
        #expect(plain.status != 0)
        #expect(plain.stderr.contains("plain http to another machine"))
        for uri in ["http://127.0.0.1:8765/cb", "http://[::1]:8765/cb", "http://localhost/cb"] {
            let loopback = try executable.run(["oauth-clients", "add", "--id", "app", "--replace", "--redirect-uri", uri])
            #expect(loopback.status == 0, "\(uri): \(loopback.stderr)")
        }
    }
}
