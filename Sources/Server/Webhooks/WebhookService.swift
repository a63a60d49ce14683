import AsyncHTTPClient
import Crypto
import Foundation
import GatewayAPI
import GatewayRuntime
import Logging
import ModelProvider
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Runs accepted `prompt` webhooks in the background and POSTs their outcome to callback URLs.
///
/// Deliveries are claimed from the database under a lease (``WebhookStore``), so what was
/// accepted survives a crash: on start (SQLite) deliveries that were running are queued again,
/// and with several replicas (PostgreSQL) another takes a dead one's over when its lease runs out. Callbacks are retried with exponential
/// backoff (`WEBHOOK_CALLBACK_RETRY_SECONDS`, doubled each attempt, ±20 %) up to
/// `WEBHOOK_CALLBACK_MAX_ATTEMPTS`. They run concurrently, at most `callbackConcurrency` at once
/// and `callbackPerHost` to one receiver (scheme, host and port), so a slow receiver holds up
/// only its own. They go through the ``OutboundHTTPClient``: a URL its policy forbids is not
/// called, and the error a caller can read says only that. On graceful shutdown running turns
/// are cancelled and resume at the next start.
public final class WebhookService: Service {
    public struct Settings: Sendable {
        public var secret: String?
        public var concurrency: Int = 4
        public var callbackMaxAttempts: Int = 5
        public var callbackRetryBase: Duration = .seconds(2)
        public var callbackTimeout: Duration = .seconds(10)
        /// `WEBHOOK_CALLBACK_CONCURRENCY`: callbacks in flight at once.
        public var callbackConcurrency: Int = 16
        /// `WEBHOOK_CALLBACK_PER_HOST`: callbacks in flight to one receiver.
        public var callbackPerHost: Int = 2
        /// `WEBHOOK_LEASE_SECONDS`: how long a claimed delivery stays this process's without a
        /// renewal (renewed every third of it while the turn runs).
        public var lease: Duration = .seconds(30)
        /// Who holds the leases this process takes: unique per process.
        public var holder: String = "replica-" + UUID().uuidString.lowercased()
        /// `REPLICA_URL`: deliveries continuing conversations that live on other replicas are theirs.
        public var home: String?

        public init(secret: String? = nil) {
            self.secret = secret
        }
    }

    /// What a caller reads in `callback.last_error` when the URL was refused or not reached; the
    /// cause goes to the log only (a caller must not learn the gateway's network from it).
    static let notAllowed = "the callback URL is not allowed"
    static let unreachable = "the callback URL could not be reached"

    let store: any WebhookStore
    let conversations: ConversationManager
    let outbound: OutboundHTTPClient
    let settings: Settings
    let logger: Logger
    private let turnsWakeup = WakeupSignal()
    private let callbacksWakeup = WakeupSignal()
    private let callbacksInFlight = CallbackSlots()

    public init(store: any WebhookStore, conversations: ConversationManager, outbound: OutboundHTTPClient, settings: Settings, logger: Logger) {
        self.store = store
        self.conversations = conversations
        self.outbound = outbound
        self.settings = settings
        self.logger = logger
    }

    /// Tells the service a new delivery is waiting.
    public func notifyNewDelivery() {
        turnsWakeup.signal()
    }

    public func run() async throws {
        let requeued = try await store.requeueInterrupted()
        if requeued > 0 { logger.notice("resuming interrupted webhook deliveries", metadata: ["count": .stringConvertible(requeued)]) }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.turnLoop() }
                group.addTask { await self.callbackLoop() }
            }
        }
        // Turns cancelled by the shutdown are given back at once, for another replica (or the next start).
        _ = try? await store.releaseLeases(holder: settings.holder)
    }

    // MARK: Turns

    private func turnLoop() async {
        while !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                while !Task.isCancelled {
                    while running < settings.concurrency, let delivery = try? await store.claimNext(holder: settings.holder, lease: settings.lease, home: settings.home) {
                        group.addTask { await self.processWithLease(delivery) }
                        running += 1
                    }
                    if running == 0 { break }
                    await group.next()
                    running -= 1
                }
            }
            // Polling as well as waking: a delivery stored by another process (or whose holder's
            // lease ran out) is not lost.
            await turnsWakeup.wait(timeout: .seconds(min(5, max(1, settings.lease.seconds / 3))))
        }
    }

    /// Runs a claimed delivery's turn, renewing its lease every third of it meanwhile.
    func processWithLease(_ delivery: WebhookDeliveryRecord) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.settings.lease / 3) } catch { return }
                    if (try? await self.store.renewLease(delivery.id, holder: self.settings.holder, lease: self.settings.lease)) == false {
                        self.logger.warning("webhook lease lost", metadata: ["webhook.id": .string(delivery.id)])
                        return
                    }
                }
            }
            await self.process(delivery)
            group.cancelAll()
        }
    }

    func process(_ delivery: WebhookDeliveryRecord) async {
        let id = delivery.id
        let holder = settings.holder
        var logger = self.logger
        logger[metadataKey: "webhook.id"] = .string(id)
        let payload = try? JSONDecoder().decode(JSONValue.self, from: Data(delivery.payload.utf8))
        guard let data = try? WebhookPromptData(payload?["data"] ?? .null) else {
            _ = try? await store.fail(id, holder: holder, conversationID: nil, error: "data is not a valid prompt event")
            callbacksWakeup.signal()
            return
        }
        do {
            let plan = try await conversations.prepareTurnWhenAllowed(
                conversationID: delivery.conversationID ?? data.conversationID,
                prompt: data.prompt,
                model: data.model,
                options: data.turnOptions,
                principal: delivery.sender
            )
            // Each approval the turn asks is POSTed to the callback URL while the turn waits for it.
            let outcome = try await withThrowingDiscardingTaskGroup(returning: TurnOutcome.self) { group in
                let outcome = try await conversations.streamTurn(plan) { event in
                    if case .approvalRequested(let approval) = event, let url = delivery.callbackURL {
                        group.addTask { await self.announce(approval, of: delivery, to: url) }
                    }
                }
                group.cancelAll()
                return outcome
            }
            switch outcome {
            case .completed(let conversationID, let text, _, let usage):
                guard try await whileDatabaseIsDown(for: settings.lease, {
                    try await self.store.complete(id, holder: holder, conversationID: conversationID, result: text, usage: usage)
                }) else {
                    logger.warning("webhook turn finished after its lease was taken over; outcome dropped")
                    return
                }
                logger.info("webhook turn completed", metadata: ["conversation.id": .string(conversationID)])
            case .failed(let conversationID, let reason):
                if reason == .cancelled && Task.isCancelled {
                    // Shutting down: leave it running; it is queued again at the next start.
                    return
                }
                if Self.isDatabaseOutage(reason.description) {
                    logger.warning("webhook turn stopped by a database outage; it runs again when its lease runs out")
                    return
                }
                _ = try await whileDatabaseIsDown(for: settings.lease) {
                    try await self.store.fail(id, holder: holder, conversationID: conversationID, error: reason.description)
                }
                logger.warning("webhook turn failed", metadata: ["error": .string(reason.description)])
            }
        } catch let error as ConversationError {
            _ = try? await store.fail(id, holder: holder, conversationID: nil, error: error.description)
        } catch {
            if Task.isCancelled { return }
            if Self.isDatabaseOutage(String(describing: error)) {
                logger.warning("webhook turn stopped by a database outage; it runs again when its lease runs out")
                return
            }
            _ = try? await store.fail(id, holder: holder, conversationID: nil, error: String(describing: error))
        }
        callbacksWakeup.signal()
    }

    /// Whether a turn failed only because the gateway's database did not answer (a step of the
    /// turn got 503 `database_unavailable`: the turn's model calls, its usage or its stores). That
    /// is not the sender's failure: the delivery is left running under its lease, which then runs
    /// out, and it is claimed and run again once the database is back.
    static func isDatabaseOutage(_ failure: String) -> Bool {
        failure.contains(PostgresGatewayDatabase.unavailable.code)
    }

    /// The waits between tries of ``whileDatabaseIsDown(for:_:)``: doubling from the first to the longest.
    static let outageRetry = (first: Duration.milliseconds(250), longest: Duration.seconds(2))

    /// `operation`, tried again (backing off: ``outageRetry``) while the database answers 503
    /// `database_unavailable`, for up to `limit`: an outcome reached during a database restart is
    /// recorded when it is back, instead of being lost (the turn would run again once its lease
    /// ran out) or, for a callback, POSTed twice. Past `limit` another replica may have taken the
    /// work over, and the last error is thrown.
    func whileDatabaseIsDown<Result: Sendable>(for limit: Duration, _ operation: @Sendable () async throws -> Result) async throws -> Result {
        let deadline = ContinuousClock.now + limit
        var delay = Self.outageRetry.first
        while true {
            do {
                return try await operation()
            } catch let error as GatewayError
                where error.code == PostgresGatewayDatabase.unavailable.code && ContinuousClock.now + delay < deadline && !Task.isCancelled
            {
                logger.warning("webhook outcome not recorded: database unavailable; retrying")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, Self.outageRetry.longest)
            }
        }
    }

    // MARK: Callbacks

    private func callbackLoop() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                var wait = Duration.seconds(5)
                if let (due, next) = try? await store.dueCallbacks(now: Date()) {
                    for delivery in due where !Task.isCancelled {
                        let receiver = Self.receiver(of: delivery.callbackURL)
                        guard callbacksInFlight.take(delivery.id, receiver: receiver, limit: settings.callbackConcurrency, perReceiver: settings.callbackPerHost)
                        else { continue }
                        group.addTask {
                            // Once across replicas: the attempt is this process's only if it claims it.
                            if (try? await self.store.claimCallback(
                                delivery.id, attempts: delivery.callbackAttempts, holder: self.settings.holder,
                                lease: self.settings.callbackTimeout * 3)) == true
                            {
                                await self.deliverCallback(delivery)
                            }
                            self.callbacksInFlight.release(delivery.id, receiver: receiver)
                            self.callbacksWakeup.signal()
                        }
                    }
                    if let next {
                        let seconds = max(0.01, next.timeIntervalSinceNow)
                        wait = min(wait, .milliseconds(Int64(seconds * 1000)))
                    }
                }
                // Woken when a delivery finishes, a callback ends (a slot is free) or one is due.
                await callbacksWakeup.wait(timeout: wait)
            }
        }
    }

    /// Callbacks to one receiver share its limit: scheme, host and port.
    static func receiver(of url: String?) -> String {
        guard let url, let components = URLComponents(string: url) else { return "" }
        return "\(components.scheme?.lowercased() ?? "")://\(components.host?.lowercased() ?? ""):\(components.port.map(String.init) ?? "")"
    }

    func deliverCallback(_ delivery: WebhookDeliveryRecord) async {
        guard let url = delivery.callbackURL else { return }
        let attempt = delivery.callbackAttempts + 1
        var failure: String?
        var cause: String?
        do {
            (failure, cause) = try await postSigned(JSONEncoder().encode(Self.view(of: delivery)), deliveryID: delivery.deliveryID, to: url)
        } catch {
            if Task.isCancelled { return }
            (failure, cause) = (Self.unreachable, String(describing: error))
        }
        let delivered = failure == nil
        var next: Date?
        if !delivered && attempt < settings.callbackMaxAttempts {
            let base = Double(settings.callbackRetryBase.components.seconds) + Double(settings.callbackRetryBase.components.attoseconds) / 1e18
            let delay = base * pow(2, Double(attempt - 1)) * Double.random(in: 0.8...1.2)
            next = Date().addingTimeInterval(delay)
        }
        logger.info(
            delivered ? "webhook callback delivered" : "webhook callback failed",
            metadata: [
                "webhook.id": .string(delivery.id), "attempt": .stringConvertible(attempt), "error": .string(failure ?? ""),
                "error.cause": .string(cause ?? ""),
            ]
        )
        // Recorded even through a short database outage: unrecorded, a delivered callback would be
        // POSTed again once its claim (three callback timeouts) runs out.
        try? await whileDatabaseIsDown(for: settings.callbackTimeout * 3) { [failure, next] in
            try await self.store.recordCallbackAttempt(delivery.id, delivered: delivered, error: failure, nextAttemptAt: next)
        }
    }

    /// POSTs `body` to `url`, signed as every callback is; answers what failed (for the caller) and
    /// why (for the log), both nil when the receiver took it (2xx).
    private func postSigned(_ body: Data, deliveryID: String, to url: String) async throws -> (failure: String?, cause: String?) {
        if let refusal = outbound.policy.check(url) {
            // Accepted before the policy was in force, or under another OUTBOUND_ALLOW_PRIVATE.
            return (Self.notAllowed, refusal.description)
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "codex-gateway/\(GatewayVersion.current)")
        request.headers.add(name: "X-Webhook-Id", value: deliveryID)
        let timestamp = Int(Date().timeIntervalSince1970)
        request.headers.add(name: WebhookSignature.timestampHeader, value: String(timestamp))
        if let secret = settings.secret {
            request.headers.add(name: WebhookSignature.signatureHeader, value: WebhookSignature.sign(body, id: deliveryID, timestamp: timestamp, secret: secret))
            request.headers.add(name: WebhookSignature.bodySignatureHeader, value: WebhookSignature.sign(body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let timeout = TimeAmount.milliseconds(Int64(settings.callbackTimeout.components.seconds * 1000))
        do {
            let response = try await outbound.client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(Int(response.status.code)) ? (nil, nil) : ("HTTP \(response.status.code)", nil)
        } catch let error as OutboundConnectionRefused {
            return (Self.notAllowed, error.description)
        }
    }

    /// POSTs an `approval.requested` event for `approval` to `url`, retried as callbacks are
    /// (`WEBHOOK_CALLBACK_MAX_ATTEMPTS`, backoff from `WEBHOOK_CALLBACK_RETRY_SECONDS`) while the
    /// approval can still be answered. Not stored: an approval does not outlive its turn.
    func announce(_ approval: PendingApproval, of delivery: WebhookDeliveryRecord, to url: String) async {
        let event = WebhookApprovalCallback(
            event: .approvalRequested, deliveryID: delivery.deliveryID, conversationID: approval.conversationID, approval: Approval(approval))
        guard let body = try? JSONEncoder().encode(event) else { return }
        for attempt in 1...settings.callbackMaxAttempts {
            let (failure, cause): (String?, String?)
            do {
                (failure, cause) = try await postSigned(body, deliveryID: delivery.deliveryID, to: url)
            } catch {
                if Task.isCancelled { return }
                (failure, cause) = (Self.unreachable, String(describing: error))
            }
            logger.info(
                failure == nil ? "webhook approval callback delivered" : "webhook approval callback failed",
                metadata: [
                    "webhook.id": .string(delivery.id), "approval.id": .string(approval.id), "attempt": .stringConvertible(attempt),
                    "error": .string(failure ?? ""), "error.cause": .string(cause ?? ""),
                ]
            )
            guard failure != nil, attempt < settings.callbackMaxAttempts else { return }
            let delay = settings.callbackRetryBase * Int(pow(2, Double(attempt - 1)))
            guard Date().addingTimeInterval(Double(delay.components.seconds)) < approval.expiresAt else { return }
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    /// The API view of a delivery, as `GET /webhook/{id}` answers and callbacks carry.
    static func view(of record: WebhookDeliveryRecord) -> WebhookDelivery {
        WebhookDelivery(
            id: record.deliveryID,
            event: record.event,
            status: WebhookDelivery.Status(rawValue: record.status.rawValue) ?? .failed,
            receivedAt: Timestamps.string(record.receivedAt),
            updatedAt: Timestamps.string(record.updatedAt),
            conversationID: record.conversationID,
            result: record.result,
            usage: record.usage.map { Usage(inputTokens: $0.inputTokens, cachedInputTokens: $0.cachedInputTokens, outputTokens: $0.outputTokens) },
            error: record.error,
            callback: record.callbackURL.map {
                WebhookCallbackStatus(
                    url: $0,
                    status: WebhookCallbackStatus.Status(rawValue: record.callbackStatus?.rawValue ?? "pending") ?? .pending,
                    attempts: record.callbackAttempts,
                    lastError: record.callbackLastError
                )
            }
        )
    }
}
