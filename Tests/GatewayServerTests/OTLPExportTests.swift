import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import ModelProvider
import NIOCore
import Synchronization
import Testing

/// OTLP export is process-wide (it bootstraps logging and tracing), so it is tested on the real
/// executable against a collector stand-in on loopback.
@Suite("OTLP export from the codex-gateway executable", .serialized)
struct OTLPExportTests {
    struct Export: Sendable {
        var path: String
        var contentType: String?
        var body: [UInt8]
    }

    static var executable: URL { GatewayExecutable.url }

    @Test func logsAndTracesReachTheCollectorOverOTLPHTTP() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable.path), "build the executable first: \(Self.executable.path)")
        let received = Mutex<[Export]>([])
        let router = Router()
        router.post("/v1/{signal}") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 22)
            received.withLock { $0.append(Export(path: request.uri.path, contentType: request.headers[.contentType], body: Array(body.readableBytesView))) }
            return .ok
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { collector in
            let collectorPort = try #require(collector.port)
            let home = TemporaryDirectory.make()
            let gatewayPort = Int.random(in: 20000..<40000)
            let process = Process()
            process.executableURL = Self.executable
            process.environment = [
                "PATH": "/usr/bin:/bin", "HOME": home, "CODEX_HOME": home, "HOST": "127.0.0.1", "PORT": String(gatewayPort),
                "GATEWAY_API_KEY": TestGateway.apiKey, "OPENAI_API_KEY": "sk-unused", "LOG_LEVEL": "info",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collectorPort)", "OTEL_SERVICE_NAME": "gateway-under-test",
                "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }

            // Wait for /health, then make an authenticated request that logs and is traced.
            var healthy = false
            for _ in 0..<100 where !healthy {
                healthy = (try? await Self.get("http://127.0.0.1:\(gatewayPort)/health")) == 200
                if !healthy { try await Task.sleep(for: .milliseconds(100)) }
            }
            try #require(healthy, "the gateway did not start")
            #expect(try await Self.get("http://127.0.0.1:\(gatewayPort)/whoami", apiKey: TestGateway.apiKey) == 200)

            process.terminate()  // SIGTERM: the exporters flush on the way out
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning && process.terminationStatus == 0)

            let exports = received.withLock { $0 }
            let logs = exports.filter { $0.path == "/v1/logs" }
            let traces = exports.filter { $0.path == "/v1/traces" }
            #expect(!logs.isEmpty && !traces.isEmpty, "got \(exports.map(\.path))")
            #expect(exports.allSatisfy { $0.contentType == "application/x-protobuf" })
            let logBytes = logs.flatMap(\.body)
            let traceBytes = traces.flatMap(\.body)
            // Protobuf keeps strings as UTF-8: the service name and the route show up verbatim.
            #expect(Self.contains(logBytes, "gateway-under-test"))
            #expect(Self.contains(logBytes, "/whoami"), "the access log line of the request was exported")
            #expect(Self.contains(traceBytes, "/whoami"), "the request's span was exported")
        }
    }

    static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    static func get(_ url: String, apiKey: String? = nil) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        if let apiKey { request.headers.add(name: "X-API-Key", value: apiKey) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(2))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}
