import CodexAppServer
import Foundation
import GatewayRuntime

/// The lines of a file in Fixtures/ (lines the real codex app-server 0.147.0 wrote).
func fixtureLines(_ name: String) throws -> [Data] {
    let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/CodexAppServerTests/Fixtures/\(name)"), encoding: .utf8)
    return text.split(separator: "\n").map { Data($0.utf8) }
}

/// Decodes one line as the server's message.
func decodeMessage(_ line: Data) throws -> AppServer.Message {
    try JSONDecoder().decode(AppServer.Message.self, from: line)
}

func decodeMessage(_ line: String) throws -> AppServer.Message {
    try decodeMessage(Data(line.utf8))
}

/// A JSON text as a JSONValue, for comparing encodings without caring about member order.
func json(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

func json(encoding value: some Encodable) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
}
