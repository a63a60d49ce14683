import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// What the webhook handlers need: the store, the background service to wake, the secret, and
/// the policy callback URLs must meet.
public struct WebhookIntake: Sendable {
    let store: WebhookStore
    let service: WebhookService
    let secret: String?
    let outbound: OutboundPolicy

    public init(store: WebhookStore, service: WebhookService, secret: String?, outbound: OutboundPolicy = .init()) {
        self.store = store
        self.service = service
        self.secret = secret
        self.outbound = outbound
    }
}

extension GatewayHandlers {
    public func receiveWebhook(_ input: Operations.ReceiveWebhook.Input, context: Context) async throws -> Operations.ReceiveWebhook.Output {
        let body = Data(input.rawBody.readableBytesView)
        // The signature is checked on the bytes as sent, before anything is parsed.
        if let secret = webhooks.secret, !WebhookSignature.isValid(input.headers.xHubSignature256, body: body, secret: secret) {
            let message = input.headers.xHubSignature256 == nil
                ? "X-Hub-Signature-256 is required (sha256=<hex HMAC of the body>)."
                : "X-Hub-Signature-256 does not match the body."
            return .unauthorized(
                .json(envelope(context, 401, "invalid_signature", message)),
                headers: .init(wwwAuthenticate: "Bearer realm=\"\(GatewayAuthenticator.realm)\"")
            )
        }
        let event: WebhookEvent
        do {
            event = try RequestBodyDecoding.decode(from: input.rawBody, contentType: "application/json", accepted: ["application/json"])
        } catch let error as GatewayError {
            return .badRequest(.json(envelope(context, 400, error.code, error.message)))
        }
        var conversationID: String?
        var callbackURL: String?
        if event.event == "prompt" {
            guard case .string(let prompt)? = event.data?["prompt"], !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .badRequest(.json(envelope(context, 400, "invalid_request", "A prompt event needs data.prompt, a non-empty string.")))
            }
            switch event.data?["conversation_id"] {
            case nil, .null?: break
            case .string(let id)?: conversationID = id
            default: return .badRequest(.json(envelope(context, 400, "invalid_request", "data.conversation_id must be a string.")))
            }
            switch event.data?["callback_url"] {
            case nil, .null?: break
            case .string(let url)?:
                if let refusal = webhooks.outbound.check(url) {
                    return .badRequest(.json(envelope(context, 400, "invalid_callback_url", "data.callback_url \(refusal).")))
                }
                callbackURL = url
            default: return .badRequest(.json(envelope(context, 400, "invalid_request", "data.callback_url must be a string.")))
            }
            if let conversationID, !(try await conversations.store.contains(conversationID)) {
                return .badRequest(.json(envelope(context, 400, "conversation_not_found", "No conversation with id '\(conversationID)'.")))
            }
        }
        // An empty header is no ID at all.
        let given = [input.headers.xWebhookID, input.headers.xGitHubDelivery]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        let id = given ?? UUID().uuidString.lowercased()
        let now = Date()
        let record = WebhookDeliveryRecord(
            id: id,
            event: event.event,
            payload: String(decoding: body, as: UTF8.self),
            status: event.event == "prompt" ? .pending : .stored,
            principal: context.principal?.id ?? "",
            receivedAt: now,
            updatedAt: now,
            conversationID: conversationID,
            callbackURL: callbackURL,
            callbackStatus: callbackURL == nil ? nil : .pending,
            callbackAttempts: 0
        )
        let (stored, isNew) = try await webhooks.store.insertIfAbsent(record)
        if isNew {
            context.logger.info("webhook accepted", metadata: ["webhook.id": .string(id), "webhook.event": .string(event.event)])
            if stored.status == .pending { webhooks.service.notifyNewDelivery() }
        } else {
            context.logger.info("webhook replayed; answering as the first time", metadata: ["webhook.id": .string(id)])
        }
        return .accepted(.json(WebhookAccepted(status: .accepted, id: stored.id, timestamp: Timestamps.string(stored.receivedAt))))
    }

    public func getWebhookDelivery(_ input: Operations.GetWebhookDelivery.Input, context: Context) async throws -> Operations.GetWebhookDelivery.Output {
        guard let record = try await webhooks.store.delivery(input.path.id) else {
            return .notFound(.json(envelope(context, 404, "not_found", "No webhook delivery with id '\(input.path.id)'.")))
        }
        return .ok(.json(WebhookService.view(of: record)))
    }
}
