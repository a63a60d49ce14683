import Foundation
import GatewayServer
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An https server on one loopback address answering every request with one fixed JSON body:
/// a client ID metadata document's host. It counts the connections it accepted and the requests
/// it answered, so a test can tell a connection the gateway dropped by policy from one never made.
final class MetadataDocumentServer: Sendable {
    let port: Int
    let host: String
    private let channel: any Channel
    private let counts: Counts

    final class Counts: Sendable {
        let connections = Mutex(0)
        let requests = Mutex(0)
    }

    var connections: Int { counts.connections.withLock { $0 } }
    var requests: Int { counts.requests.withLock { $0 } }

    private init(port: Int, host: String, channel: any Channel, counts: Counts) {
        self.port = port
        self.host = host
        self.channel = channel
        self.counts = counts
    }

    /// Serves `body(port)` (the document usually names its own URL, which holds the port).
    static func start(certificates: TestCertificates, host: String = "127.0.0.1", body: @escaping @Sendable (Int) -> String) async throws
        -> MetadataDocumentServer
    {
        let chain = try NIOSSLCertificate.fromPEMFile(certificates.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: certificates.keyFile, format: .pem)
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        let counts = Counts()
        let port = Mutex(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                counts.connections.withLock { $0 += 1 }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try child.pipeline.syncOperations.addHandler(Responder(counts: counts, body: { body(port.withLock { $0 }) }))
                }
            }
            .bind(host: host, port: 0).get()
        let bound = channel.localAddress!.port!
        port.withLock { $0 = bound }
        return MetadataDocumentServer(port: bound, host: host, channel: channel, counts: counts)
    }

    func close() async {
        try? await channel.close()
    }

    /// Reads a request head, answers it and closes.
    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let counts: Counts
        let body: @Sendable () -> String
        var received = ""

        init(counts: Counts, body: @escaping @Sendable () -> String) {
            self.counts = counts
            self.body = body
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readString(length: buffer.readableBytes) ?? ""
            guard received.contains("\r\n\r\n") else { return }
            counts.requests.withLock { $0 += 1 }
            let text = body()
            let response =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n\(text)"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

enum LoopbackName {
    /// A host name other than `localhost` that resolves to a loopback address here (the
    /// machine's own name usually does, in /etc/hosts), and that address.
    static func find() -> (name: String, address: String)? {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        let own = String(cString: buffer)
        for name in [own, "ip6-localhost", "ip6-loopback"] where !name.isEmpty && name.lowercased() != "localhost" {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { continue }
            defer { freeaddrinfo(result) }
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let info = entry {
                defer { entry = info.pointee.ai_next }
                guard let socketAddress = info.pointee.ai_addr else { continue }
                var address: SocketAddress?
                if info.pointee.ai_family == AF_INET {
                    address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: name) }
                } else if info.pointee.ai_family == AF_INET6 {
                    address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: name) }
                }
                if let address, let ip = address.ipAddress, OutboundAddress(address)?.restriction == "loopback" {
                    return (name, ip)
                }
            }
        }
        return nil
    }
}
