/// Whether Codex's command sandbox works on this host, as `SandboxProbe` found it.
public enum SandboxStatus: Sendable, Hashable {
    /// A command in the sandbox wrote inside its workspace and was refused a write outside it.
    case ok
    /// The sandbox does not work; `reason` is one line for an operator, naming the fix when it is known.
    case unavailable(reason: String)

    /// What `/ready` reports in its `sandbox` member: `"ok"` or the reason.
    public var readinessValue: String {
        switch self {
        case .ok: "ok"
        case .unavailable(let reason): reason
        }
    }
}
