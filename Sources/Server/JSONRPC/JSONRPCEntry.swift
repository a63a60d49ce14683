import Foundation
import GatewayAPI
import GatewayRuntime

/// One entry of a JSON-RPC payload, as `openapi.yaml`'s `JSONRPCRequest` reads it: a request to
/// run, or an invalid one to answer with `-32600`.
enum JSONRPCEntry: Sendable {
    /// A request. `id` is nil for a notification; a `method` the schema does not name is still a
    /// request, answered `-32601` Method not found (and not at all when it is a notification).
    case request(id: JSONValue?, method: String, params: JSONValue?)
    /// Not a request: why, and the id to answer with (its own when it can be read, else null).
    case invalid(id: JSONValue, message: String)

    init(_ request: JSONRPCRequest) {
        let params: JSONValue?
        switch request.params {
        case nil: params = nil
        case .jsonrpcNamedParams(let named)?: params = .object(named.additionalProperties)
        case .jsonrpcPositionalParams(let positional)?: params = .array(positional)
        }
        self = .request(id: request.id, method: request.method.rawValue, params: params)
    }

    /// An entry of a payload that did not decode as a whole: checked against the schema on its own.
    init(checking value: JSONValue) {
        guard case .object(let object) = value else {
            self = .invalid(id: .null, message: "expected an object.")
            return
        }
        do {
            self.init(try JSONDecoder().decode(JSONRPCRequest.self, from: JSONEncoder().encode(value)))
        } catch let error as DecodingError {
            if case .string(let method)? = object["method"], Self.isAboutMethod(error) {
                self = .request(id: object["id"], method: method, params: object["params"])
                return
            }
            var id = JSONValue.null
            switch object["id"] {
            case let given? where Self.isValidID(given): id = given
            default: break
            }
            self = .invalid(id: id, message: RequestBodyDecoding.describe(error, root: "request") + ".")
        } catch {
            self = .invalid(id: .null, message: "expected a JSON-RPC request object.")
        }
    }

    /// JSON-RPC's ids: a string, a number or null (the schema leaves `id` free-form).
    static func isValidID(_ id: JSONValue) -> Bool {
        switch id {
        case .string, .integer, .number, .null: true
        default: false
        }
    }

    static func isAboutMethod(_ error: DecodingError) -> Bool {
        guard case .dataCorrupted(let context) = error else { return false }
        return context.codingPath.map(\.stringValue) == [JSONRPCRequest.CodingKeys.method.stringValue]
    }
}
