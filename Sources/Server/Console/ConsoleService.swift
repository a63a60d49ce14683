import Crypto
import Foundation
import GatewayRuntime
import HTTPTypes
import Hummingbird
import Logging

/// The browser console's sessions: signing in with an API key, the session cookie, its CSRF token
/// and the same-origin rule (PROTOCOLS.md §13).
///
/// Why a stored session rather than a signed, stateless cookie: signing out and revoking the key
/// must end the session at once, which a stateless cookie can only do with a list of revoked
/// ones, i.e. stored state anyway. The store holds the token's SHA-256 and the key's ID only.
///
/// The CSRF token is an HMAC of the session token, so it need not be stored and a reloaded page
/// gets it again from `GET /console/session`; a page of another site can neither read the
/// HttpOnly cookie it derives from nor (SameSite=Strict, the Origin check) use the cookie at all.
public struct ConsoleService: Sendable {
    /// The cookie's name; Path=/ because the console calls the whole API (/conversations, /ws/ticket, /usage…).
    public static let cookieName = "cgw_console"
    /// The header a non-GET request authenticated by the cookie must carry.
    public static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    /// How long a session lasts; sign in again after it.
    public static let defaultLifetime: TimeInterval = 8 * 3600

    let store: any ConsoleSessionStore
    let apiKeys: any APIKeyStore
    /// The origin of `PUBLIC_BASE_URL` (scheme://host[:port]); pages there may use the session.
    let publicOrigin: String?
    let lifetime: TimeInterval

    public init(store: any ConsoleSessionStore, apiKeys: any APIKeyStore, publicBaseURL: String?, lifetime: TimeInterval = Self.defaultLifetime) {
        self.store = store
        self.apiKeys = apiKeys
        self.publicOrigin = publicBaseURL.flatMap(Self.origin(of:))
        self.lifetime = lifetime
    }

    /// A new session.
    public struct SignIn: Sendable {
        public var token: String
        public var session: ConsoleSession
        public var principal: Principal
    }

    /// Signs in with `key`: nil when it is not a valid key. The key itself is not kept.
    public func signIn(key: String, now: Date = Date()) async throws -> SignIn? {
        guard let principal = try await apiKeys.principal(forKey: key), principal.kind == .apiKey else { return nil }
        try? await store.deleteExpired(now: now)
        let token = SecretToken.generate(prefix: "cgs_")
        let session = ConsoleSession(tokenHash: SecretToken.hash(token), keyID: principal.id, createdAt: now, expiresAt: now.addingTimeInterval(lifetime))
        try await store.insert(session)
        return SignIn(token: token, session: session, principal: principal)
    }

    /// Ends the session of `token`; false when there was none.
    @discardableResult
    public func signOut(token: String) async throws -> Bool {
        try await store.delete(tokenHash: SecretToken.hash(token))
    }

    /// The session of `token` and the principal of its key, or nil when the session is unknown or
    /// expired or its key is revoked (the session is then forgotten).
    public func resolve(token: String, now: Date = Date()) async throws -> (session: ConsoleSession, principal: Principal)? {
        guard let session = try await store.session(tokenHash: SecretToken.hash(token), now: now) else { return nil }
        guard let principal = try await apiKeys.principal(forID: session.keyID) else {
            try? await store.deleteAll(keyID: session.keyID)
            return nil
        }
        return (session, principal)
    }

    /// The CSRF token of a session: HMAC-SHA256 of the session token, base64url.
    public static func csrfToken(forSessionToken token: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("codex-gateway console csrf".utf8), using: SymmetricKey(data: Data(token.utf8)))
        return SecretToken.base64URL(Data(mac))
    }

    /// Whether `presented` is the CSRF token of the session `token`, compared in constant time.
    public static func isValidCSRF(_ presented: String?, sessionToken token: String) -> Bool {
        guard let presented else { return false }
        return CredentialHash.constantTimeEquals(Array(presented.utf8), Array(csrfToken(forSessionToken: token).utf8))
    }

    /// The session token in a request's `Cookie` headers, if any.
    public static func sessionToken(in headers: HTTPFields) -> String? {
        for field in headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { return value }
            }
        }
        return nil
    }

    /// Whether the request came to the gateway over https: `PUBLIC_BASE_URL` is https, or the
    /// proxy in front says so (`X-Forwarded-Proto`).
    public func isSecure(_ headers: HTTPFields) -> Bool {
        if publicOrigin?.hasPrefix("https://") == true { return true }
        return headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased().split(separator: ",").first?.trimmingCharacters(in: .whitespaces) == "https"
    }

    /// The `Set-Cookie` value that stores `token` for `maxAge` seconds (0 clears it).
    public static func cookie(_ token: String, maxAge: Int, secure: Bool) -> String {
        "\(cookieName)=\(token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// What the session endpoints learn from the request's headers.
    public struct RequestFacts: Sendable {
        /// Why the request may not sign in or out (another site's), or nil.
        public var crossSiteRefusal: String?
        /// Whether the cookie must be `Secure`.
        public var secure: Bool
    }

    public func facts(_ headers: HTTPFields, authority: String?) -> RequestFacts {
        RequestFacts(crossSiteRefusal: crossSiteRefusal(headers, authority: authority), secure: isSecure(headers))
    }

    /// Why a request may not use the console session because of where it comes from, or nil.
    /// `Origin` (sent by browsers on every cross-origin request and on same-origin non-GET ones)
    /// must be the gateway's own: `PUBLIC_BASE_URL`'s, or that of the host (`authority`) it was sent to.
    /// `Sec-Fetch-Site`, when sent, must say same-origin (or none: typed by the user).
    public func crossSiteRefusal(_ headers: HTTPFields, authority: String?) -> String? {
        if let site = headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased(), site != "same-origin", site != "none" {
            return "the request came from another site (Sec-Fetch-Site: \(site))"
        }
        guard let origin = headers[.origin] else { return nil }
        let normalized = origin.lowercased()
        if let publicOrigin, normalized == publicOrigin { return nil }
        if let host = authority?.lowercased(), normalized == "http://" + host || normalized == "https://" + host { return nil }
        return "the request came from another origin (\(origin))"
    }

    /// scheme://host[:port] of a URL, lowercased; nil when it has none.
    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased() else {
            return nil
        }
        let defaultPort = scheme == "https" ? 443 : 80
        return "\(scheme)://\(host)" + (components.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
    }

    /// The 403 of a request from another site.
    static func crossSite(_ reason: String) -> GatewayError {
        GatewayError(status: .forbidden, code: "cross_site_request", message: "Refused: \(reason); the console session works only on the gateway's own pages.")
    }
}
