import Foundation

/// `fake-agent`: a Codex agent turn that runs one shell command, chosen by a directive in the last
/// user message, for the engine's tests of the sandbox, approvals, interrupts and the agent's
/// environment:
///
/// | Directive | Command |
/// |---|---|
/// | `#fake-agent:sleep` | `sleep 60`, asked to run as long as the tool allows (see ``AgentRequest/shellCall(_:longRunning:sequenceNumber:)``) |
/// | `#fake-agent:write-outside:<absolute path>` | `echo outside > <path>` (the path ends at the first whitespace; quoted for the shell when it needs it) |
/// | `#fake-agent:env` | `env` |
/// | `#fake-agent:command:<shell text>` | the text, up to the end of its line |
/// | `#fake-agent:tool:<name> <JSON object>` | no command: a call to the function tool `<name>` the request offers (an MCP server's tool, say) with those arguments, up to the end of the line |
///
/// Steps, by the number of tool outputs after the last user message (see ``AgentRequest``):
/// 0. a call to the shell tool the request offers, running the command;
/// 1. a final message quoting the last tool output (see ``AgentRequest/quoted(_:)``):
///    ``declinedMessage(command:output:)`` when it says the user rejected the command, else
///    ``returnedMessage(command:output:)``.
/// A request without a valid directive, or without a shell tool, gets a final message starting
/// `fake-agent:` that says so.
struct AgentTurn: AgentScript {
    enum Directive: Equatable {
        case sleep
        case writeOutside(path: String)
        case env
        case command(String)
        case tool(name: String, arguments: String)

        /// The shell text the directive runs, or the tool it calls.
        var command: String {
            switch self {
            case .sleep: "sleep 60"
            case .writeOutside(let path): "echo outside > \(AgentTurn.shellQuoted(path))"
            case .env: "env"
            case .command(let text): text
            case .tool(let name, _): name
            }
        }
    }

    static let usage =
        "#fake-agent:sleep, #fake-agent:write-outside:<absolute path>, #fake-agent:env, #fake-agent:command:<shell text> or #fake-agent:tool:<name> <JSON object>"

    let request: AgentRequest

    func output(sequenceNumber: Int) -> Plan.Output {
        let directive: Directive
        switch Self.directive(in: request.lastUserText) {
        case .success(let found): directive = found
        case .failure(let problem): return .text(Plan.words("fake-agent: \(problem.message)"))
        }
        guard let last = request.toolOutputs.last else {
            if case .tool(let name, let arguments) = directive {
                guard let call = request.functionCall(name, arguments: arguments, sequenceNumber: sequenceNumber) else {
                    let offered = request.tools.keys.sorted().joined(separator: ", ")
                    return .text(Plan.words("fake-agent: the request offers no function tool \(name); it offers \(offered)"))
                }
                return .toolCalls([call])
            }
            guard let call = request.shellCall(directive.command, longRunning: directive == .sleep, sequenceNumber: sequenceNumber) else {
                return .text(Plan.words("fake-agent: the request offers no exec_command, shell_command or shell tool"))
            }
            return .toolCalls([call])
        }
        let message =
            AgentRequest.saysDeclined(last)
            ? Self.declinedMessage(command: directive.command, output: last)
            : Self.returnedMessage(command: directive.command, output: last)
        return .text(Plan.words(message))
    }

    /// The final message after the command's output.
    static func returnedMessage(command: String, output: String) -> String {
        "fake-agent: `\(command)` returned:\n\(AgentRequest.quoted(output))"
    }

    /// The final message after the tool output says the user declined the command.
    static func declinedMessage(command: String, output: String) -> String {
        "fake-agent: `\(command)` was declined:\n\(AgentRequest.quoted(output))"
    }

    struct Problem: Error, Equatable {
        var message: String
    }

    /// The first `#fake-agent:` directive in `text`, or what is wrong with it.
    static func directive(in text: String) -> Result<Directive, Problem> {
        guard let tag = text.firstRange(of: "#fake-agent:") else {
            return .failure(Problem(message: "the last user message has no directive; expected \(usage)"))
        }
        let line = text[tag.upperBound...].prefix { !$0.isNewline }
        let kind = line.prefix { $0.isLetter || $0 == "-" }
        let argument = line.dropFirst(kind.count).first == ":" ? line.dropFirst(kind.count + 1) : nil
        switch kind {
        case "sleep": return .success(.sleep)
        case "env": return .success(.env)
        case "write-outside":
            let path = String((argument ?? "").prefix { !$0.isWhitespace })
            guard path.hasPrefix("/") else {
                return .failure(Problem(message: "#fake-agent:write-outside needs an absolute path, as in #fake-agent:write-outside:/tmp/outside.txt"))
            }
            return .success(.writeOutside(path: path))
        case "command":
            let command = (argument ?? "").trimmingCharacters(in: .whitespaces)
            guard !command.isEmpty else {
                return .failure(Problem(message: "#fake-agent:command needs shell text, as in #fake-agent:command:touch approved.txt"))
            }
            return .success(.command(command))
        case "tool":
            let rest = (argument ?? "").trimmingCharacters(in: .whitespaces)
            let name = String(rest.prefix { !$0.isWhitespace })
            let arguments = rest.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, JSON.parse(Data(arguments.utf8))?.isObject == true else {
                return .failure(Problem(message: #"#fake-agent:tool needs a tool name and a JSON object, as in #fake-agent:tool:mcp__gateway__codex {"prompt":"hi"}"#))
            }
            return .success(.tool(name: name, arguments: arguments))
        default:
            return .failure(Problem(message: "unknown directive #fake-agent:\(kind); expected \(usage)"))
        }
    }

    /// `text` as one shell word: as is when it holds only characters no shell treats specially,
    /// else in single quotes.
    static func shellQuoted(_ text: String) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=,:@%")
        if !text.isEmpty, text.allSatisfy(plain.contains) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
