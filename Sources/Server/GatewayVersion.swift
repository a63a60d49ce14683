/// The gateway's version, reported by `/health` and `codex-gateway --version`.
public enum GatewayVersion {
    public static let current = "0.1.0"
}
