import ArgumentParser
import Foundation
import GatewayAPI
import GatewayServer
import Logging

@main
struct CodexGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codex-gateway",
        abstract: "HTTP gateway to the Codex agent core.",
        version: GatewayVersion.current,
        subcommands: [Serve.self, PrintOpenAPI.self, PrintConfiguration.self, Doctor.self, Keys.self, OAuthClients.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (the default). Configuration comes from the environment, .env and $CODEX_HOME/config.toml."
    )

    func run() async throws {
        let environment = try loadEnvironment()
        let configuration = try loadConfiguration(environment)
        do {
            try StartupPreflight.check(configuration, environment: environment)
        } catch let error as ConfigurationError {
            throw configurationFailure(error)
        }
        let format: StructuredLogHandler.Format = configuration.logFormat == .json ? .json : .text
        let level = configuration.logLevel
        let otlp: OTLPExport?
        do {
            otlp = try OTLPExport.start(environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigurationError {
            throw configurationFailure(error)
        } catch {
            FileHandle.standardError.write(Data("codex-gateway: configuration error: OTLP export: \(error)\n".utf8))
            throw ExitCode(78)
        }
        LoggingSystem.bootstrap { label in
            let stderr = StructuredLogHandler(label: label, level: level, format: format)
            guard let otlpHandler = otlp?.logHandler else { return stderr }
            var exported = otlpHandler(label)
            exported.logLevel = level
            exported.metadataProvider = RequestLogScope.metadataProvider
            return MultiplexLogHandler([stderr, exported])
        }
        var logger = Logger(label: "codex-gateway")
        if otlp != nil { logger.info("OTLP export on", metadata: ["otlp.services": .stringConvertible(otlp?.services.count ?? 0)]) }
        logger.logLevel = level
        do {
            try await runGateway(configuration: configuration, logger: logger, tracing: otlp != nil, services: otlp?.services ?? [])
        } catch {
            guard let failure = StartupPreflight.configurationError(for: error, configuration: configuration, environment: environment) else { throw error }
            throw configurationFailure(failure)
        }
    }
}

struct PrintOpenAPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the OpenAPI document (servers[0].url from PUBLIC_BASE_URL)."
    )

    @Flag(help: "Print the GPT Actions view instead of the full document.")
    var gpt = false

    @Flag(help: "Print JSON instead of YAML.")
    var json = false

    func run() throws {
        let environment = try Environment.load()
        var baseURL = "http://localhost:\(environment.nonEmpty("PORT") ?? "8080")"
        if let raw = environment.nonEmpty("PUBLIC_BASE_URL") {
            baseURL = raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        }
        let spec = try PublishedSpec(publicBaseURL: baseURL)
        print(gpt ? (json ? spec.gptJSON : spec.gptYAML) : (json ? spec.json : spec.yaml), terminator: "")
    }
}

/// Opens the gateway database the server uses, from the same configuration, and says which on stderr.
func openDatabase(_ loaded: GatewayConfiguration? = nil) throws -> GatewayDatabase {
    let configuration = try loaded ?? loadConfiguration(try loadEnvironment())
    FileHandle.standardError.write(Data("codex-gateway: database \(configuration.databasePath)\n".utf8))
    var logger = Logger(label: "codex-gateway")
    logger.logLevel = .error
    do {
        return try GatewayDatabase(path: configuration.databasePath, logger: logger)
    } catch let error as ConfigurationError {
        throw configurationFailure(error)
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage API keys stored in the gateway database (besides GATEWAY_API_KEY).",
        subcommands: [Create.self, List.self, Revoke.self, Limits.self, Budget.self, Models.self, Usage.self]
    )

    /// Per-key limits; omitted ones keep the configured default (RATE_LIMIT_*). 0 is unlimited.
    /// Values are parsed unconditionally so that `--per-minute -5` gets the range error, not "missing value".
    struct LimitOptions: ParsableArguments {
        @Option(parsing: .unconditional, help: "Requests per minute.") var perMinute: Int?
        @Option(parsing: .unconditional, help: "Requests per hour.") var perHour: Int?
        @Option(parsing: .unconditional, help: "Requests per day.") var perDay: Int?
        @Option(parsing: .unconditional, help: "Turns running at once.") var concurrentTurns: Int?

        var overrides: RateLimitOverrides {
            RateLimitOverrides(perMinute: perMinute, perHour: perHour, perDay: perDay, concurrentTurns: concurrentTurns)
        }

        func validate() throws {
            for (name, value) in [("--per-minute", perMinute), ("--per-hour", perHour), ("--per-day", perDay), ("--concurrent-turns", concurrentTurns)] {
                if let value, value < 0 { throw ValidationError("\(name) must be 0 (unlimited) or more, not \(value)") }
            }
        }
    }

    static func describe(_ limits: RateLimitOverrides) -> String {
        let parts = [
            limits.perMinute.map { "\($0)/min" }, limits.perHour.map { "\($0)/h" }, limits.perDay.map { "\($0)/day" },
            limits.concurrentTurns.map { "\($0) turns" },
        ].compactMap { $0 }
        return parts.isEmpty ? "default limits" : parts.joined(separator: " ")
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print it once.")
        @Option(help: "A name to recognise the key by.") var name = "unnamed"
        @OptionGroup var limits: LimitOptions

        func run() async throws {
            let database = try openDatabase()
            let store = SQLiteAPIKeyStore(database: database)
            let (key, info) = try await store.create(name: name)
            if !limits.overrides.isEmpty { _ = try await store.setLimits(id: info.id, limits.overrides) }
            try await database.close()
            print(key)
            FileHandle.standardError.write(Data("Created \(info.id) (\(info.name)). The key is shown only this once.\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List keys (IDs and names; never the keys), those of GATEWAY_API_KEY first, by fingerprint."
        )

        func run() async throws {
            let configuration = try loadConfiguration(try loadEnvironment())
            let database = try openDatabase(configuration)
            let keys = try await SQLiteAPIKeyStore(database: database).list()
            let fingerprinter = database.fingerprinter
            try await database.close()
            for key in configuration.apiKeys {
                let fingerprint = fingerprinter.fingerprint(ofKey: key)
                print("\(fingerprint)\tGATEWAY_API_KEY\tfrom the environment\tactive\tdefault limits")
            }
            for key in keys {
                let state = key.revokedAt == nil ? "active" : "revoked \(Timestamps.string(key.revokedAt!))"
                print("\(key.id)\t\(key.name)\tcreated \(Timestamps.string(key.createdAt))\t\(state)\t\(Keys.describe(key.limits))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its ID (key_…).")
        @Argument var id: String

        func run() async throws {
            let database = try openDatabase()
            let revoked = try await SQLiteAPIKeyStore(database: database).revoke(id: id)
            try await database.close()
            guard revoked else {
                FileHandle.standardError.write(Data("No active key \(id).\n".utf8))
                throw ExitCode(1)
            }
            print("Revoked \(id).")
        }
    }
}

extension Keys {
    struct Limits: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a key's rate limits: only those given change; --reset first returns all to the configured default. A running gateway applies them to the key's next request."
        )
        @Argument var id: String
        @OptionGroup var limits: LimitOptions
        @Flag(help: "Return every limit to the configured default (RATE_LIMIT_*) before applying those given.") var reset = false

        func validate() throws {
            guard reset || !limits.overrides.isEmpty else {
                throw ValidationError("give at least one of --per-minute, --per-hour, --per-day, --concurrent-turns, or --reset")
            }
        }

        func run() async throws {
            let database = try openDatabase()
            let store = SQLiteAPIKeyStore(database: database)
            let current = try await store.list().first { $0.id == id && $0.revokedAt == nil }
            var merged = reset ? RateLimitOverrides() : current?.limits ?? RateLimitOverrides()
            merged.apply(limits.overrides)
            let updated = current != nil ? try await store.setLimits(id: id, merged) : false
            try await database.close()
            guard updated else {
                FileHandle.standardError.write(Data("No active key \(id).\n".utf8))
                throw ExitCode(1)
            }
            print("\(id): \(Keys.describe(merged)).")
        }
    }
}

extension RateLimitOverrides {
    /// Takes each limit `other` sets; keeps the others.
    mutating func apply(_ other: RateLimitOverrides) {
        perMinute = other.perMinute ?? perMinute
        perHour = other.perHour ?? perHour
        perDay = other.perDay ?? perDay
        concurrentTurns = other.concurrentTurns ?? concurrentTurns
    }
}

struct OAuthClients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauth-clients",
        abstract: "Manage OAuth clients (besides OAUTH_CLIENT_ID).",
        subcommands: [Add.self, List.self, Remove.self]
    )

    /// The shortest client secret `add --secret` accepts.
    static let minimumSecretLength = 32

    /// An absolute URI without a fragment, `https://`, or plain `http://` only to this machine
    /// (`127.0.0.1`, `[::1]`, `localhost`), where a native app receives its code.
    static func validateRedirectURI(_ uri: String) throws {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty,
            components.fragment == nil
        else {
            throw ValidationError("--redirect-uri '\(uri)' is not an absolute URI without a fragment")
        }
        switch scheme {
        case "https": return
        case "http" where ["127.0.0.1", "[::1]", "::1", "localhost"].contains(host.lowercased()): return
        case "http": throw ValidationError("--redirect-uri '\(uri)' is plain http to another machine; use https (http only for 127.0.0.1, [::1] or localhost)")
        default: return  // a native app's private-use scheme (com.example.app:/callback)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a client; prints its secret once.")
        @Option(help: "The client ID.") var id: String
        @Option(help: "A display name.") var name: String?
        @Option(name: .customLong("redirect-uri"), help: "An exact redirect URI (repeatable).") var redirectURIs: [String] = []
        @Option(help: "The secret, \(OAuthClients.minimumSecretLength) characters or more (default: a new random one).") var secret: String?
        @Flag(help: "Replace a client of the same ID (its secret, name and redirect URIs).") var replace = false

        func validate() throws {
            for uri in redirectURIs { try OAuthClients.validateRedirectURI(uri) }
            if let secret, secret.count < OAuthClients.minimumSecretLength {
                throw ValidationError(
                    "--secret has \(secret.count) characters; at least \(OAuthClients.minimumSecretLength) are required (or leave it out for a random one)")
            }
        }

        func run() async throws {
            let clientSecret = secret ?? SecretToken.generate(prefix: "cgcs_")
            let database = try openDatabase()
            let store = OAuthStore(database: database)
            if !replace, try await store.client(id) != nil {
                try await database.close()
                FileHandle.standardError.write(Data("A client \(id) already exists; add --replace to replace it.\n".utf8))
                throw ExitCode(1)
            }
            try await store.upsertClient(clientID: id, secret: clientSecret, name: name ?? id, redirectURIs: redirectURIs, source: "cli")
            try await database.close()
            print(clientSecret)
            FileHandle.standardError.write(Data("Registered \(id). The secret is shown only this once.\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients.")

        func run() async throws {
            let database = try openDatabase()
            let clients = try await OAuthStore(database: database).clients()
            try await database.close()
            for client in clients {
                print("\(client.clientID)\t\(client.name)\t\(client.source)\t\(client.redirectURIs.joined(separator: ","))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a client and revoke everything issued to it.")
        @Argument var id: String

        func run() async throws {
            let database = try openDatabase()
            let removed = try await OAuthStore(database: database).removeClient(id)
            try await database.close()
            guard removed else {
                FileHandle.standardError.write(Data("No client \(id).\n".utf8))
                throw ExitCode(1)
            }
            print("Removed \(id).")
        }
    }
}
