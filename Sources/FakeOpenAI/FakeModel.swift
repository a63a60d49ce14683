/// The behaviour the fake server plays, chosen by the request's `model` field.
///
/// One server serves every test: each test picks its scenario by model name. Anything after an
/// `@` is ignored when choosing the behaviour but is part of the name, so `fake-429@retry-test`
/// behaves as `fake-429` with its own attempt counter (counters are kept per full model name for
/// the server's life; ``FakeOpenAIServer/reset()`` clears them).
///
/// | Model name | Behaviour |
/// |---|---|
/// | `fake-echo`, or any unknown name | Answers `Echo: <text of the last user message>`, one delta per word (each word with its following whitespace), after a first chunk `{"role":"assistant","content":""}`. Usage: `prompt_tokens` = messages × 10, `completion_tokens` = word count, `total_tokens`, `prompt_tokens_details.cached_tokens` = 0. |
/// | `fake-count` | Answers `messages=<N>`: chat → length of `messages`; Responses → number of `input` items (a string counts as 1) plus 1 when `instructions` is set. |
/// | `fake-slow`, `fake-slow-<ms>`, `fake-slow-<ms>-<n>` | Ten (or `<n>`, at most 100,000) deltas `tick0 ` … with 100 ms (or `<ms>`) between them; chat streams end their HTTP body one more gap after `data: [DONE]`. Non-streaming: the whole answer after the same total delay. |
/// | `fake-429`, `fake-429-<n>` | The first 2 (or n) requests for this model name get `429` with `Retry-After: 1` and OpenAI's `rate_limit_exceeded` error; later ones behave like `fake-echo`. |
/// | `fake-429-ms`, `fake-429-ms-<n>` | As `fake-429` but with `retry-after-ms: 50` instead of `Retry-After`. |
/// | `fake-500`, `fake-500-<n>` | The first 2 (or n) requests get `500` with OpenAI's `server_error` JSON, then echo. |
/// | `fake-500-always` | Always `500`. |
/// | `fake-stall` | Streams the role chunk and 2 content deltas (Responses: `created` … 2 `output_text.delta`), then sends nothing, keeping the connection open until the client goes away (recorded as `clientDisconnected`) or 60 s pass (then the connection is closed). Non-streaming: no response at all until then. |
/// | `fake-cut` | Streams the same 2 deltas then closes the TCP connection abruptly: no `[DONE]`, no `response.completed`, no terminating HTTP chunk. Non-streaming: sends half of the JSON body (with the full `Content-Length`) then closes. |
/// | `fake-garbage` | Like `fake-echo`, but SSE comments (`: keep-alive`), extra blank lines and non-JSON `data: {not json` events are interleaved among the valid events. Non-streaming: plain echo. |
/// | `fake-tools` | Chat: streams two tool calls split across chunks by `index` — 0: `get_weather` with `{"city":"Paris"}` in 3 argument fragments, 1: `get_time` with `{}` — then `finish_reason: "tool_calls"`. Responses: the same two calls as `function_call` output items with `response.function_call_arguments.delta`/`.done` events. Non-streaming: the same calls in the message / output. |
/// | `fake-nousage` | Like `fake-echo` but never reports usage (no usage chunk even with `include_usage`, no `usage` in JSON, `usage: null` in `response.completed`). |
/// | `fake-error-stream` | Chat: the role chunk, one content delta, then `data: {"error":{"message":…,"type":"server_error",…}}` and the stream ends (no `[DONE]`). Responses: `created`, `in_progress`, item/part added, one delta, then `response.failed` with `response.error`. Non-streaming: `500` with OpenAI's error JSON. |
/// | `fake-unauthorized` | `401` with OpenAI's `invalid_api_key` error, whatever the `Authorization` header. |
/// | `fake-codex` | One Codex agent turn over the requests of that turn: an `apply_patch` call that adds `hello.txt`, then a shell tool call that reads it, then a final message (see ``CodexTurn``). Tool outputs that answer no call, or calls left unanswered, get OpenAI's `400`; so does, over chat, a tool that is not a `function` tool (see ``ChatToolCheck``). |
/// | `fake-agent` | One Codex agent turn that runs the shell command a `#fake-agent:<directive>` in the last user message names (`sleep`, `write-outside:<absolute path>`, `env`, `command:<shell text>`), then a final message quoting the tool output (see ``AgentTurn``). Checked as `fake-codex` is. |
///
/// `fake-echo` (or an unknown name) asked for a "hello function" (the original README's `Write a
/// hello function`) by a request that offers an `apply_patch` tool plays a Codex turn instead of
/// echoing: `apply_patch` adds `hello.py`, then a final message names it (see ``HelloFunctionTurn``).
///
/// A client that must send a real model name (Codex offers its `apply_patch` tool only to models it
/// knows, such as `gpt-5.4`) picks a scenario with a tag in its prompt instead: when the model name
/// does not start with `fake-`, the first `#fake-…` word of the last user message (e.g.
/// `#fake-codex`, `#fake-429@run1`) chooses the scenario, and attempt counters are kept per tag.
///
/// Streaming follows OpenAI: chat usage comes as a last chunk with `"choices":[]` only when the
/// request sets `stream_options.include_usage` (and then every other chunk carries `"usage":null`);
/// non-streaming chat and every Responses answer always carry usage (except `fake-nousage`).
/// Requests without `Authorization: Bearer <token>` get `401` before any scenario runs; a body that
/// is not JSON gets `400`. Attempt counters (`fake-429`, `fake-500`) count only requests that passed
/// those checks.
public enum FakeModel: Sendable, Equatable {
    /// `fake-echo` and unknown names.
    case echo
    /// `fake-count`.
    case count
    /// `fake-slow[-<ms>[-<n>]]`: gap between ticks, and how many ticks.
    case slow(gap: Duration, ticks: Int = 10)
    /// `fake-429[-<n>]`, `fake-429-ms[-<n>]`: fail the first `failures` attempts.
    case rateLimited(failures: Int, retryAfterMilliseconds: Bool)
    /// `fake-500[-<n>]`; `failures == nil` for `fake-500-always`.
    case serverError(failures: Int?)
    /// `fake-stall`.
    case stall
    /// `fake-cut`.
    case cut
    /// `fake-garbage`.
    case garbage
    /// `fake-tools`.
    case tools
    /// `fake-nousage`.
    case noUsage
    /// `fake-error-stream`.
    case errorStream
    /// `fake-unauthorized`.
    case unauthorized
    /// `fake-codex`.
    case codex
    /// `fake-agent`.
    case agent

    /// The scenarios' canonical names, as listed by `GET /v1/models`.
    public static let allNames: [String] = [
        "fake-echo", "fake-count", "fake-slow", "fake-429", "fake-429-ms", "fake-500", "fake-500-always",
        "fake-stall", "fake-cut", "fake-garbage", "fake-tools", "fake-nousage", "fake-error-stream",
        "fake-unauthorized", "fake-codex", "fake-agent",
    ]

    /// The name that chooses a request's scenario: `modelName` when it starts with `fake-`, else the
    /// first `#fake-…` tag in `prompt` (without the `#`; a trailing `.`, `,` or `:` is not part of it),
    /// else `modelName`.
    public static func scenarioName(modelName: String, prompt: String) -> String {
        guard !modelName.hasPrefix("fake-"), let tag = prompt.firstRange(of: "#fake-") else { return modelName }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")
        var name = String(prompt[prompt.index(after: tag.lowerBound)...].prefix { allowed.contains($0) })
        while let last = name.last, ".,:".contains(last) { name.removeLast() }
        return name
    }

    /// Chooses the scenario for a model name (see the table above).
    public init(modelName: String) {
        let base = modelName.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? modelName
        let parts = base.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts[0] == "fake" else {
            self = .echo
            return
        }
        let rest = Array(parts.dropFirst(2))
        switch parts[1] {
        case "echo": self = .echo
        case "count": self = .count
        case "slow":
            let ms = rest.first.flatMap { Int($0) } ?? 100
            let ticks = rest.dropFirst().first.flatMap { Int($0) } ?? 10
            self = .slow(gap: .milliseconds(max(0, ms)), ticks: min(max(1, ticks), 100_000))
        case "429":
            if rest.first == "ms" {
                let n = rest.dropFirst().first.flatMap { Int($0) } ?? 2
                self = .rateLimited(failures: n, retryAfterMilliseconds: true)
            } else {
                self = .rateLimited(failures: rest.first.flatMap { Int($0) } ?? 2, retryAfterMilliseconds: false)
            }
        case "500":
            if rest.first == "always" {
                self = .serverError(failures: nil)
            } else {
                self = .serverError(failures: rest.first.flatMap { Int($0) } ?? 2)
            }
        case "stall": self = .stall
        case "cut": self = .cut
        case "garbage": self = .garbage
        case "tools": self = .tools
        case "nousage": self = .noUsage
        case "error" where rest.first == "stream": self = .errorStream
        case "unauthorized": self = .unauthorized
        case "codex": self = .codex
        case "agent": self = .agent
        default: self = .echo
        }
    }
}
