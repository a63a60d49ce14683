import Foundation
import GatewayServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The browser console's server side (PROTOCOLS.md §13): its files under a strict CSP, signing in
/// with an API key for an HttpOnly SameSite=Strict cookie, the CSRF token and the Origin rule on
/// every request the cookie authenticates, signing out, and a revoked key's sessions.
@Suite("Console: files, sessions, CSRF and origins")
struct ConsoleTests {
    static let origin = "https://gateway.example"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// A gateway whose public origin is `PUBLIC_BASE_URL` (https unless told otherwise).
    static func gateway(publicBaseURL: String = origin, _ extra: [String: String] = [:]) -> TestGateway {
        var environment = ["PUBLIC_BASE_URL": publicBaseURL, "GATEWAY_ENGINE": "chat", "OPENAI_API_KEY": "sk-unused"]
        environment.merge(extra) { _, new in new }
        return TestGateway(environment)
    }

    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    /// A signed-in session: the cookie header value to send back and the CSRF token.
    struct Session {
        var cookie: String
        var csrf: String
        var setCookie: String
    }

    static func signIn(_ client: any TestClientProtocol, key: String = TestGateway.apiKey, origin: String? = origin) async throws -> Session {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let origin { headers[.origin] = origin }
        let response = try await client.execute(uri: "/console/session", method: .post, headers: headers, body: json(["api_key": key]))
        #expect(response.status == .created, "\(response.text)")
        let setCookie = try #require(response.headers[.setCookie])
        let pair = try #require(setCookie.split(separator: ";").first.map(String.init))
        let csrf = try #require(try response.json()["csrf_token"] as? String)
        return Session(cookie: pair, csrf: csrf, setCookie: setCookie)
    }

    static func headers(_ session: Session, csrf: String? = nil, origin: String? = origin, extra: HTTPFields = [:]) -> HTTPFields {
        var headers: HTTPFields = [.cookie: session.cookie]
        if let csrf { headers[csrfHeader] = csrf }
        if let origin { headers[.origin] = origin }
        headers.append(contentsOf: extra)
        return headers
    }

    // MARK: Signing in

    @Test func aBadKeyIs401AndSetsNoCookie() async throws {
        try await Self.gateway().withRouter { client in
            let response = try await client.execute(
                uri: "/console/session", method: .post, headers: [.contentType: "application/json", .origin: Self.origin],
                body: Self.json(["api_key": "not-a-key-0123456789abcdef0123456789"])
            )
            #expect(response.status == .unauthorized)
            #expect(try response.json()["code"] as? String == "invalid_api_key")
            #expect(response.headers[.setCookie] == nil)
            let empty = try await client.execute(
                uri: "/console/session", method: .post, headers: [.contentType: "application/json"], body: Self.json(["api_key": ""])
            )
            #expect(empty.status == .badRequest)
        }
    }

    @Test func aGoodKeyGetsAStrictHttpOnlyCookieThatAuthenticatesLikeTheKey() async throws {
        try await Self.gateway().withRouter { client in
            let session = try await Self.signIn(client)
            let attributes = Set(session.setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(attributes == ["Path=/", "Max-Age=28800", "HttpOnly", "SameSite=Strict", "Secure"], "\(session.setCookie)")
            #expect(session.cookie.hasPrefix("cgw_console=cgs_"))
            #expect(!session.setCookie.contains(TestGateway.apiKey), "the key is not in the cookie")

            let conversations = try await client.execute(uri: "/conversations", method: .get, headers: [.cookie: session.cookie])
            #expect(conversations.status == .ok, "\(conversations.text)")
            let whoami = try await client.execute(uri: "/whoami", method: .get, headers: [.cookie: session.cookie])
            let viaKey = try await client.execute(uri: "/whoami", method: .get, headers: .apiKey())
            #expect(try whoami.json()["id"] as? String == (try viaKey.json()["id"] as? String))

            let current = try await client.execute(uri: "/console/session", method: .get, headers: [.cookie: session.cookie])
            #expect(current.status == .ok)
            #expect(try current.json()["csrf_token"] as? String == session.csrf, "a reloaded page gets the same token")
            let notASession = try await client.execute(uri: "/console/session", method: .get, headers: .apiKey())
            #expect(notASession.status == .notFound)
            #expect(try notASession.json()["code"] as? String == "no_console_session")
        }
    }

    @Test func theCookieIsSecureOnlyOverHTTPS() async throws {
        try await Self.gateway(publicBaseURL: "http://gateway.test:8080").withRouter { client in
            let plain = try await Self.signIn(client, origin: "http://gateway.test:8080")
            #expect(!plain.setCookie.contains("Secure"), "\(plain.setCookie)")
            let response = try await client.execute(
                uri: "/console/session", method: .post,
                headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-Proto")!: "https"],
                body: Self.json(["api_key": TestGateway.apiKey])
            )
            #expect(response.headers[.setCookie]?.hasSuffix("; Secure") == true, "behind a TLS proxy")
        }
    }

    // MARK: CSRF and origins

    @Test func aStateChangingRequestNeedsTheCSRFToken() async throws {
        try await Self.gateway().withRouter { client in
            let session = try await Self.signIn(client)
            let wrong: [String?] = [nil, "wrong", String(session.csrf.dropLast()) + (session.csrf.hasSuffix("A") ? "B" : "A")]
            for csrf in wrong {
                let response = try await client.execute(uri: "/ws/ticket", method: .post, headers: Self.headers(session, csrf: csrf))
                #expect(response.status == .forbidden, "csrf \(csrf ?? "none")")
                #expect(try response.json()["code"] as? String == "csrf_token_invalid")
            }
            let noOrigin = try await client.execute(uri: "/ws/ticket", method: .post, headers: Self.headers(session, csrf: session.csrf, origin: nil))
            #expect(noOrigin.status == .created)
            let ok = try await client.execute(uri: "/ws/ticket", method: .post, headers: Self.headers(session, csrf: session.csrf))
            #expect(ok.status == .created, "\(ok.text)")
            // Another session's token is not this one's.
            let other = try await Self.signIn(client)
            #expect(other.csrf != session.csrf)
            let crossed = try await client.execute(uri: "/ws/ticket", method: .post, headers: Self.headers(session, csrf: other.csrf))
            #expect(crossed.status == .forbidden)
        }
    }

    @Test func aCrossSiteRequestIsRefusedEvenWithTheToken() async throws {
        try await Self.gateway().withRouter { client in
            let session = try await Self.signIn(client)
            let evil = "https://evil.example"
            let post = try await client.execute(uri: "/ws/ticket", method: .post, headers: Self.headers(session, csrf: session.csrf, origin: evil))
            #expect(post.status == .forbidden)
            #expect(try post.json()["code"] as? String == "cross_site_request")
            let get = try await client.execute(uri: "/conversations", method: .get, headers: Self.headers(session, origin: evil))
            #expect(get.status == .forbidden)
            let sibling = try await client.execute(
                uri: "/conversations", method: .get, headers: Self.headers(session, origin: nil, extra: [HTTPField.Name("Sec-Fetch-Site")!: "same-site"])
            )
            #expect(sibling.status == .forbidden, "a sibling subdomain is another site's page")
            let signIn = try await client.execute(
                uri: "/console/session", method: .post, headers: [.contentType: "application/json", .origin: evil],
                body: Self.json(["api_key": TestGateway.apiKey])
            )
            #expect(signIn.status == .forbidden, "no login CSRF")
            #expect(signIn.headers[.setCookie] == nil)
            // An API key is not a cookie: other origins may still call with it (CORS decides).
            let keyed = try await client.execute(uri: "/conversations", method: .get, headers: .apiKey() + [.origin: evil])
            #expect(keyed.status == .ok)
        }
    }

    // MARK: Without a session, signing out, revocation

    @Test func everyAPIRequestNeedsTheSessionOrACredential() async throws {
        try await Self.gateway().withRouter { client in
            let none = try await client.execute(uri: "/conversations", method: .get)
            #expect(none.status == .unauthorized)
            let forged = try await client.execute(uri: "/conversations", method: .get, headers: [.cookie: "cgw_console=cgs_forged"])
            #expect(forged.status == .unauthorized)
            #expect(try forged.json()["code"] as? String == "session_expired")
            let signOut = try await client.execute(uri: "/console/session", method: .delete)
            #expect(signOut.status == .unauthorized)
        }
    }

    @Test func signingOutEndsTheSessionOnTheServer() async throws {
        try await Self.gateway().withRouter { client in
            let session = try await Self.signIn(client)
            let noToken = try await client.execute(uri: "/console/session", method: .delete, headers: Self.headers(session))
            #expect(noToken.status == .forbidden)
            let out = try await client.execute(uri: "/console/session", method: .delete, headers: Self.headers(session, csrf: session.csrf))
            #expect(out.status == .noContent)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            // The browser would drop the cookie; a copy of it no longer works either.
            let replay = try await client.execute(uri: "/conversations", method: .get, headers: [.cookie: session.cookie])
            #expect(replay.status == .unauthorized)
        }
    }

    @Test func aRevokedKeysSessionsStopWorking() async throws {
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        let keys = SQLiteAPIKeyStore(database: database)
        do {
            let (key, info) = try await keys.create(name: "console")
            try await Self.gateway(["CODEX_HOME": home]).withRouter { client in
                let session = try await Self.signIn(client, key: key)
                let before = try await client.execute(uri: "/conversations", method: .get, headers: [.cookie: session.cookie])
                #expect(before.status == .ok)
                #expect(try await keys.revoke(id: info.id))
                let after = try await client.execute(uri: "/conversations", method: .get, headers: [.cookie: session.cookie])
                #expect(after.status == .unauthorized)
                let again = try await client.execute(
                    uri: "/console/session", method: .post, headers: [.contentType: "application/json"], body: Self.json(["api_key": key])
                )
                #expect(again.status == .unauthorized)
            }
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }

    @Test func aSessionEndsWhenItExpiresAndIsThenForgotten() async throws {
        let home = TemporaryDirectory.make()
        let database = try GatewayDatabase(path: home + "/gateway.sqlite3", logger: TestGateway.quietLogger)
        do {
            let store = SQLiteConsoleSessionStore(database: database)
            let keys = MemoryAPIKeyStore(keys: [TestGateway.apiKey], fingerprinter: database.fingerprinter)
            let console = ConsoleService(store: store, apiKeys: keys, publicBaseURL: Self.origin, lifetime: 60)
            let start = Date()
            #expect(try await console.signIn(key: "not-a-key", now: start) == nil)
            let signIn = try #require(try await console.signIn(key: TestGateway.apiKey, now: start))
            #expect(signIn.session.expiresAt == start.addingTimeInterval(60))
            #expect(try await console.resolve(token: signIn.token, now: start.addingTimeInterval(59))?.principal.id == signIn.principal.id)
            #expect(try await console.resolve(token: signIn.token, now: start.addingTimeInterval(60)) == nil, "expired")
            // The next sign-in sweeps expired sessions away.
            _ = try await console.signIn(key: TestGateway.apiKey, now: start.addingTimeInterval(61))
            #expect(try await store.delete(tokenHash: signIn.session.tokenHash) == false)
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }

    // MARK: The files

    @Test func everyConsoleFileCarriesTheStrictPolicy() async throws {
        try await Self.gateway().withRouter { client in
            let files = [("/console", "text/html"), ("/console/console.js", "text/javascript"), ("/console/console.css", "text/css")]
            for (path, type) in files {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path): \(response.headers[.contentType] ?? "")")
                #expect(response.headers[.contentSecurityPolicy] == PageSecurityMiddleware.consolePolicy, "\(path)")
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(!response.text.isEmpty)
            }
            #expect(
                PageSecurityMiddleware.consolePolicy
                    == "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            )
            let missing = try await client.execute(uri: "/console/secrets.txt", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentSecurityPolicy] == PageSecurityMiddleware.consolePolicy)
        }
    }

    @Test func thePageHasNoInlineScriptStyleOrHandlerAndNamesItsControls() async throws {
        try await Self.gateway().withRouter { client in
            let html = try await client.execute(uri: "/console", method: .get).text
            let tags = HTMLTags(html)
            #expect(tags.elements.count > 20, "the page parsed")
            let scripts = tags.elements.filter { $0.name == "script" }
            #expect(scripts.count == 1)
            for script in scripts {
                #expect(script.attributes["src"]?.hasPrefix("/console/") == true, "only the gateway's own script")
                #expect(script.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no inline script")
            }
            #expect(!tags.elements.contains { $0.name == "style" }, "no inline style sheet")
            for element in tags.elements {
                #expect(element.attributes["style"] == nil, "no style attribute on <\(element.name)>")
                for name in element.attributes.keys {
                    #expect(!name.hasPrefix("on"), "no inline handler \(name) on <\(element.name)>")
                }
                for value in element.attributes.values {
                    #expect(!value.lowercased().hasPrefix("javascript:"))
                    #expect(!value.contains("://"), "nothing from elsewhere: \(value)")
                }
            }
            // PROTOCOLS.md §13's names: labels of fields, texts of buttons, the list, the link.
            let labels = tags.elements.filter { $0.name == "label" }.map(\.text)
            #expect(labels.contains("API key") && labels.contains("Prompt"))
            let buttons = tags.elements.filter { $0.name == "button" }.map(\.text)
            for name in ["Sign in", "Sign out", "New conversation", "Send", "Interrupt"] {
                #expect(buttons.contains(name), "a button named \(name)")
            }
            #expect(tags.elements.contains { $0.name == "ul" && $0.attributes["aria-label"] == "Conversations" })
            #expect(tags.elements.contains { $0.name == "a" && $0.text == "Usage" })
        }
    }
}

/// A small HTML tokenizer for the tests: elements with their attributes, their text up to the
/// next tag, and for `<script>`/`<style>` the raw content up to the closing tag.
struct HTMLTags {
    struct Element {
        var name: String
        var attributes: [String: String]
        /// The text after the start tag, up to the next tag, trimmed.
        var text: String
        /// For raw-text elements (script, style): everything up to the end tag.
        var content: String
    }

    var elements: [Element] = []

    init(_ html: String) {
        let characters = Array(html.unicodeScalars)
        var index = 0
        func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(characters[range])) }
        while index < characters.count {
            guard characters[index] == "<" else { index += 1; continue }
            if string(index..<min(index + 4, characters.count)) == "<!--" {
                let rest = string(index..<characters.count)
                index += (rest.range(of: "-->").map { rest.distance(from: rest.startIndex, to: $0.upperBound) } ?? rest.count)
                continue
            }
            var end = index + 1
            var quote: Unicode.Scalar?
            while end < characters.count {
                let character = characters[end]
                if let open = quote {
                    if character == open { quote = nil }
                } else if character == "\"" || character == "'" {
                    quote = character
                } else if character == ">" {
                    break
                }
                end += 1
            }
            let tag = string(index + 1..<end)
            index = end + 1
            guard let first = tag.first, first.isLetter else { continue }
            let (name, attributes) = Self.parseTag(tag)
            var textEnd = index
            while textEnd < characters.count && characters[textEnd] != "<" { textEnd += 1 }
            var element = Element(name: name, attributes: attributes, text: string(index..<textEnd).trimmingCharacters(in: .whitespacesAndNewlines), content: "")
            if name == "script" || name == "style" {
                let rest = string(index..<characters.count)
                if let close = rest.range(of: "</\(name)", options: .caseInsensitive) {
                    element.content = String(rest[rest.startIndex..<close.lowerBound])
                    index += rest.unicodeScalars.distance(from: rest.unicodeScalars.startIndex, to: close.lowerBound)
                }
            }
            elements.append(element)
        }
    }

    static func parseTag(_ tag: String) -> (String, [String: String]) {
        var scanner = Substring(tag.hasSuffix("/") ? String(tag.dropLast()) : tag)
        let name = String(scanner.prefix { !$0.isWhitespace }).lowercased()
        scanner = scanner.dropFirst(name.count)
        var attributes: [String: String] = [:]
        while true {
            scanner = scanner.drop { $0.isWhitespace }
            guard !scanner.isEmpty else { break }
            let attribute = String(scanner.prefix { !$0.isWhitespace && $0 != "=" }).lowercased()
            scanner = scanner.dropFirst(attribute.count)
            if scanner.first == "=" {
                scanner = scanner.dropFirst()
                if let quote = scanner.first, quote == "\"" || quote == "'" {
                    scanner = scanner.dropFirst()
                    let value = scanner.prefix { $0 != quote }
                    attributes[attribute] = String(value)
                    scanner = scanner.dropFirst(value.count + 1)
                } else {
                    let value = scanner.prefix { !$0.isWhitespace }
                    attributes[attribute] = String(value)
                    scanner = scanner.dropFirst(value.count)
                }
            } else if !attribute.isEmpty {
                attributes[attribute] = ""
            } else {
                scanner = scanner.dropFirst()
            }
        }
        return (name, attributes)
    }
}

private func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var fields = lhs
    fields.append(contentsOf: rhs)
    return fields
}
