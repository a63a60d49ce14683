import AsyncHTTPClient
import FakeOpenAI
import Foundation
import GatewayServer
import Glibc
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Two `codex-gateway` processes (the built executable, as an operator runs it) on one PostgreSQL,
/// each with its own `REPLICA_URL`, `CODEX_HOME` and `WORKSPACES_ROOT` (issue #21's replica tests):
/// a key made with the command line on A works at B until revoked; a webhook whose replica is
/// SIGKILLed mid-turn is finished by the other exactly once; PostgreSQL restarted under load loses
/// nothing that was acknowledged.
@Suite("Two gateway processes on one PostgreSQL", .serialized)
struct ReplicaProcessTests {
    /// One `codex-gateway` server. Foundation starts it as the leader of a process group of its
    /// own (checked), so that killing the group kills its Codex children with it, as a machine or
    /// container dying would.
    final class Replica: Sendable {
        let port: Int
        let codexHome: String
        let workspacesRoot: String
        let environment: [String: String]
        let process: Process
        let logPath: String

        init(environment: [String: String], port: Int) throws {
            self.port = port
            self.environment = environment
            codexHome = environment["CODEX_HOME"] ?? ""
            workspacesRoot = environment["WORKSPACES_ROOT"] ?? ""
            let directory = TemporaryDirectory.make()
            logPath = directory + "/stderr"
            try #require(FileManager.default.createFile(atPath: logPath, contents: nil))
            try #require(FileManager.default.isExecutableFile(atPath: GatewayExecutable.url.path), "build the executable first")
            process = Process()
            process.executableURL = GatewayExecutable.url
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            // The real HOME: `codex` may be a pyenv shim, which finds its Python through it.
            let home = ProcessInfo.processInfo.environment["HOME"] ?? directory
            process.environment = ["PATH": "/usr/bin:/bin", "HOME": home].merging(environment) { _, new in new }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            process.standardError = process.standardOutput
            try process.run()
            #expect(getpgid(process.processIdentifier) == process.processIdentifier, "the server leads its own process group")
        }

        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        /// Waits for `/ready` (migrated, secrets read).
        func waitUntilReady() async throws {
            for _ in 0..<300 {
                if !process.isRunning { break }
                if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/ready"), timeout: .seconds(2)),
                    response.status == .ok
                {
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("replica :\(port) never became ready; its log:\n\(log.suffix(3000))")
            throw PostgresTestUnavailable()
        }

        /// Every process below the server (Codex, its shell, the command it runs), whatever
        /// session or group they put themselves in.
        var descendants: [pid_t] {
            var children: [pid_t: [pid_t]] = [:]
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
            }
            var found: [pid_t] = []
            var queue = [process.processIdentifier]
            while let next = queue.popLast() {
                for child in children[next] ?? [] {
                    found.append(child)
                    queue.append(child)
                }
            }
            return found
        }

        /// The command line of `pid` (NUL-separated arguments joined by spaces).
        static func commandLine(_ pid: pid_t) -> String {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }

        /// SIGKILL to the server's process group and to every process below it, at once.
        func kill() {
            let below = descendants
            _ = Glibc.kill(-process.processIdentifier, SIGKILL)
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            for pid in below { _ = Glibc.kill(pid, SIGKILL) }
            process.waitUntilExit()
        }

        /// SIGTERM (graceful), then SIGKILL what is left.
        func stop() {
            if process.isRunning { process.terminate() }
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
            if process.isRunning { kill() }
            process.waitUntilExit()
        }
    }

    /// A `CODEX_HOME` outside /tmp (the sandbox refuses one under it), removed by the caller.
    static func home() throws -> String {
        let home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/codex-gateway-tests/\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        return home
    }

    /// Runs `body` with replicas A and B on a fresh database of `server` (the test server by
    /// default); returns without running it when PostgreSQL is not available outside CI.
    static func withReplicas(
        fake: FakeOpenAIServer, server: DatabaseURL? = nil, codexEngine: Bool = false, extra: [String: String] = [:],
        _ body: (Replica, Replica, String) async throws -> Void
    ) async throws {
        guard let server = try server ?? PostgresTestServer.require() else { return }
        // A cluster the test has just started may refuse the very first connection for a moment.
        var made: DatabaseURL?
        for attempt in 1...10 where made == nil {
            do {
                made = try await PostgresTestServer.freshDatabase(on: server)
            } catch where attempt < 10 {
                try await Task.sleep(for: .milliseconds(300))
            }
        }
        let database = try #require(made).urlString
        var replicas: [Replica] = []
        var homes: [String] = []
        defer {
            for replica in replicas { replica.stop() }
            for home in homes { try? FileManager.default.removeItem(atPath: home) }
        }
        for _ in 0..<2 {
            let port = try ReplicaForwardingTests.freePort()
            let home = try Self.home()
            homes.append(home)
            var environment = ReplicaForwardingTests.replicaEnvironment(database: database, port: port)
            environment.merge(
                ["HOST": "127.0.0.1", "WORKSPACES_ROOT": home + "/workspaces", "WEBHOOK_LEASE_SECONDS": "3", "OUTBOUND_ALLOW_PRIVATE": "true"]
            ) { _, new in new }
            environment.merge(extra) { _, new in new }
            let setup =
                codexEngine
                ? try CodexEngineTests.setup(fake: fake, wireAPI: "chat", environment: environment)
                : try CodexTestSetup.make(fake: fake, model: "fake-echo", environment: environment, codexHome: home)
            if codexEngine { homes.append(setup.codexHome) }
            var variables = setup.gateway.environment
            variables["PORT"] = String(port)
            if codexEngine { variables["WORKSPACES_ROOT"] = setup.codexHome + "/workspaces" }
            replicas.append(try Replica(environment: variables, port: port))
        }
        for replica in replicas { try await replica.waitUntilReady() }
        try await body(replicas[0], replicas[1], database)
    }

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var json: [String: Any]
    }

    static func send(
        _ port: Int, _ method: HTTPMethod, _ path: String, body: String? = nil, key: String = TestGateway.apiKey,
        headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "X-API-Key", value: key)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return Answer(status: Int(response.status.code), headers: response.headers, json: json)
    }

    /// Final outcomes (not approval events) the receiver got, by delivery ID.
    static func finalCallbacks(_ receiver: CallbackReceiver) -> [String: [[String: Any]]] {
        var found: [String: [[String: Any]]] = [:]
        for call in receiver.received {
            guard let json = (try? JSONSerialization.jsonObject(with: Data(call.body.utf8))) as? [String: Any],
                let id = json["id"] as? String, ["completed", "failed"].contains(json["status"] as? String ?? "")
            else { continue }
            found[id, default: []].append(json)
        }
        return found
    }

    static func eventually(timeout: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw NotInTime(description: "not within \(timeout): \(what)")
    }

    struct NotInTime: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: a. Keys

    @Test func aKeyCreatedWithTheCLIOnAWorksAtBUntilTheCLIRevokesIt() async throws {
        try await withFakeUpstream { fake in
            try await Self.withReplicas(fake: fake) { a, b, database in
                let cli = GatewayExecutable(environment: ["CODEX_HOME": a.codexHome, "DATABASE_URL": database])
                let created = try cli.run(["keys", "create", "--name", "made-on-a"])
                #expect(created.status == 0, "\(created.stderr)")
                let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let id = try #require(created.stderr.split(separator: " ").first { $0.hasPrefix("key_") }.map(String.init), "\(created.stderr)")

                let accepted = try await Self.send(b.port, .GET, "/whoami", key: key)
                #expect(accepted.status == 200, "\(accepted.json)")
                #expect(try await Self.send(a.port, .GET, "/whoami", key: key).status == 200)

                let revoked = try cli.run(["keys", "revoke", id])
                #expect(revoked.status == 0, "\(revoked.stderr)")
                try await Self.eventually(timeout: .seconds(5), "B refuses the revoked key") {
                    try await Self.send(b.port, .GET, "/whoami", key: key).status == 401
                }
                #expect(try await Self.send(a.port, .GET, "/whoami", key: key).status == 401)
            }
        }
    }

    // MARK: b. A replica killed mid-turn

    /// A webhook that starts a conversation is accepted and run by A; A (and its Codex, and the
    /// command Codex runs) is SIGKILLed while the turn runs. B takes the delivery over once A's
    /// lease (3 s) runs out, runs the turn in its own workspace, and the callback receives exactly
    /// one final result; two more leases later still one.
    @Test func aWebhookWhoseReplicaIsKilledMidTurnIsFinishedByTheOtherExactlyOnce() async throws {
        let receiver = CallbackReceiver()
        try await receiver.run { callbackURL in
            try await withFakeUpstream { fake in
                try await Self.withReplicas(fake: fake, codexEngine: true) { a, b, _ in
                    // The command sleeps as long as the file says: 30 s on A, no time on B.
                    let flag = try Self.home() + "/sleep-seconds"
                    defer { try? FileManager.default.removeItem(atPath: (flag as NSString).deletingLastPathComponent) }
                    try "30".write(toFile: flag, atomically: true, encoding: .utf8)
                    let prompt = "#fake-agent:command:sleep $(cat \(flag)); pwd"
                    let accepted = try await Self.send(
                        a.port, .POST, "/webhook",
                        body: #"{"event":"prompt","data":{"prompt":"\#(prompt)","callback_url":"\#(callbackURL)"}}"#,
                        headers: [("X-Webhook-Id", "killed-mid-turn")])
                    #expect(accepted.status == 202, "\(accepted.json)")

                    try await Self.eventually(timeout: .seconds(60), "A runs the command (sleep 30)") {
                        a.descendants.contains { Replica.commandLine($0).hasPrefix("sleep 30") }
                    }
                    let running = try await Self.send(b.port, .GET, "/webhook/killed-mid-turn")
                    #expect(running.json["status"] as? String == "running", "\(running.json)")

                    let below = a.descendants
                    a.kill()
                    let killed = ContinuousClock.now
                    try "0".write(toFile: flag, atomically: true, encoding: .utf8)
                    try await Self.eventually(timeout: .seconds(3), "A's children died with it") {
                        below.allSatisfy { Glibc.kill($0, 0) != 0 || Self.isZombie($0) }
                    }

                    var outcome: [String: Any] = [:]
                    try await Self.eventually(timeout: .seconds(60), "B finishes the delivery") {
                        outcome = try await Self.send(b.port, .GET, "/webhook/killed-mid-turn").json
                        return outcome["status"] as? String == "completed"
                    }
                    let result = outcome["result"] as? String ?? ""
                    #expect(result.contains(b.workspacesRoot), "B ran it, in its own workspace: \(outcome)")
                    #expect(!result.contains(a.workspacesRoot), "\(outcome)")
                    #expect(ContinuousClock.now - killed >= .seconds(2), "not before A's lease ran out")

                    try await Self.eventually(timeout: .seconds(30), "the callback arrives") {
                        Self.finalCallbacks(receiver)["killed-mid-turn"]?.isEmpty == false
                    }
                    try await Task.sleep(for: .seconds(6))  // two more leases
                    let finals = Self.finalCallbacks(receiver)["killed-mid-turn"] ?? []
                    #expect(finals.count == 1, "exactly one final result: \(finals)")
                    #expect(finals.first?["status"] as? String == "completed", "\(finals)")
                    #expect(finals.first?["result"] as? String == result)
                }
            }
        }
    }

    /// Set once, read by the load's clients.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .acquiring) }
        func set() { value.store(true, ordering: .releasing) }
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }

    // MARK: c. PostgreSQL restarted under load

    /// What one request of the load got.
    struct Sent: Sendable {
        var deliveryID: String
        var prompt: Bool
        var status: Int
        var code: String?
        var retryAfter: String?
        var seconds: Double
        var error: String?
    }

    /// Clients send webhooks to both replicas (every one a write; one in twelve a prompt with a
    /// callback) while PostgreSQL is restarted (`pg_ctl stop -m fast`, open connections cut; 6 s
    /// down; start).
    /// Every request answers 2xx or 503 `database_unavailable` with Retry-After, none hangs or
    /// fails otherwise; every acknowledged delivery is in the database afterwards, every
    /// acknowledged prompt is run and called back exactly once; both replicas recover by
    /// themselves.
    @Test func postgresRestartedUnderLoadLosesNothingAcknowledged() async throws {
        guard try PostgresTestServer.require() != nil else { return }
        let cluster = try PostgresTestCluster(port: 54333)
        try cluster.control("start")
        defer { try? cluster.control("stop") }
        let server = try DatabaseURL(parsing: "postgres://gateway:gateway@127.0.0.1:54333/postgres?sslmode=disable")
        let receiver = CallbackReceiver()
        try await receiver.run { callbackURL in
            try await withFakeUpstream { fake in
                // A limit that is never reached but still taken from (a shared-bucket write per request).
                try await Self.withReplicas(fake: fake, server: server, extra: ["RATE_LIMIT_PER_MINUTE": "1000000"]) { a, b, _ in
                    let ports = [a.port, b.port]
                    let restarted = Flag()
                    let deadline = ContinuousClock.now + .seconds(45)
                    let load = Task {
                        try await withThrowingTaskGroup(of: (sent: [Sent], recovered: Bool).self) { group in
                            for client in 0..<4 {
                                group.addTask {
                                    var sent: [Sent] = []
                                    var okAfterRestart = 0
                                    var index = 0
                                    while okAfterRestart < 3 || !restarted.isSet {
                                        if ContinuousClock.now > deadline { return (sent, false) }
                                        index += 1
                                        let id = "load-\(client)-\(index)"
                                        let prompt = index % 12 == 0
                                        let body =
                                            prompt
                                            ? #"{"event":"prompt","data":{"prompt":"\#(id)","callback_url":"\#(callbackURL)"}}"#
                                            : #"{"event":"note","data":{"n":\#(index)}}"#
                                        let started = ContinuousClock.now
                                        var record = Sent(deliveryID: id, prompt: prompt, status: 0, seconds: 0)
                                        do {
                                            let answer = try await Self.send(
                                                ports[index % 2], .POST, "/webhook", body: body, headers: [("X-Webhook-Id", id)], timeout: .seconds(15))
                                            record.status = answer.status
                                            record.code = answer.json["code"] as? String
                                            record.retryAfter = answer.headers.first(name: "Retry-After")
                                        } catch {
                                            record.error = String(describing: error)
                                        }
                                        let elapsed = ContinuousClock.now - started
                                        record.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                                        sent.append(record)
                                        if restarted.isSet && (200..<300).contains(record.status) { okAfterRestart += 1 }
                                        try await Task.sleep(for: .milliseconds(record.status == 503 ? 50 : 20))
                                    }
                                    return (sent, true)
                                }
                            }
                            return try await group.reduce(into: (sent: [Sent](), recovered: true)) {
                                $0.sent += $1.sent
                                $0.recovered = $0.recovered && $1.recovered
                            }
                        }
                    }
                    try await Task.sleep(for: .seconds(1.5))
                    // `pg_ctl stop -m fast` (open connections cut), 6 s down, start: longer than
                    // the gateway's 5 s statement timeout, so requests are sure to get the 503
                    // (in a shorter outage they may just wait for the database and succeed).
                    try cluster.control("stop")
                    try await Task.sleep(for: .seconds(6))
                    try cluster.control("start")
                    restarted.set()
                    let (all, recovered) = try await load.value
                    #expect(recovered, "every client got 2xx again after the restart, without restarting a gateway")

                    let acknowledged = all.filter { (200..<300).contains($0.status) }
                    let unavailable = all.filter { $0.status == 503 }
                    let other = all.filter { !(200..<300).contains($0.status) && $0.status != 503 }
                    let otherCount = other.count
                    #expect(otherCount == 0, "only 2xx and 503: \(other.prefix(5))")
                    let unavailableCount = unavailable.count
                    #expect(unavailableCount > 0, "the restart was seen (\(all.count) requests)")
                    let unclear = unavailable.filter { $0.code != "database_unavailable" || $0.retryAfter == nil }
                    let unclearCount = unclear.count
                    #expect(unclearCount == 0, "503s say database_unavailable with Retry-After: \(unclear.prefix(3))")
                    let slowest = all.map(\.seconds).max() ?? 0
                    #expect(slowest < 10, "no request hangs")
                    print(
                        "restart under load: \(all.count) requests, \(acknowledged.count) acknowledged, \(unavailableCount) 503, slowest \(slowest) s"
                    )

                    // Every acknowledged delivery is in the database (read through either replica).
                    for (index, sent) in acknowledged.enumerated() {
                        let stored = try await Self.send(ports[index % 2], .GET, "/webhook/\(sent.deliveryID)")
                        #expect(stored.status == 200, "\(sent.deliveryID) was acknowledged but is gone: \(stored.json)")
                    }
                    // Every acknowledged prompt is run and called back exactly once.
                    let prompts = Set(acknowledged.filter(\.prompt).map(\.deliveryID))
                    #expect(!prompts.isEmpty)
                    try await Self.eventually(timeout: .seconds(60), "every acknowledged prompt called back") {
                        let finals = Self.finalCallbacks(receiver)
                        return prompts.allSatisfy { finals[$0]?.isEmpty == false }
                    }
                    try await Task.sleep(for: .seconds(6))  // two leases: nothing runs twice
                    let finals = Self.finalCallbacks(receiver)
                    for id in prompts {
                        #expect(finals[id]?.count == 1, "\(id): \(finals[id] ?? [])")
                        #expect(finals[id]?.first?["status"] as? String == "completed", "\(id): \(finals[id] ?? [])")
                        #expect(finals[id]?.first?["result"] as? String == "Echo: \(id)", "\(id): \(finals[id] ?? [])")
                    }
                    #expect(Set(finals.keys).isSubset(of: Set(all.filter(\.prompt).map(\.deliveryID))))
                }
            }
        }
    }
}
