import Foundation
import GatewayRuntime
import HTTPTypes

/// How far an agent's commands may reach (Codex's `sandbox_mode`), ordered from the most
/// restricted to the least, so a request can be compared with `GATEWAY_MAX_SANDBOX`.
public enum SandboxMode: String, Sendable, Codable, CaseIterable, Comparable {
    case readOnly = "read-only"
    case workspaceWrite = "workspace-write"
    case dangerFullAccess = "danger-full-access"

    public static func < (lhs: SandboxMode, rhs: SandboxMode) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// When Codex asks a person before it acts (Codex's `approval_policy`).
public enum ApprovalPolicy: String, Sendable, Codable, CaseIterable {
    case never
    case onRequest = "on-request"
    case onFailure = "on-failure"
    case untrusted
}

/// Which engine runs turns: `codex app-server` (the agent, with tools) or the built-in chat loop.
public enum EngineKind: String, Sendable, Codable, CaseIterable {
    case codex
    case chat
}

extension CaseIterable where Self: RawRepresentable, Self.RawValue == String {
    /// The wire strings, for messages: `'a', 'b' or 'c'`.
    static var wireChoices: String {
        let values = allCases.map { "'\($0.rawValue)'" }
        return values.dropLast().joined(separator: ", ") + " or " + values.last!
    }
}

/// Why a turn's `workspace`, `sandbox` or `approval_policy` is refused, with what each protocol answers:
/// ``gatewayError`` for the HTTP front ends (PROTOCOLS.md §0's envelope), ``jsonRPCCode`` and
/// ``message`` for JSON-RPC and the WebSocket.
public enum TurnPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The workspace name is not a relative name inside the principal's directory (400
    /// `invalid_workspace`); the reason names the name and what is wrong with it.
    case invalidWorkspace(String)
    /// The requested sandbox is above `GATEWAY_MAX_SANDBOX` (403 `sandbox_not_allowed`).
    case sandboxNotAllowed(requested: SandboxMode, cap: SandboxMode)
    /// `sandbox` is not one of the three modes (400 `invalid_request`); carries the value sent.
    case invalidSandbox(String)
    /// `approval_policy` is not one of the four policies (400 `invalid_request`); carries the value sent.
    case invalidApprovalPolicy(String)
    /// The workspace could not be created or checked on the server's disk (500
    /// `workspace_unavailable`); the associated detail is for the log, not the client.
    case workspaceUnavailable(String)

    /// A sentence for the client; never a server path.
    public var message: String {
        switch self {
        case .invalidWorkspace(let reason):
            "Invalid workspace: \(reason)."
        case .sandboxNotAllowed(let requested, let cap):
            "The sandbox '\(requested.rawValue)' is not allowed on this gateway: the most it allows is '\(cap.rawValue)'."
        case .invalidSandbox(let raw):
            "sandbox must be one of \(SandboxMode.wireChoices), found '\(raw)'."
        case .invalidApprovalPolicy(let raw):
            "approval_policy must be one of \(ApprovalPolicy.wireChoices), found '\(raw)'."
        case .workspaceUnavailable:
            "The workspace could not be prepared on the server."
        }
    }

    public var description: String {
        if case .workspaceUnavailable(let detail) = self { return "\(message) (\(detail))" }
        return message
    }

    public var status: HTTPResponse.Status {
        switch self {
        case .invalidWorkspace, .invalidSandbox, .invalidApprovalPolicy: .badRequest
        case .sandboxNotAllowed: .forbidden
        case .workspaceUnavailable: .internalServerError
        }
    }

    /// The envelope's `code`.
    public var code: String {
        switch self {
        case .invalidWorkspace: "invalid_workspace"
        case .sandboxNotAllowed: "sandbox_not_allowed"
        case .invalidSandbox, .invalidApprovalPolicy: "invalid_request"
        case .workspaceUnavailable: "workspace_unavailable"
        }
    }

    /// `-32602` (invalid params) for what the caller sent, `-32603` when the server failed.
    public var jsonRPCCode: Int {
        switch self {
        case .workspaceUnavailable: JSONRPCDispatcher.ErrorCode.internalError
        default: JSONRPCDispatcher.ErrorCode.invalidParams
        }
    }

    /// The HTTP answer: status, code and ``message``.
    public var gatewayError: GatewayError {
        GatewayError(status: status, code: code, message: message)
    }
}

/// The per-request checks of a turn's `sandbox` and `approval_policy` (PROTOCOLS.md §10).
public enum AgentPolicy {
    /// `raw` as a sandbox mode; nil when the request named none.
    public static func sandbox(_ raw: String?) throws(TurnPolicyError) -> SandboxMode? {
        guard let raw else { return nil }
        guard let mode = SandboxMode(rawValue: raw) else { throw .invalidSandbox(raw) }
        return mode
    }

    /// `raw` as an approval policy; nil when the request named none.
    public static func approvalPolicy(_ raw: String?) throws(TurnPolicyError) -> ApprovalPolicy? {
        guard let raw else { return nil }
        guard let policy = ApprovalPolicy(rawValue: raw) else { throw .invalidApprovalPolicy(raw) }
        return policy
    }

    /// The sandbox a turn runs in: `requested` when it is within `cap` (a request above it is
    /// refused), else `fallback` lowered to `cap` (a configured default never lifts the cap).
    public static func checkSandbox(_ requested: SandboxMode?, default fallback: SandboxMode, cap: SandboxMode) throws(TurnPolicyError)
        -> SandboxMode
    {
        guard let requested else { return min(fallback, cap) }
        guard requested <= cap else { throw .sandboxNotAllowed(requested: requested, cap: cap) }
        return requested
    }
}
