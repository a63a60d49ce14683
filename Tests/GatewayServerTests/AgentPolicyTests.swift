import Foundation
import GatewayServer
import Testing

@Suite("A turn's sandbox and approval policy: wire strings, the cap, and what each refusal answers")
struct AgentPolicyTests {
    @Test func modesPoliciesAndEnginesUseTheirWireStrings() throws {
        let encoded = try JSONEncoder().encode([SandboxMode.readOnly, .workspaceWrite, .dangerFullAccess])
        #expect(String(decoding: encoded, as: UTF8.self) == #"["read-only","workspace-write","danger-full-access"]"#)
        let policies = try JSONDecoder().decode([ApprovalPolicy].self, from: Data(#"["never","on-request","on-failure","untrusted"]"#.utf8))
        #expect(policies == [.never, .onRequest, .onFailure, .untrusted])
        #expect(try JSONDecoder().decode([EngineKind].self, from: Data(#"["codex","chat"]"#.utf8)) == [.codex, .chat])
    }

    @Test func sandboxModesAreOrderedFromReadOnlyToFullAccess() {
        #expect(SandboxMode.readOnly < .workspaceWrite)
        #expect(SandboxMode.workspaceWrite < .dangerFullAccess)
        #expect(SandboxMode.allCases.sorted() == [.readOnly, .workspaceWrite, .dangerFullAccess])
        #expect(SandboxMode.allCases.max() == .dangerFullAccess)
    }

    @Test func aRequestWithinTheCapGetsWhatItAsksAndOneAboveIsRefused() throws {
        #expect(try AgentPolicy.checkSandbox(.readOnly, default: .workspaceWrite, cap: .workspaceWrite) == .readOnly)
        #expect(try AgentPolicy.checkSandbox(.workspaceWrite, default: .readOnly, cap: .workspaceWrite) == .workspaceWrite)
        #expect(try AgentPolicy.checkSandbox(.dangerFullAccess, default: .readOnly, cap: .dangerFullAccess) == .dangerFullAccess)
        #expect(throws: TurnPolicyError.sandboxNotAllowed(requested: .dangerFullAccess, cap: .workspaceWrite)) {
            try AgentPolicy.checkSandbox(.dangerFullAccess, default: .readOnly, cap: .workspaceWrite)
        }
        #expect(throws: TurnPolicyError.sandboxNotAllowed(requested: .workspaceWrite, cap: .readOnly)) {
            try AgentPolicy.checkSandbox(.workspaceWrite, default: .readOnly, cap: .readOnly)
        }
    }

    @Test func withoutARequestTheDefaultAppliesLoweredToTheCap() throws {
        #expect(try AgentPolicy.checkSandbox(nil, default: .readOnly, cap: .workspaceWrite) == .readOnly)
        #expect(try AgentPolicy.checkSandbox(nil, default: .dangerFullAccess, cap: .workspaceWrite) == .workspaceWrite)
        #expect(try AgentPolicy.checkSandbox(nil, default: .workspaceWrite, cap: .readOnly) == .readOnly)
    }

    @Test func unknownSandboxOrApprovalStringsAreRefusedAndAbsentOnesAreNil() throws {
        #expect(try AgentPolicy.sandbox(nil) == nil)
        #expect(try AgentPolicy.sandbox("workspace-write") == .workspaceWrite)
        #expect(throws: TurnPolicyError.invalidSandbox("Workspace-Write")) { try AgentPolicy.sandbox("Workspace-Write") }
        #expect(try AgentPolicy.approvalPolicy(nil) == nil)
        #expect(try AgentPolicy.approvalPolicy("on-failure") == .onFailure)
        #expect(throws: TurnPolicyError.invalidApprovalPolicy("always")) { try AgentPolicy.approvalPolicy("always") }
    }

    @Test func eachRefusalHasItsHTTPStatusCodeJSONRPCCodeAndAClearSentence() {
        let workspace = TurnPolicyError.invalidWorkspace("'../x' contains a '..' component")
        #expect(workspace.gatewayError.status == .badRequest)
        #expect(workspace.code == "invalid_workspace")
        #expect(workspace.jsonRPCCode == -32602)
        #expect(workspace.message == "Invalid workspace: '../x' contains a '..' component.")

        let sandbox = TurnPolicyError.sandboxNotAllowed(requested: .dangerFullAccess, cap: .workspaceWrite)
        #expect(sandbox.gatewayError.status == .forbidden)
        #expect(sandbox.gatewayError.code == "sandbox_not_allowed")
        #expect(sandbox.jsonRPCCode == -32602)
        #expect(sandbox.message == "The sandbox 'danger-full-access' is not allowed on this gateway: the most it allows is 'workspace-write'.")

        let badSandbox = TurnPolicyError.invalidSandbox("full")
        #expect(badSandbox.gatewayError.status == .badRequest)
        #expect(badSandbox.code == "invalid_request")
        #expect(badSandbox.jsonRPCCode == -32602)
        #expect(badSandbox.message == "sandbox must be one of 'read-only', 'workspace-write' or 'danger-full-access', found 'full'.")

        let badPolicy = TurnPolicyError.invalidApprovalPolicy("always")
        #expect(badPolicy.gatewayError.status == .badRequest)
        #expect(badPolicy.code == "invalid_request")
        #expect(badPolicy.jsonRPCCode == -32602)
        #expect(badPolicy.message == "approval_policy must be one of 'never', 'on-request', 'on-failure' or 'untrusted', found 'always'.")

        let unavailable = TurnPolicyError.workspaceUnavailable("cannot create '/srv/ws/key_1': Permission denied")
        #expect(unavailable.gatewayError.status == .internalServerError)
        #expect(unavailable.code == "workspace_unavailable")
        #expect(unavailable.jsonRPCCode == -32603)
        #expect(!unavailable.message.contains("/srv/ws"), "the client is not told server paths")
        #expect(unavailable.description.contains("Permission denied"), "the log is")
    }
}
