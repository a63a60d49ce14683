import Logging
import ModelProvider

extension GatewayConfiguration {
    /// How turns are run: the gateway's own Codex core, talking to the provider turn by turn.
    public var engine: String { "chat" }

    /// The metadata of the one startup line: what the gateway runs, against what, from where, on which address.
    public func startupMetadata(listeningPort: Int) -> Logger.Metadata {
        let provider = codex.provider
        return [
            "engine": .string(engine),
            "provider.id": .string(codex.modelProvider),
            "provider.wire_api": .string(provider.wireAPI.rawValue),
            "provider.model": .string(codex.model),
            "provider.base_url": .string(provider.baseURL),
            "codex_home": .string(codexHome),
            "database.path": .string(databasePath),
            "listen.address": .string("\(host):\(listeningPort)"),
        ]
    }
}
