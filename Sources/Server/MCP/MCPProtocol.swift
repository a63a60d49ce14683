import GatewayRuntime

/// The Model Context Protocol's constants as the gateway speaks them (PROTOCOLS.md §11): the
/// versions it negotiates, the error codes it answers and the `_meta` keys of the stateless version.
enum MCPProtocol {
    /// Versions with an `initialize` handshake and an `Mcp-Session-Id`, oldest first.
    static let sessionVersions = ["2025-06-18", "2025-11-25"]
    /// Stateless versions: every request carries its envelope in `params._meta`; no session.
    static let statelessVersions = ["2026-07-28"]
    static let allVersions = sessionVersions + statelessVersions

    /// JSON-RPC and MCP error codes.
    enum ErrorCode {
        static let parseError = -32700
        static let invalidRequest = -32600
        static let methodNotFound = -32601
        static let invalidParams = -32602
        static let internalError = -32603
        /// 2026-07-28: a routing header disagrees with the body.
        static let headerMismatch = -32020
        /// 2026-07-28: the envelope's protocol version is not served.
        static let unsupportedProtocolVersion = -32022
        /// The gateway holds `MCP_MAX_SESSIONS` sessions.
        static let tooManySessions = -32000
        /// The answer to a call that was cancelled while its client still waited for JSON.
        static let requestCancelled = -32800
    }

    /// `params._meta` keys of the stateless version's per-request envelope.
    enum MetaKey {
        static let protocolVersion = "io.modelcontextprotocol/protocolVersion"
        static let clientInfo = "io.modelcontextprotocol/clientInfo"
        static let clientCapabilities = "io.modelcontextprotocol/clientCapabilities"
        static let serverInfo = "io.modelcontextprotocol/serverInfo"
    }

    /// The HTTP status a stateless-version error is sent with (the spec's table; others are 200).
    static func statelessStatus(for code: Int) -> Int {
        switch code {
        case ErrorCode.parseError, ErrorCode.invalidRequest, ErrorCode.invalidParams, ErrorCode.headerMismatch,
            ErrorCode.unsupportedProtocolVersion:
            400
        case ErrorCode.methodNotFound: 404
        default: 200
        }
    }
}

/// One JSON-RPC message a client POSTs, classified (JSON-RPC 2.0 §4, §5).
enum MCPIncoming: Sendable {
    case request(id: JSONValue, method: String, params: JSONValue?)
    case notification(method: String, params: JSONValue?)
    /// The client's answer to a request the server sent (an elicitation).
    case response(id: JSONValue, result: JSONValue?, error: JSONValue?)

    /// Throws `-32600` when `value` is none of them, saying why.
    init(_ value: JSONValue) throws(MCPError) {
        guard case .object(let object) = value else {
            throw MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: a message must be a JSON object.")
        }
        guard object["jsonrpc"] == .string("2.0") else {
            throw MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: jsonrpc must be \"2.0\".")
        }
        let id = object["id"]
        if let id {
            switch id {
            case .string, .integer: break
            default:
                throw MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: id must be a string or an integer.")
            }
        }
        if let method = object["method"] {
            guard case .string(let name) = method else {
                throw MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: method must be a string.")
            }
            let params = object["params"]
            if let params, case .object = params {} else if params != nil {
                throw MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: params must be an object.")
            }
            if let id { self = .request(id: id, method: name, params: params) } else { self = .notification(method: name, params: params) }
        } else if let id, object["result"] != nil || object["error"] != nil {
            self = .response(id: id, result: object["result"], error: object["error"])
        } else {
            throw MCPError(code: MCPProtocol.ErrorCode.invalidRequest, message: "Invalid Request: a message needs a method, or an id with a result or an error.")
        }
    }
}

/// A JSON-RPC error to answer with.
struct MCPError: Error, Sendable {
    var code: Int
    var message: String
    var data: JSONValue?

    static func invalidParams(_ message: String) -> MCPError {
        MCPError(code: MCPProtocol.ErrorCode.invalidParams, message: "Invalid params: \(message)")
    }
}

/// The JSON-RPC messages the server sends.
enum MCPOutgoing {
    struct Response<Result: Encodable & Sendable>: Encodable, Sendable {
        var jsonrpc = "2.0"
        var id: JSONValue
        var result: Result
    }

    struct ErrorResponse: Encodable, Sendable {
        struct Body: Encodable, Sendable {
            var code: Int
            var message: String
            var data: JSONValue?
        }

        var jsonrpc = "2.0"
        /// Null when the request's id could not be read.
        var id: JSONValue
        var error: Body

        init(id: JSONValue?, _ error: MCPError) {
            self.id = id ?? .null
            self.error = Body(code: error.code, message: error.message, data: error.data)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(jsonrpc, forKey: .jsonrpc)
            // `id: null` must be on the wire when the request's id is unknown.
            try container.encode(id, forKey: .id)
            try container.encode(error, forKey: .error)
        }

        enum CodingKeys: String, CodingKey { case jsonrpc, id, error }
    }

    struct Notification<Params: Encodable & Sendable>: Encodable, Sendable {
        var jsonrpc = "2.0"
        var method: String
        var params: Params
    }

    struct Request<Params: Encodable & Sendable>: Encodable, Sendable {
        var jsonrpc = "2.0"
        var id: JSONValue
        var method: String
        var params: Params
    }
}
