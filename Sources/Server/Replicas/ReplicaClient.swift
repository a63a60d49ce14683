import AsyncHTTPClient
import Foundation
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Sends a request that belongs to another replica there and hands its answer back as it comes
/// (an exec stream line by line, a long JSON-RPC turn when it ends), signed with
/// ``ReplicaSignature``. The client's own credentials travel with it: the home replica
/// authenticates, rate-limits and authorizes the request as if it had come straight to it.
///
/// Its own AsyncHTTPClient, apart from the model provider's: other replicas are on the private
/// network (no proxy, no outbound policy), and a turn's answer may take as long as the turn, so
/// there is no read timeout — a client that goes away cancels the forwarded request, which the
/// home replica sees as the connection closing (the turn is interrupted, as for a direct client).
final class ReplicaClient: Service {
    private let http: HTTPClient
    private let signature: @Sendable () throws -> ReplicaSignature
    private let logger: Logger

    /// How long a replica may take to accept the connection.
    static let connectTimeout: TimeAmount = .seconds(5)
    /// The longest a forwarded request may wait for its answer to begin.
    static let headDeadline: TimeAmount = .hours(24)

    init(signature: @escaping @Sendable () throws -> ReplicaSignature, logger: Logger) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: Self.connectTimeout, read: nil)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.signature = signature
        self.logger = logger
    }

    func run() async throws {
        try? await gracefulShutdown()
        try await http.shutdown()
    }

    /// Hop-by-hop fields (RFC 9110 §7.6.1) and those the new request sets itself.
    private static let notForwarded: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
        "upgrade", "host", "content-length", ReplicaSignature.headerName.canonicalName,
        ReplicaSignature.clientAddressHeader.canonicalName, ReplicaSignature.principalHeader.canonicalName,
    ]

    /// `request` (its body already collected into `body`) sent to the replica at `replicaURL`,
    /// with the address its client connected from; 503 `replica_unavailable` with Retry-After when
    /// that replica does not answer.
    func forward(_ request: Request, body: ByteBuffer, to replicaURL: String, context: GatewayRequestContext) async throws -> Response {
        var headers = HTTPHeaders()
        for field in request.headers where !Self.notForwarded.contains(field.name.canonicalName) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        let assertions = ReplicaSignature.Assertions(clientAddress: context.channel.remoteAddress?.ipAddress)
        let response = try await send(
            HTTPMethod(rawValue: request.method.rawValue), request.uri.description, headers: headers, body: body,
            assertions: assertions, to: replicaURL, requestID: context.requestID, logger: context.logger)
        var fields = HTTPFields()
        for header in response.headers where !Self.notForwarded.contains(header.name.lowercased()) {
            guard let name = HTTPField.Name(header.name) else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        if let length = response.headers.first(name: "content-length") {
            fields[.contentLength] = length
        }
        return Response(
            status: HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase),
            headers: fields,
            body: ResponseBody(asyncSequence: response.body)
        )
    }

    /// A request of this replica's own to the replica at `replicaURL` (a turn, a cancel, an approval
    /// answer for a conversation homed there), signed with `assertions`; its answer as it begins.
    /// 503 `replica_unavailable` when that replica does not answer.
    func send(
        _ method: HTTPMethod, _ target: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
        assertions: ReplicaSignature.Assertions, to replicaURL: String, requestID: String?, logger: Logger
    ) async throws -> HTTPClientResponse {
        var outgoing = HTTPClientRequest(url: replicaURL + target)
        outgoing.method = method
        outgoing.headers = headers
        let signed = try signature().sign(method: HTTPRequest.Method(rawValue: method.rawValue)!, target: target, assertions: assertions)
        outgoing.headers.replaceOrAdd(name: ReplicaSignature.headerName.rawName, value: signed)
        if let address = assertions.clientAddress { outgoing.headers.replaceOrAdd(name: ReplicaSignature.clientAddressHeader.rawName, value: address) }
        if let principal = assertions.principal { outgoing.headers.replaceOrAdd(name: ReplicaSignature.principalHeader.rawName, value: principal) }
        if let requestID { outgoing.headers.replaceOrAdd(name: "X-Request-ID", value: requestID) }
        if let body, body.readableBytes > 0 || method == .POST {
            outgoing.body = .bytes(body)
        }
        do {
            return try await http.execute(outgoing, deadline: .now() + Self.headDeadline, logger: self.logger)
        } catch {
            logger.warning(
                "replica.forward_failed", metadata: ["replica.url": .string(replicaURL), "error.message": .string(String(describing: error))])
            throw Self.unavailable(replicaURL)
        }
    }

    /// The conversation's home replica does not answer: it may be restarting. Workspaces are on
    /// that replica's disk, so the conversation waits for it rather than moving.
    static func unavailable(_ replicaURL: String) -> GatewayError {
        var headers = HTTPFields()
        headers[.retryAfter] = "30"
        return GatewayError(
            status: .serviceUnavailable, code: "replica_unavailable",
            message: "This conversation lives on the gateway replica at \(replicaURL), which does not answer; its workspace is there. Retry when it is back.",
            headers: headers
        )
    }
}
