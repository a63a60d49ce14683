// swift-tools-version:6.1
// The benchmark's load client: its own package so that it builds in about a minute, apart from
// the gateway's dependency graph. SwiftNIO only; no Foundation.
import PackageDescription

let package = Package(
    name: "LoadClient",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")
    ],
    targets: [
        .executableTarget(
            name: "load-client",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            // Channel handlers live on one event loop; the Swift 6 Sendable checks add nothing here.
            swiftSettings: [.swiftLanguageMode(.v5)]
        )
    ]
)
