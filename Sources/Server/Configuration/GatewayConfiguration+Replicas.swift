import Foundation

extension GatewayConfiguration {
    /// `REPLICA_URL`: where the other replicas reach this one (PROTOCOLS.md §12), an http(s) origin
    /// such as `http://10.0.0.7:8080`. Conversations started here are recorded as living here,
    /// and requests for conversations that live elsewhere are forwarded there.
    mutating func loadReplica(environment: Environment) throws {
        guard let raw = environment.nonEmpty("REPLICA_URL") else { return }
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw environment.error("REPLICA_URL", "expected the http(s) address other replicas reach this one at, such as http://10.0.0.7:8080, found '\(raw)'")
        }
        guard components.user == nil, components.password == nil, components.query == nil, components.fragment == nil,
            components.path.isEmpty || components.path == "/"
        else {
            throw environment.error("REPLICA_URL", "must be an origin (scheme, host and port) with no credentials, path, query or fragment, found '\(raw)'")
        }
        guard databaseURL != nil else {
            throw environment.error("REPLICA_URL", "replicas share their state through PostgreSQL: set DATABASE_URL too (with the SQLite file there is only one gateway)")
        }
        var url = raw
        while url.hasSuffix("/") { url.removeLast() }
        replicaURL = url
    }
}
