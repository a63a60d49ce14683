// fake-openai: the FakeOpenAI stand-in for the OpenAI API, served standalone.
//
//     fake-openai [--port 8089] [--host 127.0.0.1] [--log-level info]
//
// Serves until SIGINT or SIGTERM. Scenarios are chosen by the request's `model` (see `FakeModel`).

import FakeOpenAI
import Foundation
import GatewayRuntime
import Hummingbird
import Logging

let usage = """
    usage: fake-openai [--port <port>] [--host <host>] [--log-level <level>]

      --port <port>        TCP port to listen on (default 8089; 0 picks a free one)
      --host <host>        address to bind (default 127.0.0.1)
      --log-level <level>  trace, debug, info, notice, warning, error or critical (default info)

    Endpoints: POST /v1/chat/completions, POST /v1/responses, GET /v1/models.
    The request's "model" picks the behaviour: fake-echo (default), fake-count, fake-slow[-<ms>[-<ticks>]],
    fake-429[-<n>], fake-429-ms[-<n>], fake-500[-<n>], fake-500-always, fake-stall, fake-cut,
    fake-garbage, fake-tools, fake-nousage, fake-error-stream, fake-unauthorized, fake-codex (a Codex
    agent turn: apply_patch adds hello.txt, a shell command reads it, a final message), fake-agent (a
    Codex turn running the command of #fake-agent:sleep, :env, :write-outside:<path> or
    :command:<shell text>, then a final message quoting its output). With a model name that does not
    start with "fake-", a #fake-<name> tag in the last user message picks it. "Write a hello
    function" with an apply_patch tool on offer writes hello.py.
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fake-openai: \(message)\n\n\(usage)\n".utf8))
    exit(64)
}

struct Options {
    var port = 8089
    var host = "127.0.0.1"
    var logLevel = Logger.Level.info
}

func parseOptions(_ commandLine: [String]) -> Options {
    var options = Options()
    var arguments = commandLine.dropFirst()[...]
    while let argument = arguments.popFirst() {
        func value() -> String {
            guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
            return value
        }
        func portNumber(_ text: String) -> Int {
            guard let parsed = Int(text), (0...65535).contains(parsed) else { fail("--port needs a number from 0 to 65535") }
            return parsed
        }
        switch argument {
        case "--port", "-p":
            options.port = portNumber(value())
        case "--host":
            options.host = value()
        case "--log-level":
            guard let level = Logger.Level(rawValue: value()) else { fail("unknown log level") }
            options.logLevel = level
        case "--help", "-h":
            print(usage)
            exit(0)
        case _ where argument.hasPrefix("--port="):
            options.port = portNumber(String(argument.dropFirst("--port=".count)))
        case _ where argument.hasPrefix("--host="):
            options.host = String(argument.dropFirst("--host=".count))
        default:
            fail("unknown argument \(argument)")
        }
    }
    return options
}

let options = parseOptions(CommandLine.arguments)
let host = options.host
var logger = Logger(label: "fake-openai")
logger.logLevel = options.logLevel

// Nothing reads the requests of a standalone fake: keeping them would only grow its memory.
let app = FakeOpenAIServer.makeApplication(host: host, port: options.port, recorder: RequestRecorder(keepsRequests: false), logger: logger) { [logger] boundPort in
    logger.notice("fake-openai listening", metadata: ["baseURL": "http://\(host):\(boundPort)/v1"])
    // A line scripts can wait for, whatever the log level.
    FileHandle.standardOutput.write(Data("fake-openai listening on http://\(host):\(boundPort)/v1\n".utf8))
}
// On the event loops, as the gateway: benchmarks then measure the gateway, not thread hand-offs here.
try await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) {
    try await app.runService()
}
