import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A private CA and a certificate it signed for 127.0.0.1, made with the `openssl` command in a
/// temporary directory.
struct TestCertificates {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var certificateFile: String { directory + "/server.pem" }
    var keyFile: String { directory + "/server.key" }

    static func make() throws -> TestCertificates {
        let directory = TemporaryDirectory.make()
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=Gateway-Test-CA 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSFrontError.opensslFailed }
        return TestCertificates(directory: directory)
    }
}

enum TLSFrontError: Error { case opensslFailed }

/// TLS in front of a plain-TCP upstream on loopback: accepts TLS connections and copies the
/// decrypted bytes to a new connection to `upstreamPort`, and back.
final class TLSFront: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    static func start(certificates: TestCertificates, upstreamPort: Int) async throws -> TLSFront {
        let chain = try NIOSSLCertificate.fromPEMFile(certificates.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: certificates.keyFile, format: .pem)
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try child.pipeline.syncOperations.addHandler(Splicer(upstreamPort: upstreamPort))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TLSFront(port: channel.localAddress!.port!, channel: channel)
    }

    func close() async {
        try? await channel.close()
    }

    /// Connects to the upstream when a client connects, then copies bytes both ways.
    private final class Splicer: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let upstreamPort: Int
        var upstream: (any Channel)?

        init(upstreamPort: Int) { self.upstreamPort = upstreamPort }

        func channelActive(context: ChannelHandlerContext) {
            let client = NIOLoopBound(context, eventLoop: context.eventLoop)
            let downstream = context.channel
            ClientBootstrap(group: context.eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Back(downstream: downstream)) }
                }
                .connect(host: "127.0.0.1", port: upstreamPort)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        self.upstream = channel
                        client.value.read()
                    case .failure:
                        client.value.close(promise: nil)
                    }
                }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            upstream?.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.read()
        }

        func channelInactive(context: ChannelHandlerContext) {
            upstream?.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        /// The upstream's side: what it sends goes to the TLS client.
        final class Back: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            let downstream: any Channel
            init(downstream: any Channel) { self.downstream = downstream }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                downstream.writeAndFlush(unwrapInboundIn(data), promise: nil)
            }

            func channelInactive(context: ChannelHandlerContext) {
                downstream.close(promise: nil)
            }
        }
    }
}
