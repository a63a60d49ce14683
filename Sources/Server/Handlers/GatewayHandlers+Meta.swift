import GatewayAPI
import GatewayRuntime
import Hummingbird
import Logging

extension GatewayHandlers {
    public func getHealth(_ input: Operations.GetHealth.Input, context: Context) async throws -> Operations.GetHealth.Output {
        let uptime = ContinuousClock.now - startedAt
        let seconds = Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18
        return .ok(.json(HealthStatus(status: .healthy, version: GatewayVersion.current, uptimeSeconds: (seconds * 1000).rounded() / 1000)))
    }

    public func getReadiness(_ input: Operations.GetReadiness.Input, context: Context) async throws -> Operations.GetReadiness.Output {
        let results = await readiness.run()
        let failures = results.required.compactMap { name, failure in failure.map { "\(name): \($0)" } }.sorted()
        guard failures.isEmpty else {
            context.logger.warning("not ready", metadata: ["failures": .string(failures.joined(separator: "; "))])
            return .serviceUnavailable(
                .json(ErrorEnvelope(error: "Not ready: " + failures.joined(separator: "; "), code: "not_ready", status: 503, requestID: context.requestID))
            )
        }
        var checks = results.required.mapValues { _ in "ok" }
        for (name, failure) in results.advisory { checks[name] = failure ?? "ok" }
        let degraded = results.advisory.values.contains { $0 != nil }
        return .ok(
            .json(
                Readiness(
                    engine: Readiness.Engine(rawValue: readiness.engine) ?? .chat,
                    sandbox: readiness.sandbox(),
                    status: degraded ? .degraded : .ready,
                    checks: checks
                )
            )
        )
    }

    public func whoAmI(_ input: Operations.WhoAmI.Input, context: Context) async throws -> Operations.WhoAmI.Output {
        // The generated route authenticated the request before calling this.
        guard let principal = context.principal else {
            throw GatewayError(status: .internalServerError, code: "internal_error", message: "No principal on an authenticated route.")
        }
        let kind: GatewayAPI.Principal.Kind = principal.kind == .apiKey ? .apiKey : .oauth
        let limits = (rateLimiter?.limits(for: principal) ?? .unlimited)
        return .ok(
            .json(
                GatewayAPI.Principal(
                    kind: kind,
                    id: principal.id,
                    scopes: principal.kind == .oauth ? principal.scopes : nil,
                    rateLimits: GatewayAPI.RateLimits(
                        perMinute: limits.perMinute,
                        perHour: limits.perHour,
                        perDay: limits.perDay,
                        concurrentTurns: limits.concurrentTurns
                    )
                )
            )
        )
    }

    public func getMetrics(_ input: Operations.GetMetrics.Input, context: Context) async throws -> Operations.GetMetrics.Output {
        let text = GatewayMetrics.exposition()
        return .ok(.plainText(RawResponseBody(body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)), contentType: "text/plain; version=0.0.4; charset=utf-8")))
    }

    public func getOpenAPIYAML(_ input: Operations.GetOpenAPIYAML.Input, context: Context) async throws -> Operations.GetOpenAPIYAML.Output {
        .ok(.yaml(spec.yaml))
    }

    public func getOpenAPIJSON(_ input: Operations.GetOpenAPIJSON.Input, context: Context) async throws -> Operations.GetOpenAPIJSON.Output {
        .ok(.json(spec.document))
    }

    public func getGPTActionsYAML(_ input: Operations.GetGPTActionsYAML.Input, context: Context) async throws -> Operations.GetGPTActionsYAML.Output {
        .ok(.yaml(spec.gptYAML))
    }

    public func getGPTActionsJSON(_ input: Operations.GetGPTActionsJSON.Input, context: Context) async throws -> Operations.GetGPTActionsJSON.Output {
        .ok(.json(spec.gptDocument))
    }
}
