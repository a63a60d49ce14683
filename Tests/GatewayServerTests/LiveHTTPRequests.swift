import AsyncHTTPClient
import Foundation
import NIOCore

/// One request to a live gateway on loopback, with an API key, through `HTTPClient.shared` (which,
/// unlike HummingbirdTesting's live client, runs requests side by side): for suites that drive
/// several protocols against the same server.
protocol LiveHTTPRequests {}

/// What came back: the status, the body as a JSON object (empty when it is not one), `Location`.
struct LiveReply {
    var status: UInt
    var json: [String: Any]
    var location: String?
}

extension LiveHTTPRequests {
    static func send(port: Int, _ method: String, _ path: String, _ body: String? = nil, key: String = TestGateway.apiKey) async throws -> LiveReply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .init(rawValue: method)
        request.headers.add(name: "X-API-Key", value: key)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any]) ?? [:]
        return LiveReply(status: response.status.code, json: json, location: response.headers.first(name: "Location"))
    }
}
