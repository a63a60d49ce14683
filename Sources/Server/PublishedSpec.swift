import Foundation
import GatewayAPI

/// The embedded documents with the public base URL filled in, rendered once at startup.
public struct PublishedSpec: Sendable {
    public let yaml: String
    public let json: String
    public let gptYAML: String
    public let gptJSON: String
    /// `json`, decoded, for the typed `/openapi.json` operation.
    public let document: OpenAPIDocument
    public let gptDocument: OpenAPIDocument

    public init(publicBaseURL: String) throws {
        func fill(_ text: String) -> String {
            text.replacingOccurrences(of: APIDocuments.serverURLPlaceholder, with: publicBaseURL)
        }
        self.yaml = fill(APIDocuments.yaml)
        self.json = fill(APIDocuments.json)
        self.gptYAML = fill(APIDocuments.gptYAML)
        self.gptJSON = fill(APIDocuments.gptJSON)
        let decoder = JSONDecoder()
        self.document = try decoder.decode(OpenAPIDocument.self, from: Data(json.utf8))
        self.gptDocument = try decoder.decode(OpenAPIDocument.self, from: Data(gptJSON.utf8))
    }
}
