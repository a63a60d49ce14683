import AsyncHTTPClient
import Foundation
import GatewayAPI
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// `GET /conversations` and JSON-RPC `conversation.list` with several replicas: the same list
/// whichever replica answers (PROTOCOLS.md §12).
///
/// Why by asking the other replicas rather than from the shared store: what a list shows (model,
/// turns, updated time, whether a turn runs) is in each home's rollout files and memory; the shared
/// store holds only where a conversation lives. So the replica that answers lists its own page and
/// asks every other replica on record (``ConversationHomeStore/replicas()``) for its page after the
/// same cursor — the order (creation time, then id, newest first) is the same everywhere, so the
/// newest `limit` of the union is the right page. A peer answers its own conversations only (the
/// request is signed, ``ReplicaForward``), so nobody asks in circles.
///
/// Limits, said plainly: a replica that does not answer is left out of the page (logged as
/// `replica.list_incomplete`) rather than failing the whole list — its conversations cannot be
/// used until it is back anyway. A peer's creation times come as text with milliseconds, so a
/// cursor ending on one of its conversations may skip another conversation created in the same
/// half millisecond.
extension RemoteConversations {
    /// `local` (this replica's page, with the exact positions of its conversations) merged with
    /// the other replicas' pages after `after`, newest first, at most `limit`.
    func list(
        merging local: ConversationList, positions: [String: ConversationListPosition], for principal: Principal, limit: Int,
        after: ConversationListPosition?
    ) async throws -> ConversationList {
        let peers = try await placement.homes.replicas().filter { $0 != placement.replicaURL }
        guard !peers.isEmpty else { return local }
        let target = "/conversations?limit=\(limit)" + (after.map { "&cursor=\($0.cursor)" } ?? "")
        let pages = await withTaskGroup(of: ConversationList?.self) { group in
            for peer in peers {
                group.addTask { await self.page(target, from: peer, principal: principal) }
            }
            return await group.reduce(into: [ConversationList]()) { if let page = $1 { $0.append(page) } }
        }
        var entries = local.conversations.map { status in
            (status, positions[status.conversationID] ?? Self.position(of: status))
        }
        for page in pages {
            entries += page.conversations.map { ($0, Self.position(of: $0)) }
        }
        entries.sort { $0.1 > $1.1 }
        let more = local.nextCursor != nil || pages.contains { $0.nextCursor != nil } || entries.count > limit
        let shown = Array(entries.prefix(limit))
        return ConversationList(conversations: shown.map(\.0), nextCursor: more ? shown.last?.1.cursor : nil)
    }

    /// One peer's page, or nil (logged) when it does not answer well.
    private func page(_ target: String, from peer: String, principal: Principal) async -> ConversationList? {
        do {
            let response = try await client.send(
                .GET, target, assertions: .init(principal: AssertedPrincipal(principal).headerValue), to: peer, requestID: nil, logger: logger)
            let body = try await response.body.collect(upTo: 8 << 20)
            guard response.status == .ok else {
                logger.warning("replica.list_incomplete", metadata: ["replica.url": .string(peer), "http.status": .stringConvertible(response.status.code)])
                return nil
            }
            return try JSONDecoder().decode(ConversationList.self, from: body)
        } catch {
            logger.warning("replica.list_incomplete", metadata: ["replica.url": .string(peer), "error.message": .string("\(error)")])
            return nil
        }
    }

    /// A peer's conversation's place in the order, from its `created_at` (milliseconds): half a
    /// millisecond earlier than the text says, so a cursor made from it never lists that
    /// conversation again, whether the text was rounded or cut.
    static func position(of status: ConversationStatus) -> ConversationListPosition {
        let created = (try? Date(status.createdAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? .distantPast
        return ConversationListPosition(createdAt: created.addingTimeInterval(-0.0005), id: status.conversationID)
    }
}
