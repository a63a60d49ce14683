import Foundation
import ModelProvider
import NIOHTTP1
import Testing

@Suite("SSE parsing and retry timing")
struct SSEAndRetryTests {
    @Test func sseParsingHandlesSplitLinesCRLFCommentsAndMultilineData() {
        var parser = SSEParser()
        var events = parser.feed(Array("event: a\r\ndata: one\r".utf8))
        #expect(events.isEmpty)
        events = parser.feed(Array("\ndata: two\r\n\r\n: comment\n\ndata:three\n".utf8))
        #expect(events == [SSEParser.Event(event: "a", data: "one\ntwo", id: nil)])
        events = parser.feed(Array("\n".utf8))
        #expect(events == [SSEParser.Event(event: nil, data: "three", id: nil)])
    }

    @Test func retryAfterIsReadInEveryForm() {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "2")
        #expect(ProviderTransport.retryAfter(headers) == .seconds(2))
        headers = HTTPHeaders()
        headers.add(name: "retry-after-ms", value: "50")
        headers.add(name: "Retry-After", value: "9")
        #expect(ProviderTransport.retryAfter(headers) == .milliseconds(50))
        headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "Wed, 21 Oct 2015 07:28:05 GMT")
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // 07:28:00
        #expect(ProviderTransport.retryAfter(headers, now: now) == .seconds(5))
        #expect(ProviderTransport.retryAfter(HTTPHeaders()) == nil)
        let backoff = ProviderTransport.backoff(attempt: 1)
        #expect(backoff >= Duration.milliseconds(160) && backoff <= Duration.milliseconds(240))
        #expect(ProviderTransport.backoff(attempt: 3) >= Duration.milliseconds(640))
    }
}
