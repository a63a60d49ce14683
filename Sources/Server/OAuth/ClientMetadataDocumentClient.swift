import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Fetches OAuth Client ID Metadata Documents: a client whose `client_id` is an https URL is
/// described by the JSON document at that URL (its name and redirect URIs), so MCP clients need
/// not register first (PROTOCOLS.md §11).
///
/// The URL is the caller's, so the fetch goes through the ``OutboundHTTPClient`` and its policy
/// (no loopback, private or link-local address, checked on the connected address), https only,
/// no redirects, within a time and a size limit. Documents are cached for ``Settings/cacheLifetime``.
public final class ClientMetadataDocumentClient: Sendable {
    public struct Settings: Sendable {
        /// `OAUTH_CLIENT_METADATA_DOCUMENTS`: whether https `client_id`s are accepted at all.
        public var enabled = true
        /// `OAUTH_CLIENT_METADATA_TIMEOUT_SECONDS`: the whole fetch, connection included.
        public var timeout: Duration = .seconds(5)
        /// The largest document accepted.
        public var maxBytes = 16 * 1024
        /// `OAUTH_CLIENT_METADATA_CACHE_SECONDS`: how long a fetched document is used without asking again.
        public var cacheLifetime: Duration = .seconds(300)
        /// Beyond this many cached documents, the oldest are dropped.
        public var cacheCapacity = 1000

        public init() {}
    }

    /// Why a `client_id` URL does not name a usable client, in a sentence for the person at the consent page.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    let outbound: OutboundHTTPClient
    let settings: Settings
    let logger: Logger
    private let cache = Mutex<[String: (client: OAuthClient, expiresAt: ContinuousClock.Instant)]>([:])

    public init(outbound: OutboundHTTPClient, settings: Settings, logger: Logger) {
        self.outbound = outbound
        self.settings = settings
        self.logger = logger
    }

    /// Whether `clientID` is meant as a metadata document URL (rather than a registered client's ID).
    public static func isDocumentURL(_ clientID: String) -> Bool {
        clientID.lowercased().hasPrefix("https://")
    }

    /// The client the document at `url` describes, from the cache or fetched now.
    public func client(at url: String) async throws(Failure) -> OAuthClient {
        guard settings.enabled else {
            throw Failure(description: "This gateway does not accept client metadata documents (OAUTH_CLIENT_METADATA_DOCUMENTS=false).")
        }
        if let cached = cache.withLock({ $0[url] }), cached.expiresAt > .now { return cached.client }
        try Self.checkURL(url)
        if let refusal = outbound.policy.check(url) {
            throw Failure(description: "The client's metadata document URL \(refusal.description).")
        }
        let body: ByteBuffer
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "codex-gateway/\(GatewayVersion.current)")
            let response = try await outbound.client.execute(request, timeout: .nanoseconds(settings.timeout.nanoseconds))
            guard response.status.code == 200 else {
                throw Failure(description: "The client's metadata document could not be fetched (HTTP \(response.status.code)).")
            }
            body = try await response.body.collect(upTo: settings.maxBytes)
        } catch let failure as Failure {
            throw failure
        } catch let error as NIOTooManyBytesError {
            logger.info("client metadata document too large", metadata: ["oauth.client_id": .string(url), "error": .string("\(error)")])
            throw Failure(description: "The client's metadata document is larger than \(settings.maxBytes) bytes.")
        } catch {
            // The cause (a refused address, a timeout, TLS) is for the log, not for whoever typed the URL.
            logger.info("client metadata document fetch failed", metadata: ["oauth.client_id": .string(url), "error": .string("\(error)")])
            throw Failure(description: "The client's metadata document could not be fetched.")
        }
        let client = try Self.parse(Data(body.readableBytesView), url: url)
        store(client)
        logger.info("client metadata document fetched", metadata: ["oauth.client_id": .string(url)])
        return client
    }

    private func store(_ client: OAuthClient) {
        let expiresAt = ContinuousClock.now.advanced(by: settings.cacheLifetime)
        cache.withLock { cache in
            if cache.count >= settings.cacheCapacity {
                let now = ContinuousClock.now
                cache = cache.filter { $0.value.expiresAt > now }
                while cache.count >= settings.cacheCapacity, let oldest = cache.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                    cache[oldest] = nil
                }
            }
            cache[client.clientID] = (client, expiresAt)
        }
    }

    /// The draft's rules for a client ID URL: https, a path, no fragment, no credentials, no dot segments.
    static func checkURL(_ url: String) throws(Failure) {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "https", let host = components.host, !host.isEmpty else {
            throw Failure(description: "A client ID that is a URL must be an absolute https URL.")
        }
        guard components.fragment == nil, components.user == nil, components.password == nil else {
            throw Failure(description: "A client ID URL must have no fragment and no credentials.")
        }
        let segments = components.path.split(separator: "/", omittingEmptySubsequences: false)
        guard components.path.count > 1, !segments.contains(where: { $0 == "." || $0 == ".." }) else {
            throw Failure(description: "A client ID URL must have a path without dot segments.")
        }
    }

    struct Document: Decodable {
        var clientID: String?
        var clientName: String?
        var clientURI: String?
        var redirectURIs: [String]?
        var tokenEndpointAuthMethod: String?
        var clientSecret: String?

        enum CodingKeys: String, CodingKey {
            case clientID = "client_id", clientName = "client_name", clientURI = "client_uri", redirectURIs = "redirect_uris"
            case tokenEndpointAuthMethod = "token_endpoint_auth_method", clientSecret = "client_secret"
        }
    }

    /// The client a fetched document describes: it must name itself (`client_id` equal to its URL),
    /// list redirect URIs (https or loopback http) and be a public client.
    static func parse(_ data: Data, url: String) throws(Failure) -> OAuthClient {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw Failure(description: "The client's metadata document is not a JSON object of client metadata.")
        }
        guard document.clientID == url else {
            throw Failure(description: "The client's metadata document names another client_id than its own URL.")
        }
        guard document.clientSecret == nil, (document.tokenEndpointAuthMethod ?? "none") == "none" else {
            throw Failure(description: "A client described by a metadata document must be a public client (token_endpoint_auth_method none, no secret).")
        }
        guard let redirectURIs = document.redirectURIs, !redirectURIs.isEmpty else {
            throw Failure(description: "The client's metadata document lists no redirect_uris.")
        }
        for uri in redirectURIs {
            if let problem = RedirectURIRule.problem(uri) {
                throw Failure(description: "The client's metadata document lists the redirect URI '\(uri)', which \(problem).")
            }
        }
        let host = URLComponents(string: url)?.host ?? url
        let name = document.clientName.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : String($0.prefix(200)) }
        return OAuthClient(
            clientID: url,
            name: name ?? host,
            redirectURIs: redirectURIs,
            source: "metadata-document",
            createdAt: Date(),
            secretHash: "",
            tokenEndpointAuthMethod: "none",
            clientURI: document.clientURI
        )
    }
}

/// Which redirect URIs a client may register by itself (RFC 7591, client metadata documents):
/// https, or http on a loopback host (any port), as RFC 8252 §7.3 has native apps do.
enum RedirectURIRule {
    /// Why `uri` is not acceptable, or nil.
    static func problem(_ uri: String) -> String? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty
        else { return "is not an absolute URI with a host" }
        guard components.fragment == nil else { return "has a fragment" }
        guard !uri.contains(where: { $0.isWhitespace }) else { return "contains whitespace" }
        switch scheme {
        case "https": return nil
        case "http":
            let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
            return loopback ? nil : "is http on a host that is not loopback (use https, or http://127.0.0.1, http://[::1] or http://localhost)"
        default: return "is neither https nor loopback http"
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
