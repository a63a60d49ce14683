import Foundation

extension GatewayConfiguration {
    /// How MCP clients may introduce themselves to the authorization server: dynamic registration
    /// and client ID metadata documents (PROTOCOLS.md §11).
    mutating func loadOAuthClients(environment: Environment) throws {
        if let value = try environment.integer("OAUTH_REGISTRATIONS_PER_MINUTE", in: 0...Int.max, expected: "a whole number, 0 for unlimited") {
            oauthRegistrationsPerMinute = value
        }
        clientMetadataDocuments.enabled = try Self.bool("OAUTH_CLIENT_METADATA_DOCUMENTS", environment: environment) ?? true
        if let value = try environment.seconds("OAUTH_CLIENT_METADATA_TIMEOUT_SECONDS", in: 0.1...60, expected: "a number of seconds from 0.1 to 60") {
            clientMetadataDocuments.timeout = value
        }
        if let value = try environment.seconds(
            "OAUTH_CLIENT_METADATA_CACHE_SECONDS", in: 0...Double.greatestFiniteMagnitude, expected: "a number of seconds, 0 or more")
        {
            clientMetadataDocuments.cacheLifetime = value
        }
    }
}
