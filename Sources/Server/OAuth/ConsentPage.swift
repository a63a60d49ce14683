import Foundation

/// The consent page: a small self-contained HTML form, no scripts, no external resources.
enum ConsentPage {
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static let style = """
        body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
        h1{font-size:1.4rem}code{background:#f2f2f2;padding:0 .25rem}label{display:block;margin:1rem 0 .25rem}
        input[type=password]{width:100%;padding:.5rem;font-size:1rem}button{margin:1rem .5rem 0 0;padding:.5rem 1rem;font-size:1rem}
        .error{color:#b00020}
        """

    static func form(_ request: OAuthService.AuthorizationRequest, csrfToken: String, error: String? = nil) -> String {
        let hidden: [(String, String?)] = [
            ("response_type", "code"), ("client_id", request.client.clientID), ("redirect_uri", request.redirectURIGiven ? request.redirectURI : nil),
            ("state", request.state), ("scope", request.scope), ("code_challenge", request.codeChallenge),
            ("code_challenge_method", request.codeChallenge == nil ? nil : "S256"), ("resource", request.resource), ("csrf_token", csrfToken),
        ]
        let fields = hidden.compactMap { name, value in
            value.map { "<input type=\"hidden\" name=\"\(name)\" value=\"\(escape($0))\">" }
        }.joined(separator: "\n")
        let host = escape(Self.host(of: request.redirectURI) ?? request.redirectURI)
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>Authorize access to Codex Gateway</title><style>\(style)</style></head>
            <body>
            <h1>Authorize <code>\(escape(displayName(request.client)))</code></h1>
            <p>The application <code>\(escape(request.client.clientID))</code> asks to use this Codex Gateway on your behalf\
            \(request.scope.map { " (scope: <code>\(escape($0))</code>)" } ?? ""). If you approve, you will be sent back to <code>\(host)</code>.</p>
            <p>\(provenance(request.client))</p>
            \(request.resource.map { "<p>Access to: <code>\(escape($0))</code>\($0.hasSuffix("/mcp") ? " (the MCP endpoint only)" : "")</p>" } ?? "")
            \(error.map { "<p class=\"error\">\(escape($0))</p>" } ?? "")
            <form method="post" action="authorize">
            \(fields)
            <label for="api_key">Gateway API key (proves you own this gateway)</label>
            <input type="password" id="api_key" name="api_key" autocomplete="off" required>
            <button type="submit" name="decision" value="approve">Approve</button>
            <button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
            </form>
            </body></html>
            """
    }

    /// The client's own name, or a description when it gave none.
    static func displayName(_ client: OAuthClient) -> String {
        client.name.isEmpty ? "an unnamed application" : client.name
    }

    /// Who vouches for the client's name, so the person approving knows how far to trust it.
    static func provenance(_ client: OAuthClient) -> String {
        switch client.source {
        case "metadata-document":
            let host = escape(host(of: client.clientID) ?? client.clientID)
            return "Its name comes from its metadata document, published by <code>\(host)</code>."
        case "registration":
            let home = client.clientURI.flatMap(host(of:)).map { ", and says its home is <code>\(escape($0))</code>" } ?? ""
            return "It registered itself with this gateway (the name is its own claim\(home))."
        default:
            return "It was registered by this gateway's operator."
        }
    }

    static func host(of url: String) -> String? {
        URLComponents(string: url)?.host.map { $0 + (URLComponents(string: url)?.port.map { ":\($0)" } ?? "") }
    }

    static func error(_ message: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Authorization error</title><style>\(style)</style></head>
        <body><h1>This authorization request cannot be completed</h1><p class="error">\(escape(message))</p>
        <p>Check the client ID and the callback URL configured for this client.</p></body></html>
        """
    }
}
