// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Tests keep ExistentialAny but not MemberImportVisibility: they read better without an import
/// for every module a helper's member comes from.
let testSwiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "codex-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "codex-gateway", targets: ["CodexGateway"]),
        .executable(name: "openapi-codegen", targets: ["openapi-codegen"]),
        .plugin(name: "CodegenPlugin", targets: ["CodegenPlugin"]),
    ],
    dependencies: [
        // HTTP server. The ConfigurationSupport trait is left off: we read our own configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        // WebSocket upgrade and frames on the same server.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // Already under hummingbird-websocket and Hummingbird; named because /ws's upgrade channel uses them directly.
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // The embedded store (webhook deliveries, OAuth clients, codes and tokens, API keys).
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        // The shared store when several replicas run (`DATABASE_URL=postgres://…`, issue #21): the
        // PostgreSQL wire protocol with a connection pool (PostgresClient, run as a Service), TLS
        // through swift-nio-ssl, already built. No ORM: a few SQL statements per store, as with SQLite.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // The model providers' HTTP client (streaming, retries, timeouts).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Under AsyncHTTPClient; named because provider TLS configures its trust roots.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.36.0"),
        // AsyncChannel: the WebSocket's outgoing messages, handed over with backpressure. Already
        // built for swift-service-lifecycle, so naming it costs no build time.
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        // Telemetry. swift-metrics and swift-distributed-tracing already come with Hummingbird; named
        // because the gateway records its own metrics and spans.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // GET /metrics in the Prometheus text format (small: swift-metrics + swift-atomics).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // OTLP export of logs and traces. Only the OTLP/HTTP trait: the default also enables OTLP/gRPC,
        // which pulls grpc-swift into every build (several minutes of CI) for a transport any collector
        // also offers over HTTP.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // The agent's child process (`codex app-server`): spawned in its own process group, its
        // stdio streamed with back-pressure, torn down SIGTERM-then-SIGKILL.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // MARK: Code generator (libyaml → OpenAPI model → Swift)
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        .target(
            name: "OpenAPICodegen",
            dependencies: ["CYAML"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "openapi-codegen",
            dependencies: ["OpenAPICodegen"],
            swiftSettings: swiftSettings
        ),
        .plugin(
            name: "CodegenPlugin",
            capability: .buildTool(),
            dependencies: ["openapi-codegen"]
        ),

        // MARK: Runtime that generated code calls (and the event-loop task executor the servers run on)
        .target(
            name: "GatewayRuntime",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The model providers: the only code that talks to a model vendor (one HTTP client,
        // AsyncHTTPClient; the Chat Completions and Responses wire types; the Responses↔Chat bridge)
        .target(
            name: "ModelProvider",
            dependencies: [
                "GatewayRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // Provider TLS: trust roots from SSL_CERT_FILE / SSL_CERT_DIR, and telling a TLS failure
                // apart. Already built for AsyncHTTPClient, so naming it costs no build time.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The agent: `codex app-server` (Codex's own core, JSON-RPC over stdio) as a supervised
        // child process, its protocol's typed messages, and nothing of HTTP
        .target(
            name: "CodexAppServer",
            dependencies: [
                "GatewayRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                // FilePath, in Subprocess' API; swift-system comes with it.
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            exclude: ["Protocol/schema"],
            swiftSettings: swiftSettings
        ),

        // MARK: Generated from openapi.yaml at build time
        .target(
            name: "GatewayAPI",
            dependencies: [
                "GatewayRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/Generated",
            swiftSettings: swiftSettings,
            plugins: ["CodegenPlugin"]
        ),

        // MARK: The product
        .target(
            name: "GatewayServer",
            dependencies: [
                "GatewayAPI",
                "GatewayRuntime",
                "ModelProvider",
                "CodexAppServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Server",
            // The browser console's files, compiled into the binary (`PackageResources`): the static
            // release binary copied alone, `swift run` and the image all serve them with nothing to
            // find on disk (ConsoleAssets).
            resources: [
                .embedInCode("Console/Assets/index.html"),
                .embedInCode("Console/Assets/console.css"),
                .embedInCode("Console/Assets/console.js"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CodexGateway",
            dependencies: [
                "GatewayServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/codex-gateway",
            swiftSettings: swiftSettings
        ),

        // MARK: A local stand-in for the model vendor (tests, benchmarks, trying the gateway offline)
        .target(
            name: "FakeOpenAI",
            dependencies: [
                "GatewayRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fake-openai",
            dependencies: ["FakeOpenAI", "GatewayRuntime", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(
            name: "OpenAPICodegenTests",
            dependencies: ["OpenAPICodegen"],
            exclude: ["Golden"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "ModelProviderTests",
            dependencies: [
                "ModelProvider",
                "GatewayRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "CodexAppServerTests",
            dependencies: [
                "CodexAppServer",
                "GatewayRuntime",
                // AppServerSchemaTests' digest of the generated schema bundle.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "GatewayServerTests",
            dependencies: [
                "GatewayServer",
                "ModelProvider",
                "CodexAppServer",
                "GatewayAPI",
                "GatewayRuntime",
                "FakeOpenAI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // A fresh database per PostgreSQL store test (PostgresTestSupport).
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: testSwiftSettings
        ),
    ]
)
