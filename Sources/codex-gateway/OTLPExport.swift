import Foundation
import GatewayServer
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// OTLP/HTTP export of the gateway's logs (the `codex.*` events among them) and traces, on when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` /
/// `…_TRACES_ENDPOINT`) is set. Every other standard `OTEL_*` variable applies (service name,
/// headers, sampler, batch delays, `OTEL_LOGS_EXPORTER=none` …). Metrics stay on `GET /metrics`.
///
/// Only OTLP/HTTP (protobuf or JSON) is built in: the gRPC exporter would add grpc-swift to
/// every build; collectors accept both transports.
struct OTLPExport {
    /// Makes each logger's OTLP handler, to run beside the stdout one.
    var logHandler: (@Sendable (String) -> any LogHandler)?
    /// The exporters and batch processors; they flush on shutdown.
    var services: [any Service]

    static let endpointVariables = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]

    static func isConfigured(_ environment: [String: String]) -> Bool {
        endpointVariables.contains { !(environment[$0] ?? "").isEmpty }
    }

    /// Builds the backends and bootstraps the tracer; nil when OTLP is not configured. An endpoint
    /// that is not an absolute http(s) URL is a ``ConfigurationError`` naming its variable.
    static func start(environment: [String: String]) throws -> OTLPExport? {
        guard isConfigured(environment) else { return nil }
        for name in endpointVariables {
            guard let raw = environment[name], !raw.isEmpty else { continue }
            guard let url = URLComponents(string: raw), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false else {
                throw ConfigurationError(
                    source: "environment", key: name, message: "expected an http(s) URL such as http://otel-collector:4318, found '\(raw)'")
            }
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "codex-gateway"
        configuration.metrics.enabled = false
        configuration.logs.otlpExporter.protocol = .httpProtobuf
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        // The environment (OTEL_SERVICE_NAME, OTEL_LOGS_EXPORTER, …) is applied on top by swift-otel.
        var export = OTLPExport(logHandler: nil, services: [])
        if (environment["OTEL_LOGS_EXPORTER"] ?? "otlp") != "none" {
            let logs = try OTel.makeLoggingBackend(configuration: configuration)
            export.logHandler = logs.factory
            export.services.append(logs.service)
        }
        if (environment["OTEL_TRACES_EXPORTER"] ?? "otlp") != "none" {
            let traces = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(traces.factory)
            export.services.append(traces.service)
        }
        return export
    }
}
