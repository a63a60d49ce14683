import CodexAppServer
import Logging
import ServiceLifecycle
import Synchronization

/// Runs Codex's sandbox once at startup (``SandboxProbe``) and keeps the answer for `/ready`.
final class SandboxSelfTest: Service, Sendable {
    let probe: SandboxProbe
    private let logger: Logger
    private let status = Mutex<SandboxStatus?>(nil)

    init(probe: SandboxProbe, logger: Logger) {
        self.probe = probe
        self.logger = logger
    }

    /// `ok`, why the sandbox does not work, or that the self-test has not finished.
    var readinessValue: String {
        status.withLock { $0?.readinessValue } ?? "checking (the self-test runs at startup)"
    }

    /// Whether the self-test found the sandbox working (false while it runs).
    var isWorking: Bool { status.withLock { $0 == .ok } }

    func run() async throws {
        let result = await probe.run()
        status.withLock { $0 = result }
        switch result {
        case .ok: logger.info("sandbox self-test passed")
        case .unavailable(let reason):
            logger.error("sandbox self-test failed: commands cannot be sandboxed", metadata: ["sandbox.reason": .string(reason)])
        }
        try? await gracefulShutdown()
    }
}
