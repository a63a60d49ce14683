import Foundation
import GatewayRuntime
import Logging
import ModelProvider

/// What the gateway knows about a conversation.
public struct ConversationRecord: Sendable {
    public var id: String
    public var model: String
    public var provider: String
    /// The principal owner (``Principal/owner``) that created it; nil for conversations from
    /// before owners were recorded, which no principal can reach.
    public var owner: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Completed or aborted turns.
    public var turns: Int
    /// The user and assistant messages, in order.
    public var messages: [ConversationMessage]
    public var path: String
    /// The absolute path of its workspace, for an agent conversation.
    public var workspace: String? = nil
}

/// Conversations persisted as Codex rollout files:
/// `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl`, one
/// `{"timestamp","type","payload"}` line per record, `session_meta` first, each line written
/// (with a single `write(2)`) as soon as it exists.
///
/// Files are indexed by name at startup and parsed on first use, so restarts are cheap; only
/// their first line (`session_meta`, with the owner and creation time) is read at startup, for
/// ``list(owner:limit:after:)``.
///
/// The actor runs on ``BlockingIOExecutor``'s thread, not on its callers' event loops: its file
/// reads and writes block, and a slow volume must not stall the connections of a loop.
public actor RolloutConversationStore {
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        BlockingIOExecutor.shared.asUnownedSerialExecutor()
    }

    let sessionsDirectory: URL
    let logger: Logger
    private var paths: [String: String] = [:]
    /// Writes each record as one line, keys sorted and slashes bare (as earlier versions wrote them).
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    /// The gateway's working directory, which the records name as Codex's do (it does not change).
    private static let currentDirectory = FileManager.default.currentDirectoryPath
    private var cache: ConversationCache
    /// Each conversation's owner and creation time, from its `session_meta`.
    private var metas: [String: ConversationMeta] = [:]

    /// Creates `sessions/` if needed and proves it writable; otherwise a clear startup error.
    ///
    /// `cacheBytes` bounds the conversations kept parsed in memory (`CONVERSATION_CACHE_BYTES`).
    public init(codexHome: String, logger: Logger, cacheBytes: Int = 64 << 20) throws {
        let sessions = URL(fileURLWithPath: codexHome).appendingPathComponent("sessions", isDirectory: true)
        do {
            try PrivateFiles.createDirectory(at: sessions)
            for directory in [codexHome, sessions.path] where !PrivateFiles.restrict(directory, to: PrivateFiles.directoryMode) {
                logger.warning("could not restrict a directory to its owner (0700)", metadata: ["path": .string(directory)])
            }
            let probe = sessions.appendingPathComponent(".write-test-\(UUID().uuidString)")
            try Data().write(to: probe)
            try FileManager.default.removeItem(at: probe)
        } catch {
            throw ConfigurationError(
                source: "environment",
                key: "CODEX_HOME",
                message: "\(sessions.path) is not writable (\(error.localizedDescription)); conversations are stored there. "
                    + "Point CODEX_HOME at a writable directory or mount a writable volume (docker run -v codex-home:/home/gateway/.codex …)."
            )
        }
        self.sessionsDirectory = sessions
        self.logger = logger
        self.cache = ConversationCache(byteBudget: cacheBytes)
        self.paths = Self.index(sessions)
        self.metas = paths.mapValues(Self.readMeta(path:))
        let unowned = metas.filter { $0.value.owner == nil }.keys.sorted()
        if !unowned.isEmpty {
            logger.warning(
                "conversations without an owner are reachable by no one",
                metadata: ["conversation.count": .stringConvertible(unowned.count), "conversation.ids": .string(unowned.prefix(20).joined(separator: ","))]
            )
        }
    }

    /// The owner and creation time recorded in a rollout file's first line (`session_meta`).
    static func readMeta(path: String) -> ConversationMeta {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ConversationMeta(owner: nil, createdAt: .distantPast) }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 64 * 1024)) ?? Data()
        let line = head.split(separator: UInt8(ascii: "\n"), maxSplits: 1).first ?? Data()
        guard let meta = try? JSONDecoder().decode(RolloutLine.self, from: line), meta.type == "session_meta" else {
            return ConversationMeta(owner: nil, createdAt: .distantPast)
        }
        return ConversationMeta(owner: meta.payload["owner"]?.stringValue, createdAt: parseTimestamp(meta.timestamp) ?? .distantPast)
    }

    /// Maps conversation IDs to rollout files by their names.
    static func index(_ directory: URL) -> [String: String] {
        var paths: [String: String] = [:]
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return paths }
        for case let url as URL in enumerator where url.lastPathComponent.hasPrefix("rollout-") && url.pathExtension == "jsonl" {
            let stem = url.deletingPathExtension().lastPathComponent
            guard stem.count > 36 else { continue }
            let id = String(stem.suffix(36)).lowercased()
            if UUID(uuidString: id) != nil { paths[id] = url.path }
        }
        return paths
    }

    public var count: Int { paths.count }

    /// Conversations parsed and held in memory now, and their estimated bytes.
    var cached: (count: Int, bytes: Int) { (cache.count, cache.totalCost) }

    /// For readiness: can a file still be created in `sessions/`?
    public func isWritable() -> Bool {
        let probe = sessionsDirectory.appendingPathComponent(".ready-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: probe.path, contents: nil) else { return false }
        try? FileManager.default.removeItem(at: probe)
        return true
    }

    public func contains(_ id: String) -> Bool {
        paths[id.lowercased()] != nil
    }

    /// Starts a conversation owned by `owner` (``Principal/owner``), with the id its engine chose
    /// (a new UUID when nil) and the engine's `workspace`.
    ///
    /// With `firstMessage`, its first turn's user message is recorded in the same write (one trip
    /// to this actor's thread and one `write(2)` on a new conversation's way to its engine).
    public func create(
        id chosen: String? = nil, model: String, provider: String, owner: String?, workspace: String? = nil,
        firstMessage: (text: String, images: [String])? = nil
    ) throws -> ConversationRecord {
        let id = chosen?.lowercased() ?? UUID().uuidString.lowercased()
        // To the millisecond, as the file records it, so the order of ``list`` is the same after a restart.
        let now = Self.parseTimestamp(Self.timestamp(Date())) ?? Date()
        let components = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now)
        let directory = sessionsDirectory
            .appendingPathComponent(String(format: "%04d", components.year!))
            .appendingPathComponent(String(format: "%02d", components.month!))
            .appendingPathComponent(String(format: "%02d", components.day!))
        try PrivateFiles.createDirectory(at: directory)
        let stamp = String(
            format: "%04d-%02d-%02dT%02d-%02d-%02d",
            components.year!, components.month!, components.day!, components.hour!, components.minute!, components.second!
        )
        let url = directory.appendingPathComponent("rollout-\(stamp)-\(id).jsonl")
        try PrivateFiles.createFile(atPath: url.path)
        let record = ConversationRecord(
            id: id, model: model, provider: provider, owner: owner, createdAt: now, updatedAt: now, turns: 0, messages: [], path: url.path,
            workspace: workspace
        )
        paths[id] = url.path
        cache[id] = record
        metas[id] = ConversationMeta(owner: owner, createdAt: now)
        var meta: [String: JSONValue] = [
            "id": .string(id), "timestamp": .string(Self.timestamp(now)), "cwd": .string(Self.currentDirectory),
            "originator": .string("codex_gateway"), "cli_version": .string(GatewayVersion.current), "model_provider": .string(provider),
            "model": .string(model),
        ]
        if let owner { meta["owner"] = .string(owner) }
        if let workspace { meta["workspace"] = .string(workspace) }
        var lines: [RolloutLine] = [RolloutLine("session_meta", meta)]
        if let firstMessage { lines += Self.userMessageLines(text: firstMessage.text, images: firstMessage.images, model: model) }
        try append(id, at: now, lines)
        if let firstMessage {
            cache[id]?.messages.append(ConversationMessage(role: .user, content: firstMessage.text, images: firstMessage.images, timestamp: now))
        }
        return cache.record(id) ?? record
    }

    public func record(_ id: String) throws -> ConversationRecord? {
        let id = id.lowercased()
        if let cached = cache.record(id) { return cached }
        guard let path = paths[id] else { return nil }
        let record = try Self.parse(path: path, id: id)
        cache[id] = record
        return record
    }

    /// The IDs of `owner`'s conversations, newest first (ties by ID, descending): at most `limit`,
    /// starting after the position `after` (a previous page's last); and whether more follow.
    public func list(owner: String, limit: Int, after: ConversationListPosition?) -> (ids: [String], more: Bool) {
        let ordered = metas.lazy
            .filter { $0.value.owner == owner }
            .map { ConversationListPosition(createdAt: $0.value.createdAt, id: $0.key) }
            .filter { after == nil || $0 < after! }
            .sorted(by: >)
        return (ordered.prefix(limit).map(\.id), ordered.count > limit)
    }

    /// Where a conversation stands in ``list(owner:limit:after:)``.
    public func position(of id: String) -> ConversationListPosition? {
        metas[id.lowercased()].map { ConversationListPosition(createdAt: $0.createdAt, id: id.lowercased()) }
    }

    /// Records the start of a turn: its context and the user's message.
    public func appendUserMessage(_ id: String, text: String, images: [String] = [], model: String) throws {
        let now = Date()
        try append(id, at: now, Self.userMessageLines(text: text, images: images, model: model))
        cache[id]?.messages.append(ConversationMessage(role: .user, content: text, images: images, timestamp: now))
        cache[id]?.updatedAt = now
        cache[id]?.model = model
    }

    /// A turn's start as the rollout records it: its context and the user's message.
    private static func userMessageLines(text: String, images: [String], model: String) -> [RolloutLine] {
        let content: [JSONValue] =
            [.object(["type": .string("input_text"), "text": .string(text)])]
            + images.map { .object(["type": .string("input_image"), "image_url": .string($0)]) }
        return [
            RolloutLine("turn_context", ["cwd": .string(currentDirectory), "approval_policy": .string("never"), "model": .string(model)]),
            RolloutLine("response_item", ["type": .string("message"), "role": .string("user"), "content": .array(content)]),
            RolloutLine("event_msg", ["type": .string("user_message"), "message": .string(text), "images": .array(images.map(JSONValue.string))]),
        ]
    }

    /// Records the assistant's answer and the token counts, completing the turn.
    public func appendAssistantMessage(_ id: String, text: String, usage: TokenUsage?) throws {
        let now = Date()
        var lines = [
            RolloutLine(
                "response_item",
                ["type": .string("message"), "role": .string("assistant"), "content": .array([.object(["type": .string("output_text"), "text": .string(text)])])]
            ),
            RolloutLine("event_msg", ["type": .string("agent_message"), "message": .string(text)]),
        ]
        if let usage {
            let last: JSONValue = .object([
                "input_tokens": .integer(usage.inputTokens), "cached_input_tokens": .integer(usage.cachedInputTokens),
                "output_tokens": .integer(usage.outputTokens),
            ])
            lines.append(RolloutLine("event_msg", ["type": .string("token_count"), "info": .object(["last_token_usage": last])]))
        }
        lines.append(RolloutLine("event_msg", ["type": .string("task_complete"), "last_agent_message": .string(text)]))
        try append(id, at: now, lines)
        cache[id]?.messages.append(ConversationMessage(role: .assistant, content: text, timestamp: now))
        cache[id]?.turns += 1
        cache[id]?.updatedAt = now
    }

    /// Records a turn that ended without an answer (cancelled or failed).
    public func appendTurnAborted(_ id: String, reason: String) throws {
        let now = Date()
        try append(id, at: now, [RolloutLine("event_msg", ["type": .string("turn_aborted"), "reason": .string(reason)])])
        cache[id]?.turns += 1
        cache[id]?.updatedAt = now
    }

    /// Appends `lines` (one record each) with a single `write(2)` on an `O_APPEND` descriptor: a
    /// turn's records reach the file together, and a turn's start or end costs one open, not one
    /// per record.
    private func append(_ id: String, at date: Date, _ lines: [RolloutLine]) throws {
        guard let path = paths[id] else { return }
        let timestamp = Self.timestamp(date)
        var data = Data()
        for var line in lines {
            line.timestamp = timestamp
            data.append(try encoder.encode(line))
            data.append(UInt8(ascii: "\n"))
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(descriptor) }
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
                }
                offset += written
            }
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)) + "Z"
    }

    static func parseTimestamp(_ text: String?) -> Date? {
        guard var text else { return nil }
        if text.hasSuffix("Z") { text.removeLast() }
        return try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true))
    }

    /// Rebuilds a conversation from its rollout file; unreadable lines (a torn last write) are skipped.
    static func parse(path: String, id: String) throws -> ConversationRecord {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var record = ConversationRecord(
            id: id, model: "", provider: "", owner: nil, createdAt: Date(), updatedAt: Date(), turns: 0, messages: [], path: path
        )
        let decoder = JSONDecoder()
        for line in text.split(separator: "\n") {
            guard let line = try? decoder.decode(RolloutLine.self, from: Data(line.utf8)), case .object = line.payload else { continue }
            let payload = line.payload
            let date = parseTimestamp(line.timestamp) ?? record.updatedAt
            switch line.type {
            case "session_meta":
                record.createdAt = date
                record.owner = payload["owner"]?.stringValue
                record.model = payload["model"]?.stringValue ?? record.model
                record.provider = payload["model_provider"]?.stringValue ?? record.provider
                record.workspace = payload["workspace"]?.stringValue
            case "turn_context":
                record.model = payload["model"]?.stringValue ?? record.model
            case "response_item":
                guard payload["type"]?.stringValue == "message", let role = payload["role"]?.stringValue.flatMap(ConversationMessage.Role.init),
                    case .array(let content)? = payload["content"]
                else { break }
                let text = content.compactMap { $0["text"]?.stringValue }.joined()
                let images = content.compactMap { $0["type"]?.stringValue == "input_image" ? $0["image_url"]?.stringValue : nil }
                record.messages.append(ConversationMessage(role: role, content: text, images: images, timestamp: date))
            case "event_msg":
                if ["task_complete", "turn_aborted"].contains(payload["type"]?.stringValue) { record.turns += 1 }
            default:
                break
            }
            record.updatedAt = date
        }
        return record
    }
}

/// One line of a rollout file: `{"payload", "timestamp", "type"}` (the timestamp set as it is written).
private struct RolloutLine: Codable {
    var timestamp: String?
    var type: String
    var payload: JSONValue

    init(_ type: String, _ payload: [String: JSONValue]) {
        self.type = type
        self.payload = .object(payload)
    }
}
