import CodexAppServer
import Foundation
import GatewayServer
import Testing

@Suite("The agent engine's configuration: engine, Codex binary, workspaces, sandbox, approvals, turn limits")
struct AgentConfigurationTests {
    func load(_ variables: [String: String], configToml: String? = nil) throws -> GatewayConfiguration {
        let home = TemporaryDirectory.make()
        if let configToml { try configToml.write(toFile: home + "/config.toml", atomically: true, encoding: .utf8) }
        var environment = ["CODEX_HOME": home]
        environment.merge(variables) { _, new in new }
        return try GatewayConfiguration.load(environment: Environment(environment))
    }

    func expectError(
        _ variables: [String: String], configToml: String? = nil, key: String, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(sourceLocation: sourceLocation) {
            _ = try load(variables, configToml: configToml)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.message.contains(fragment)
        }
    }

    /// A directory holding an executable `codex` (a shell script that does nothing).
    func directoryWithCodex() throws -> String {
        let directory = TemporaryDirectory.make()
        let path = directory + "/codex"
        try "#!/bin/sh\nexit 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return directory
    }

    @Test func withoutACodexBinaryTheChatEngineRunsAndSaysWhy() throws {
        let configuration = try load([:])
        let agent = configuration.agent
        #expect(agent.engine == .chat)
        #expect(agent.engineReason == "no Codex binary (CODEX_BIN unset, no codex on PATH)")
        #expect(agent.codexBinary == nil)
        #expect(agent.workspacesRoot == configuration.codexHome + "/workspaces")
        #expect(agent.maxSandbox == .workspaceWrite)
        #expect(agent.defaultSandbox == .workspaceWrite)
        #expect(agent.defaultApprovalPolicy == .onRequest)
        #expect(agent.approvalTimeout == .seconds(600))
        #expect(agent.maxConcurrentTurns == 32)
        #expect(agent.turnTimeout == .seconds(1800))
    }

    @Test func aCodexOnPATHMakesCodexTheDefaultEngineUnlessChatIsChosen() throws {
        let directory = try directoryWithCodex()
        let found = try load(["PATH": "/nonexistent:\(directory)"]).agent
        #expect(found.engine == .codex)
        #expect(found.engineReason == "Codex binary found on PATH")
        #expect(found.codexBinary?.path == directory + "/codex")

        let chosen = try load(["PATH": directory, "GATEWAY_ENGINE": "chat"]).agent
        #expect(chosen.engine == .chat)
        #expect(chosen.engineReason == "GATEWAY_ENGINE=chat")
        #expect(chosen.codexBinary?.path == directory + "/codex")
    }

    @Test func codexBinNamesTheProgramAndWinsOverPATH() throws {
        let named = try directoryWithCodex() + "/codex"
        let agent = try load(["CODEX_BIN": named, "PATH": try directoryWithCodex()]).agent
        #expect(agent.engine == .codex)
        #expect(agent.engineReason == "Codex binary found (CODEX_BIN)")
        #expect(agent.codexBinary?.path == named)
        #expect(try load(["CODEX_BIN": named, "GATEWAY_ENGINE": "codex"]).agent.engineReason == "GATEWAY_ENGINE=codex")
    }

    @Test func engineAndCodexBinErrorsNameTheirVariable() throws {
        expectError(["GATEWAY_ENGINE": "codex"], key: "GATEWAY_ENGINE", containing: "no Codex binary was found")
        expectError(["GATEWAY_ENGINE": "rust"], key: "GATEWAY_ENGINE", containing: "expected 'codex' or 'chat', found 'rust'")
        let directory = TemporaryDirectory.make()
        let plain = directory + "/codex"
        try "not a program".write(toFile: plain, atomically: true, encoding: .utf8)
        expectError(["CODEX_BIN": plain], key: "CODEX_BIN", containing: "is not an executable file")
        expectError(["CODEX_BIN": directory], key: "CODEX_BIN", containing: "is not an executable file")
        expectError(["CODEX_BIN": directory + "/missing"], key: "CODEX_BIN", containing: "does not exist")
        expectError(["CODEX_BIN": "codex"], key: "CODEX_BIN", containing: "absolute path")
        expectError(["CODEX_BIN": plain, "GATEWAY_ENGINE": "chat"], key: "CODEX_BIN", containing: "is not an executable file")
    }

    @Test func workspacesRootIsAbsoluteAndNotAFile() throws {
        let root = TemporaryDirectory.make() + "/spaces/../ws"
        #expect(try load(["WORKSPACES_ROOT": root]).agent.workspacesRoot == URL(fileURLWithPath: root).standardized.path)
        expectError(["WORKSPACES_ROOT": "relative/ws"], key: "WORKSPACES_ROOT", containing: "absolute path")
        let file = TemporaryDirectory.make() + "/file"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        expectError(["WORKSPACES_ROOT": file], key: "WORKSPACES_ROOT", containing: "is not a directory")
        let relativeHome = try load(["CODEX_HOME": "relative-codex-home-\(UUID().uuidString)"])
        #expect(relativeHome.agent.workspacesRoot == FileManager.default.currentDirectoryPath + "/" + relativeHome.codexHome + "/workspaces")
    }

    @Test func sandboxCapAndTurnLimitsAreReadAndBadValuesNameTheirVariable() throws {
        let agent = try load([
            "GATEWAY_MAX_SANDBOX": "read-only", "APPROVAL_TIMEOUT_SECONDS": "0.5", "MAX_CONCURRENT_TURNS": "4", "TURN_TIMEOUT_SECONDS": "90",
        ]).agent
        #expect(agent.maxSandbox == .readOnly)
        #expect(agent.approvalTimeout == .milliseconds(500))
        #expect(agent.maxConcurrentTurns == 4)
        #expect(agent.turnTimeout == .seconds(90))
        expectError(["GATEWAY_MAX_SANDBOX": "full"], key: "GATEWAY_MAX_SANDBOX", containing: "'read-only', 'workspace-write' or 'danger-full-access'")
        expectError(["APPROVAL_TIMEOUT_SECONDS": "0"], key: "APPROVAL_TIMEOUT_SECONDS", containing: "positive number of seconds")
        expectError(["MAX_CONCURRENT_TURNS": "0"], key: "MAX_CONCURRENT_TURNS", containing: "from 1 to 100000")
        expectError(["TURN_TIMEOUT_SECONDS": "soon"], key: "TURN_TIMEOUT_SECONDS", containing: "positive number of seconds")
    }

    @Test func configTomlSetsTheSandboxAndApprovalDefaultsAndTheCapLowersThem() throws {
        let agent = try load([:], configToml: "sandbox_mode = \"danger-full-access\"\napproval_policy = \"never\"\n").agent
        #expect(agent.defaultSandbox == .dangerFullAccess)
        #expect(agent.defaultApprovalPolicy == .never)
        #expect(try agent.sandbox(for: nil) == .workspaceWrite)
        #expect(agent.approvalPolicy(for: nil) == .never)
        #expect(agent.approvalPolicy(for: .untrusted) == .untrusted)
        #expect(throws: TurnPolicyError.sandboxNotAllowed(requested: .dangerFullAccess, cap: .workspaceWrite)) {
            try agent.sandbox(for: .dangerFullAccess)
        }
        let uncapped = try load(["GATEWAY_MAX_SANDBOX": "danger-full-access"], configToml: "sandbox_mode = \"danger-full-access\"\n").agent
        #expect(try uncapped.sandbox(for: nil) == .dangerFullAccess)
    }

    @Test func badSandboxOrApprovalValuesInConfigTomlNameTheKeyAndTheFile() throws {
        func expectTOMLError(_ text: String, key: String, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) {
                _ = try load([:], configToml: text)
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.key == key && error.source.hasSuffix("/config.toml") && error.message.contains(fragment)
            }
        }
        expectTOMLError("sandbox_mode = \"full\"\n", key: "sandbox_mode", containing: "expected 'read-only', 'workspace-write' or 'danger-full-access', found 'full'")
        expectTOMLError("approval_policy = \"ask\"\n", key: "approval_policy", containing: "'never', 'on-request', 'on-failure' or 'untrusted'")
        expectTOMLError("approval_policy = 1\n", key: "approval_policy", containing: "expected a string")
    }

    @Test func theConfigurationReportShowsTheEngineWithItsReasonAndTheAgentDefaultsWithTheirSource() throws {
        let home = TemporaryDirectory.make()
        try "approval_policy = \"untrusted\"\n".write(toFile: home + "/config.toml", atomically: true, encoding: .utf8)
        let environment = Environment(["CODEX_HOME": home, "GATEWAY_MAX_SANDBOX": "read-only"])
        let report = ConfigurationReport(configuration: try GatewayConfiguration.load(environment: environment), environment: environment)
        func entry(_ name: String) -> ConfigurationReport.Entry? { report.entries.first { $0.name == name } }
        #expect(entry("GATEWAY_ENGINE")?.value == "chat (no Codex binary (CODEX_BIN unset, no codex on PATH))")
        #expect(entry("CODEX_BIN")?.value == "unset (no codex on PATH)")
        #expect(entry("WORKSPACES_ROOT")?.value == home + "/workspaces")
        #expect(entry("GATEWAY_MAX_SANDBOX")?.value == "read-only")
        #expect(entry("GATEWAY_MAX_SANDBOX")?.source == "environment")
        #expect(entry("MAX_CONCURRENT_TURNS")?.value == "32")
        #expect(entry("approval_policy")?.value == "untrusted")
        #expect(entry("approval_policy")?.source == home + "/config.toml")
        #expect(entry("sandbox_mode")?.value == "workspace-write")
        #expect(entry("sandbox_mode")?.source == "default")
    }
}
