import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ModelProvider
import NIOCore
import NIOPosix

/// A gateway built from an environment dictionary, with a throwaway `CODEX_HOME`.
struct TestGateway {
    static let apiKey = "test-key-0123456789abcdef0123456789"

    var environment: [String: String]
    /// The model turns talk to instead of the configured provider (``InMemoryModelClient``).
    var modelClient: (any ModelClient)?

    init(_ overrides: [String: String] = [:], modelClient: (any ModelClient)? = nil) {
        self.modelClient = modelClient
        var environment = [
            "HOST": "127.0.0.1",
            "PORT": "0",
            "GATEWAY_API_KEY": Self.apiKey,
            "CODEX_HOME": TemporaryDirectory.make(),
        ]
        environment.merge(overrides) { _, new in new }
        self.environment = environment
    }

    func configuration() throws -> GatewayConfiguration {
        try GatewayConfiguration.load(environment: Environment(environment))
    }

    func application() async throws -> some ApplicationProtocol {
        try await buildApplication(configuration: try configuration(), logger: Self.quietLogger, modelClient: modelClient)
    }

    /// Runs `body` against the router, without a socket.
    func withRouter(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await application().test(.router, body)
    }

    /// Runs `body` against a real server on a loopback port.
    func withLiveServer(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await application().test(.live, body)
    }

    static let quietLogger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()
}

enum TemporaryDirectory {
    static func make() -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("codex-gateway-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] ?? [:]
    }
}

extension HTTPFields {
    static func apiKey(_ key: String = TestGateway.apiKey) -> HTTPFields {
        [HTTPField.Name("X-API-Key")!: key]
    }

    static func bearer(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)"]
    }
}

/// A plain TCP connection to a server on loopback, as bytes both ways: for tests that must see
/// exactly what goes over the wire.
func rawConnection(port: Int, from source: String? = nil) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
    var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    // Another loopback address (127.0.0.2…) as the client's, for what is kept per address.
    if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
    return try await bootstrap
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
}
