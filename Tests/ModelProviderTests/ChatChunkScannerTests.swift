import GatewayRuntime
import ModelProvider
import Testing

@Suite("Chat chunks read with the syntax scanner")
struct ChatChunkScannerTests {
    /// Chunks of the shapes a stream is made of, as providers write them.
    static let commonChunks = [
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"line\nnext \"quoted\" back\\slash a\/b tab\t cr\r bell\b ff\f é 漢字 😀"}}]}"#,
        #"{ "choices" : [ { "index" : 0 , "delta" : { "content" : "spaced" } } ] , "usage" : null , "error" : null }"#,
        #"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":1,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"input\":\"*** Begin Patch\\n"}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":null,"function":null},{"index":2,"function":{"name":null,"arguments":null}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        #"{"choices":[{"index":null,"delta":null,"finish_reason":"length"},{"index":1,"delta":{"refusal":"no"}}]}"#,
        #"{"choices":[]}"#,
        #"{"choices":null}"#,
        #"{}"#,
    ]

    @Test(arguments: commonChunks)
    func aCommonChunkReadsAsCodableDecodesIt(_ text: String) throws {
        let scanned = try #require(ChatChunkScanner.chunk(in: text))
        #expect(scanned == (try WireCoding.decode(ChatCompletionChunk.self, from: text)))
    }

    /// Chunks whose reading is left to Codable: what it does with them is the authority.
    static let leftToCodable = [
        #"{"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":7,"total_tokens":27}}"#,
        #"{"error":{"message":"Rate limit reached","type":"requests","code":429}}"#,
        #"{"choices":[{"index":0,"delta":{"content":"caf\u00e9"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"lone \ud800"}}]}"#,
        #"{"choices":[{"index":1.5,"delta":{"content":"x"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"role":7,"content":"x"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[7]}}]}"#,
        #"{"choices":["text"]}"#,
        #"{"choices":{"index":0}}"#,
        #"{"model":1,"choices":[]}"#,
        #"[1,2]"#,
        #"keep-alive"#,
        #"{"choices":[{"index":0,"delta":{"content":"x"}}]"#,
    ]

    @Test(arguments: leftToCodable)
    func aChunkOutsideTheCommonShapesIsLeftToCodable(_ text: String) {
        #expect(ChatChunkScanner.chunk(in: text) == nil)
    }
}
