import Metrics
import ModelProvider
import NIOCore
import Prometheus
import Synchronization

/// The gateway's metric names and the Prometheus registry behind `GET /metrics`.
///
/// swift-metrics is bootstrapped once per process with a Prometheus factory; every metric is
/// created with bounded dimensions (route template, status code, reason), never a user or key.
public enum GatewayMetrics {
    /// Requests refused with 429, by `reason` (`rate_limited`, `too_many_turns`).
    public static let rateLimitRefusals = "codex_gateway_rate_limit_refusals_total"
    /// Model provider requests, by `status` (an HTTP status code, or `error`), in seconds.
    public static let upstreamRequestDuration = ProviderMetrics.requestDuration
    /// Failed model provider requests, by `kind` (`http_429`, `http_4xx`, `http_5xx`, `connection`, `timeout`).
    public static let upstreamErrors = ProviderMetrics.errors
    /// Tokens reported by the provider, by `type` (`input`, `cached_input`, `output`).
    public static let tokens = "codex_gateway_tokens_total"
    /// WebSocket connections open now.
    public static let openWebSockets = "codex_gateway_websocket_connections"
    /// Turns (including relayed completions) running now.
    public static let runningTurns = "codex_gateway_turns_running"

    public static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        // Gauges exist from the start, so a scrape shows 0 rather than nothing.
        Meter(label: openWebSockets).set(0)
        Meter(label: runningTurns).set(0)
        _ = webSocketUpgradeCounter
    }()

    private static let webSocketUpgradeCounter = Counter(label: webSocketUpgrades)

    /// A `GET /ws` became a WebSocket connection.
    static func recordWebSocketUpgrade() {
        webSocketUpgradeCounter.increment()
    }

    /// Routes swift-metrics to the Prometheus registry (once per process; later calls do nothing).
    public static func bootstrap() {
        _ = bootstrapped
    }

    /// WebSocket connections upgraded, since the start.
    public static let webSocketUpgrades = "codex_gateway_websocket_upgrades_total"

    /// What each family measures, for its `# HELP` line (by exposed name). swift-metrics has no
    /// help text, so the registry has none; ``exposition()`` adds these.
    static let help: [String: String] = [
        "hb_requests": "HTTP requests answered, by route template, method and status.",
        "hb_request_errors": "HTTP requests that ended in an error no handler turned into a response.",
        "http_server_request_duration": "HTTP request duration in seconds (streams: to their last byte).",
        "http_server_active_requests": "HTTP requests in flight.",
        rateLimitRefusals: "Requests refused with 429, by reason.",
        upstreamRequestDuration: "Model provider requests, time to the response head in seconds, by status.",
        upstreamErrors: "Failed model provider requests, by kind.",
        tokens: "Tokens reported by the model provider, by type.",
        openWebSockets: "WebSocket connections open now.",
        webSocketUpgrades: "WebSocket connections upgraded from GET /ws.",
        runningTurns: "Turns (including relayed completions) running now.",
    ]

    /// The registry and the process metrics in the Prometheus text exposition format 0.0.4, every
    /// family with its `# HELP` and `# TYPE`.
    public static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return Array(withHelp(String(decoding: buffer, as: UTF8.self)).utf8) + Array(ProcessMetrics.exposition().utf8)
    }

    /// `text` with a `# HELP` line before every `# TYPE` line that has none.
    static func withHelp(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + 2048)
        var previous: Substring = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first, !previous.hasPrefix("# HELP \(name) ") {
                result += "# HELP \(name) \(help[String(name)] ?? "codex-gateway metric \(name).")\n"
            }
            result += line
            result += "\n"
            previous = line
        }
        // The split gave one empty piece after the final newline.
        if result.hasSuffix("\n\n") { result.removeLast() }
        return result
    }

    /// Prometheus names allow `[a-zA-Z_:][a-zA-Z0-9_:]*`; Hummingbird's use dots (`http.route`).
    static func sanitize(_ name: String) -> String {
        var result = String(name.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ":": Character(scalar)
            default: "_"
            }
        })
        if let first = result.first, first.isNumber { result = "_" + result }
        return result
    }

    private static let tokenCounters = (
        input: Counter(label: tokens, dimensions: [("type", "input")]),
        cachedInput: Counter(label: tokens, dimensions: [("type", "cached_input")]),
        output: Counter(label: tokens, dimensions: [("type", "output")])
    )

    static func recordTokens(_ usage: TokenUsage) {
        tokenCounters.input.increment(by: usage.inputTokens)
        tokenCounters.cachedInput.increment(by: usage.cachedInputTokens)
        tokenCounters.output.increment(by: usage.outputTokens)
    }
}
