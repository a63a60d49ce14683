extension AppServer {
    /// The sandbox a thread runs its commands in (`thread/start`'s `sandbox`).
    public enum SandboxMode: String, Hashable, Sendable, Codable, CaseIterable {
        case readOnly = "read-only"
        case workspaceWrite = "workspace-write"
        case dangerFullAccess = "danger-full-access"
    }
}
