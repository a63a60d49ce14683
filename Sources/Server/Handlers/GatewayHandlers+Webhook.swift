import Foundation
import GatewayAPI
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// What the webhook handlers need: the stores, the background service to wake, the secret and
/// how old a signed timestamp may be, and the policy callback URLs must meet.
public struct WebhookIntake: Sendable {
    let store: any WebhookStore
    let signatures: any WebhookSignatureStore
    let service: WebhookService
    let secret: String?
    let tolerance: Duration
    let outbound: OutboundPolicy

    public init(
        store: any WebhookStore,
        signatures: any WebhookSignatureStore,
        service: WebhookService,
        secret: String?,
        tolerance: Duration = .seconds(300),
        outbound: OutboundPolicy = .init()
    ) {
        self.store = store
        self.signatures = signatures
        self.service = service
        self.secret = secret
        self.tolerance = tolerance
        self.outbound = outbound
    }
}

extension GatewayHandlers {
    public func receiveWebhook(_ input: Operations.ReceiveWebhook.Input, context: Context) async throws -> Operations.ReceiveWebhook.Output {
        let body = Data(input.rawBody.readableBytesView)
        // An empty header is no ID at all.
        let givenID = [input.headers.xWebhookID, input.headers.xGitHubDelivery]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        // The signature is checked on the bytes as sent, before anything is parsed.
        var bodyOnlySignature: String?
        if let secret = webhooks.secret {
            let verdict = WebhookSignature.verify(
                body: body,
                id: givenID,
                timestamp: input.headers.xWebhookTimestamp,
                signature: input.headers.xWebhookSignature,
                bodySignature: input.headers.xHubSignature256,
                secret: secret,
                tolerance: webhooks.tolerance
            )
            switch verdict {
            case .timestamped: break
            case .bodyOnly(let signature): bodyOnlySignature = signature
            case .refused(let code, let message): return invalidSignature(context, code: code, message: message)
            }
        }
        // Decoded and checked against WebhookEvent by the generated route; answered only now, after the signature.
        let event: WebhookEvent
        switch input.body {
        case .success(let decoded): event = decoded
        case .failure(let error): return .badRequest(.json(envelope(context, 400, error.code, error.message)))
        }
        var conversationID: String?
        var callbackURL: String?
        if event.event == "prompt" {
            let data: WebhookPromptData
            do {
                data = try WebhookPromptData(.object(event.data ?? [:]))
            } catch let error as DecodingError {
                return .badRequest(.json(envelope(context, 400, "invalid_request", "Invalid body: " + RequestBodyDecoding.describe(error, root: "data"))))
            }
            guard !data.prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .badRequest(.json(envelope(context, 400, "invalid_request", "A prompt event needs data.prompt, a non-empty string.")))
            }
            conversationID = data.conversationID
            if let url = data.callbackURL {
                if let refusal = webhooks.outbound.check(url) {
                    return .badRequest(.json(envelope(context, 400, "invalid_callback_url", "data.callback_url \(refusal).")))
                }
                callbackURL = url
            }
            // Refused now, with the error /exec would give, rather than failing in the background.
            do {
                try conversations.check(data.turnOptions, isNewConversation: conversationID == nil)
            } catch ConversationError.policy(let policy) {
                switch policy.status {
                case .forbidden: return .forbidden(.json(envelope(context, 403, policy.code, policy.message)))
                default: return .badRequest(.json(envelope(context, 400, policy.code, policy.message)))
                }
            }
            // Another owner's conversation is answered as one that does not exist.
            if let conversationID, !(try await conversations.isVisible(conversationID, to: context.principal)) {
                return .badRequest(.json(envelope(context, 400, "conversation_not_found", "No conversation with id '\(conversationID)'.")))
            }
        }
        let id = givenID ?? UUID().uuidString.lowercased()
        if let bodyOnlySignature,
            !(try await webhooks.signatures.claim(bodyOnlySignature, principal: context.principal?.id ?? "", deliveryID: id))
        {
            return invalidSignature(
                context,
                code: "replayed_signature",
                message: "This body and its X-Hub-Signature-256 were already delivered under another delivery ID. "
                    + "To send the same body again, sign it with X-Webhook-Timestamp and X-Webhook-Signature."
            )
        }
        let now = Date()
        let record = WebhookDeliveryRecord(
            id: UUID().uuidString.lowercased(),
            deliveryID: id,
            event: event.event,
            payload: String(decoding: body, as: UTF8.self),
            status: event.event == "prompt" ? .pending : .stored,
            principal: context.principal?.id ?? "",
            owner: context.principal?.owner ?? "",
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
        return .accepted(.json(WebhookAccepted(status: .accepted, id: stored.deliveryID, timestamp: Timestamps.string(stored.receivedAt))))
    }

    private func invalidSignature(_ context: Context, code: String, message: String) -> Operations.ReceiveWebhook.Output {
        .unauthorized(
            .json(envelope(context, 401, code, message)),
            headers: .init(wwwAuthenticate: "Bearer realm=\"\(GatewayAuthenticator.realm)\"")
        )
    }

    public func getWebhookDelivery(_ input: Operations.GetWebhookDelivery.Input, context: Context) async throws -> Operations.GetWebhookDelivery.Output {
        // Another owner's delivery is answered as one that does not exist.
        guard let record = try await webhooks.store.delivery(input.path.id, owner: context.principal?.owner ?? "") else {
            return .notFound(.json(envelope(context, 404, "not_found", "No webhook delivery with id '\(input.path.id)'.")))
        }
        return .ok(.json(WebhookService.view(of: record)))
    }
}

extension WebhookPromptData {
    /// Decodes a prompt event's `data` with the schema's rules.
    init(_ data: JSONValue) throws {
        self = try JSONDecoder().decode(Self.self, from: JSONEncoder().encode(data))
    }

    var turnOptions: TurnOptions {
        TurnOptions(workspace: workspace, sandbox: sandbox, approvalPolicy: approvalPolicy)
    }
}
