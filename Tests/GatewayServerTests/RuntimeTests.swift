import Foundation
import GatewayRuntime
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelProvider
import NIOCore
import NIOPosix
import Testing

/// A hand-written type shaped like generated code, to test the decoding helpers it calls.
struct Sample: Codable, Equatable {
    var name: String
    var note: String?
    var tags: [String]?
    var count: Int?
    var kind: String?

    enum CodingKeys: String, CodingKey { case name, note, tags, count, kind }

    init(name: String, note: String? = nil, tags: [String]? = nil, count: Int? = nil) {
        self.name = name
        self.note = note
        self.tags = tags
        self.count = count
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        try container.validate(name, length: 1...8, forKey: .name)
        note = try container.decodeRequiredNullable(String.self, forKey: .note)
        tags = try container.decodeIfPresent([String].self, forKey: .tags)
        try container.validate(tags, count: ...2, forKey: .tags)
        count = try container.decodeIfPresent(Int.self, forKey: .count)
        try container.validate(count, within: 0...10, forKey: .count)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        try container.validate(kind, excluding: ["message", "call"], forKey: .kind)
        try container.validate(kind, matching: "^[a-z]+$", forKey: .kind)
        try decoder.rejectUnknownKeys(known: ["name", "note", "tags", "count", "kind"])
    }
}

@Suite("Runtime helpers called by generated code")
struct RuntimeTests {
    func decode(_ json: String, contentType: String? = "application/json") throws -> Sample {
        try RequestBodyDecoding.decode(from: ByteBuffer(string: json), contentType: contentType, accepted: ["application/json"])
    }

    func message(_ json: String) -> String? {
        do {
            _ = try decode(json)
            return nil
        } catch let error as GatewayError {
            #expect(error.status == .badRequest)
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func bodyDecodingEnforcesTheSchema() throws {
        #expect(try decode(#"{"name":"ok","note":null}"#) == Sample(name: "ok"))
        #expect(message(#"{"note":null}"#)?.contains("body.name is required") == true)
        #expect(message(#"{"name":"ok"}"#)?.contains("body.note is required (required (it may be null))") == true)
        #expect(message(#"{"name":5,"note":null}"#)?.contains("body.name: expected a string") == true)
        #expect(message(#"{"name":"much-too-long","note":null}"#)?.contains("between 1 and 8 characters") == true)
        #expect(message(#"{"name":"ok","note":null,"tags":["a","b","c"]}"#)?.contains("at most 2 items") == true)
        #expect(message(#"{"name":"ok","note":null,"count":11}"#)?.contains("between 0 and 10") == true)
        #expect(try decode(#"{"name":"ok","note":null,"kind":"reasoning"}"#).kind == "reasoning")
        #expect(message(#"{"name":"ok","note":null,"kind":"call"}"#)?.contains("body.kind: must not be 'message', 'call' here") == true)
        #expect(message(#"{"name":"ok","note":null,"kind":"Reasoning"}"#)?.contains("body.kind: does not have the form this field takes") == true)
        #expect(message(#"{"name":"ok","note":null,"extra":1}"#)?.contains("body.extra: is not a known property") == true)
        #expect(message("{not json")?.contains("not valid JSON") == true)
    }

    @Test func aMissingContentTypeIsReadAsJSON() throws {
        #expect(try decode(#"{"name":"ok","note":"n"}"#, contentType: nil).note == "n")
        #expect(try decode(#"{"name":"ok","note":"n"}"#, contentType: "application/json; charset=utf-8").name == "ok")
    }

    @Test func formBodiesDecodeIntoTheSameType() throws {
        struct Form: Decodable, Equatable {
            var grantType: String
            var code: String?
            enum CodingKeys: String, CodingKey {
                case grantType = "grant_type"
                case code
            }
        }
        let form: Form = try RequestBodyDecoding.decode(
            from: ByteBuffer(string: "grant_type=authorization_code&code=a%2Bb%20c"),
            contentType: "application/x-www-form-urlencoded",
            accepted: ["application/x-www-form-urlencoded", "application/json"]
        )
        #expect(form == Form(grantType: "authorization_code", code: "a+b c"))
        let json: Form = try RequestBodyDecoding.decode(
            from: ByteBuffer(string: #"{"grant_type":"refresh_token"}"#),
            contentType: "application/json",
            accepted: ["application/x-www-form-urlencoded", "application/json"]
        )
        #expect(json.grantType == "refresh_token")
    }

    @Test func queryStringsAreFormDecodedPlusIsASpaceAndAnEncodedPlusIsAPlus() throws {
        let fields = try FormFields.query("state=a+b&code=a%2Bb&tag=1&tag=2&flag&na%6De=x")
        #expect(fields.first("state") == "a b")
        #expect(fields.first("code") == "a+b")
        #expect(fields.all("tag") == ["1", "2"])
        #expect(fields.first("flag") == "")
        #expect(fields.first("name") == "x")
        #expect(try FormFields.query(nil).values.isEmpty)
        #expect(throws: GatewayError.self) { try FormFields.query("state=%E0%A4%A") }
    }

    @Test func aRawBodysCheckIsAResultForTheHandlerToAnswer() {
        let failure: Result<Sample, GatewayError> = RequestBodyDecoding.result(
            from: ByteBuffer(string: #"{"name":7}"#),
            contentType: "application/json",
            accepted: ["application/json"]
        )
        guard case .failure(let error) = failure else {
            Issue.record("a name that is not a string was accepted")
            return
        }
        #expect(error.status == .badRequest && error.message.contains("body.name"))
        let absent: Result<Sample?, GatewayError> = RequestBodyDecoding.resultIfPresent(from: ByteBuffer(), contentType: nil, accepted: ["application/json"])
        #expect((try? absent.get()) == .some(nil))
    }

    @Test func anEmptyRequiredBodyIsABadRequest() {
        #expect(throws: GatewayError.self) {
            let _: Sample = try RequestBodyDecoding.decode(from: ByteBuffer(), contentType: "application/json", accepted: ["application/json"])
        }
    }

    @Test func parametersAreDecodedAndChecked() throws {
        #expect(try ParameterDecoding.required("42", name: "n", in: .query) as Int == 42)
        #expect(try ParameterDecoding.optional(nil, name: "n", in: .query) as Int? == nil)
        #expect(try ParameterDecoding.required("a%20b", name: "id", in: .path) as String == "a b")
        #expect(try ParameterDecoding.required("a%20b", name: "q", in: .query) as String == "a%20b", "query values arrive decoded already")
        #expect(throws: GatewayError.self) { try ParameterDecoding.required("4.5", name: "n", in: .query) as Int }
        #expect(throws: GatewayError.self) { try ParameterDecoding.required(nil, name: "n", in: .header) as String }
        #expect(throws: GatewayError.self) { try ParameterDecoding.required("yes", name: "b", in: .query) as Bool }
        #expect(throws: GatewayError.self) { try ParameterDecoding.required("11", name: "n", in: .query, within: 0...10) as Int }
        #expect(throws: GatewayError.self) { try ParameterDecoding.required("", name: "s", in: .query, length: 1...5) }
        #expect(try ParameterDecoding.array(["1", "2"], name: "n", in: .query) as [Int] == [1, 2])
    }

    @Test func acceptHeaderPicksThePreferredOfferedType() {
        let offered = ["application/jsonl", "application/x-ndjson", "application/json"]
        #expect(AcceptHeader(nil).preferred(among: offered) == "application/jsonl")
        #expect(AcceptHeader("application/json").preferred(among: offered) == "application/json")
        #expect(AcceptHeader("application/x-ndjson, application/json;q=0.5").preferred(among: offered) == "application/x-ndjson")
        #expect(AcceptHeader("*/*").preferred(among: offered) == "application/jsonl")
        #expect(AcceptHeader("application/*;q=0.2, application/json").preferred(among: offered) == "application/json")
        #expect(AcceptHeader("text/html").preferred(among: offered) == nil)
        #expect(AcceptHeader("application/json;q=0").preferred(among: ["application/json"]) == nil)
    }

    @Test func serverSentEventsUseTheWireFormat() {
        #expect(ServerSentEvent(data: "one\ntwo").wireFormat == "data: one\ndata: two\n\n")
        #expect(ServerSentEvent(id: "7", event: "delta", data: "{}").wireFormat == "id: 7\nevent: delta\ndata: {}\n\n")
    }

    @Test func freeFormJSONRoundTrips() throws {
        let text = #"{"b":[1,2.5,"x",null,true],"a":{"z":{},"y":[]}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let encoded = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(encoded == #"{"a":{"y":[],"z":{}},"b":[1,2.5,"x",null,true]}"#)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(encoded.utf8)) == value)
        #expect(value["b"] == .array([.integer(1), .number(2.5), .string("x"), .null, .bool(true)]))
    }

    @Test func bodiesOverTheLimitAreRefusedWith413() async throws {
        let router = Router()
        router.post("/echo") { request, _ -> String in
            let buffer = try await RequestBodyDecoding.collect(request, limit: 16)
            return String(buffer: buffer)
        }
        try await Application(router: router).test(.router) { client in
            let small = try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: "hello"))
            #expect(small.status == .ok)
            let large = try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: String(repeating: "x", count: 17)))
            #expect(large.status == .contentTooLarge)
        }
    }
}

@Suite("EventLoopTaskExecutor")
struct EventLoopTaskExecutorTests {
    @Test func tasksUnderItRunOnTheSingletonEventLoopsAndChildTasksInheritIt() async throws {
        func onSingletonLoop() -> Bool {
            guard let current = MultiThreadedEventLoopGroup.currentEventLoop else { return false }
            return MultiThreadedEventLoopGroup.singleton.makeIterator().contains { $0 === current }
        }
        #expect(!onSingletonLoop())
        let results = await withTaskExecutorPreference(EventLoopTaskExecutor.singleton) {
            var results = [onSingletonLoop()]
            try? await Task.sleep(for: .milliseconds(1))
            results.append(onSingletonLoop())
            // A future's completion resumes the task on a loop of the group too.
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            _ = try? await loop.scheduleTask(in: .milliseconds(1)) {}.futureResult.get()
            results.append(onSingletonLoop())
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { onSingletonLoop() } }
                for await child in group { results.append(child) }
            }
            return results
        }
        #expect(results == Array(repeating: true, count: 7))
    }
}

@Suite("EventLoop.sleep")
struct EventLoopSleepTests {
    @Test func itWaitsForTheDurationAndACancelledSleepEndsAtOnce() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let start = ContinuousClock.now
        try await loop.sleep(for: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))

        // Bounds far from the 10 minutes asked: the parallel test run can keep the pool busy.
        let sleeper = Task { try await loop.sleep(for: .seconds(600)) }
        try await Task.sleep(for: .milliseconds(20))
        let cancelledAt = ContinuousClock.now
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(ContinuousClock.now - cancelledAt < .seconds(60))

        // Already cancelled before it starts: no wait either.
        let late = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await loop.sleep(for: .seconds(600))
        }
        await #expect(throws: CancellationError.self) { try await late.value }
    }
}

@Suite("HTTPFields.parameter(named:)")
struct HeaderParameterTests {
    @Test func oneFieldIsItsValueSeveralAreJoinedAsHTTPTypesJoinsThem() {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields.append(HTTPField(name: HTTPField.Name("X-Tag")!, value: "a"))
        fields.append(HTTPField(name: HTTPField.Name("x-tag")!, value: "b"))
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        fields.append(HTTPField(name: .cookie, value: "b=2"))
        #expect(fields.parameter(named: "Content-Type") == "application/json")
        #expect(fields.parameter(named: "content-type") == "application/json")
        #expect(fields.parameter(named: "X-Tag") == "a, b")
        #expect(fields.parameter(named: "Cookie") == "a=1; b=2")
        #expect(fields.parameter(named: "X-Missing") == nil)
        #expect(fields.parameter(named: "not a name") == nil)
    }
}
