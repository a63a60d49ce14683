import FakeOpenAI
import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("A /metrics scrape of a live server", .serialized)
struct MetricsScrapeTests {
    /// A scrape as families: name → its HELP, its TYPE and its sample lines.
    struct Scrape {
        var help: [String: String] = [:]
        var type: [String: String] = [:]
        var samples: [String: [String]] = [:]
        var text: String

        init(_ text: String) {
            self.text = text
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 3)
                if line.hasPrefix("# HELP "), parts.count >= 3 {
                    help[String(parts[2])] = parts.count > 3 ? String(parts[3]) : ""
                } else if line.hasPrefix("# TYPE "), parts.count == 4 {
                    type[String(parts[2])] = String(parts[3])
                } else if !line.hasPrefix("#") {
                    let name = String(line.prefix { $0 != "{" && $0 != " " })
                    samples[Self.family(of: name, in: type), default: []].append(String(line))
                }
            }
        }

        /// A histogram's `_bucket`, `_sum` and `_count` samples belong to its family.
        static func family(of name: String, in types: [String: String]) -> String {
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                let base = String(name.dropLast(suffix.count))
                if types[base] == "histogram" { return base }
            }
            return name
        }

        func value(_ series: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
    }

    static func scrape(_ client: some TestClientProtocol) async throws -> Scrape {
        let response = try await client.execute(uri: "/metrics", method: .get, headers: .apiKey())
        #expect(response.status == .ok)
        return Scrape(response.text)
    }

    @Test func everyFamilyHasHelpAndTypeAndTheProcessMetricsAreThere() async throws {
        try await TestGateway().withLiveServer { client in
            _ = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            let scrape = try await Self.scrape(client)
            #expect(!scrape.samples.isEmpty)
            for family in scrape.samples.keys {
                #expect(scrape.type[family] != nil, "no # TYPE for \(family)")
                #expect(scrape.help[family].map { !$0.isEmpty } == true, "no # HELP for \(family)")
            }
            for family in scrape.type.keys {
                #expect(scrape.help[family] != nil, "no # HELP for \(family)")
            }
            #if os(Linux)
            for (family, type) in [
                ("process_resident_memory_bytes", "gauge"), ("process_cpu_seconds_total", "counter"), ("process_open_fds", "gauge"),
                ("process_max_fds", "gauge"), ("process_start_time_seconds", "gauge"), ("process_virtual_memory_bytes", "gauge"),
            ] {
                #expect(scrape.type[family] == type, "\(family)")
                #expect(try #require(scrape.value(family), "\(family)") > 0, "\(family)")
            }
            let started = try #require(scrape.value("process_start_time_seconds"))
            #expect(started <= Date().timeIntervalSince1970 && started > Date().timeIntervalSince1970 - 86400 * 365)
            #endif
        }
    }

    @Test func aWrongMethodIsLabelledWithItsRouteAndUnknownPathsShareOneLabel() async throws {
        try await TestGateway().withLiveServer { client in
            let wrongMethod = try await client.execute(uri: "/whoami", method: .delete, headers: .apiKey())
            #expect(wrongMethod.status == .methodNotAllowed)
            for path in ["/no/such/path", "/another-\(UUID().uuidString)"] {
                let unknown = try await client.execute(uri: path, method: .get, headers: .apiKey())
                #expect(unknown.status == .notFound)
            }
            let scrape = try await Self.scrape(client)
            #expect(scrape.value(#"hb_requests{http_route="/whoami",http_request_method="DELETE",http_response_status_code="405"}"#) ?? 0 >= 1, "\(scrape.text)")
            let routes = Set(scrape.samples["hb_requests", default: []].compactMap { $0.firstMatch(of: /http_route="([^"]*)"/).map { String($0.1) } })
            #expect(!routes.contains("NotFound") && !routes.contains("Unknown"), "\(routes)")
            #expect(!routes.contains { $0.contains("another-") || $0.contains("no/such") }, "\(routes)")
            #expect(scrape.value(#"hb_requests{http_route="unmatched",http_request_method="GET",http_response_status_code="404"}"#) ?? 0 >= 2)
        }
    }

    @Test func webSocketHandshakesAndUpgradedConnectionsAreCounted() async throws {
        try await TestGateway().withLiveServer { client in
            let port = try #require(client.port)
            let before = try await Self.scrape(client).value(GatewayMetrics.webSocketUpgrades) ?? 0
            let refused = try await WebSocketTests().rawHandshake(port: port)
            #expect(refused.status == 401)
            let accepted = try await WebSocketTests().rawHandshake(port: port, headers: ["X-API-Key": TestGateway.apiKey])
            #expect(accepted.status == 101)
            let scrape = try await Self.scrape(client)
            #expect(scrape.value(#"hb_requests{http_route="/ws",http_request_method="GET",http_response_status_code="401"}"#) ?? 0 >= 1, "\(scrape.text)")
            #expect(try #require(scrape.value(GatewayMetrics.webSocketUpgrades)) >= before + 1)
            #expect(scrape.type[GatewayMetrics.openWebSockets] == "gauge")
        }
    }
}
