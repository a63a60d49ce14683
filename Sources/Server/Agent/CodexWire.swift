import GatewayRuntime

// The notification params of `codex app-server` (protocol v2, codex-cli 0.147.0) the turn reader
// takes from each line; requests go out as CodexAppServer's typed `AppServer.*Params`.

/// `item/started`, `item/completed`.
struct ItemNotification: Decodable {
    var turnId: String?
    var item: CodexItem
}

/// A thread item, with the members the gateway shows.
struct CodexItem: Decodable {
    struct Change: Decodable {
        struct Kind: Decodable { var type: String }
        var path: String
        var kind: Kind
        var diff: String?
    }
    var type: String
    var id: String
    var text: String?
    var summary: [String]?
    var content: JSONValue?
    var command: String?
    var cwd: String?
    var aggregatedOutput: String?
    var exitCode: Int?
    var status: String?
    var changes: [Change]?
}

/// `item/agentMessage/delta`, `item/commandExecution/outputDelta`, reasoning deltas.
struct DeltaNotification: Decodable {
    var turnId: String?
    var itemId: String
    var delta: String
}

struct PlanNotification: Decodable {
    struct Step: Decodable {
        var step: String
        var status: String
    }
    var turnId: String?
    var plan: [Step]
}

struct TokenUsageNotification: Decodable {
    struct Usage: Decodable {
        struct Breakdown: Decodable {
            var inputTokens: Int
            var cachedInputTokens: Int
            var outputTokens: Int
        }
        var last: Breakdown
    }
    var turnId: String?
    var tokenUsage: Usage
}

struct ErrorNotification: Decodable {
    struct Failure: Decodable { var message: String }
    var turnId: String?
    var error: Failure
    var willRetry: Bool
}

struct TurnCompletedNotification: Decodable {
    struct Turn: Decodable {
        struct Failure: Decodable { var message: String }
        var id: String
        var status: String
        var error: Failure?
    }
    var turn: Turn
}

/// `item/commandExecution/requestApproval`, `item/fileChange/requestApproval`.
struct ApprovalRequestParams: Decodable {
    var turnId: String?
    var itemId: String?
    var command: String?
    var cwd: String?
    var reason: String?
}
