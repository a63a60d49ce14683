import Foundation
import NIOCore

/// Checks made before the server opens anything, so that a bad directory or address stops
/// startup with a ``ConfigurationError`` naming the variable (exit 78) instead of a stack trace.
public enum StartupPreflight {
    /// `CODEX_HOME` (created if missing) and the database's directory are writable directories.
    public static func check(_ configuration: GatewayConfiguration, environment: Environment) throws {
        if let problem = writableDirectoryProblem(configuration.codexHome) {
            throw environment.error("CODEX_HOME", "\(configuration.codexHome) \(problem)")
        }
        let databaseDirectory = (configuration.databasePath as NSString).deletingLastPathComponent
        if let problem = writableDirectoryProblem(databaseDirectory.isEmpty ? "." : databaseDirectory) {
            throw environment.error("DATABASE_PATH", "the database's directory \(databaseDirectory) \(problem)")
        }
    }

    /// Nil when `path` is, or could be created as, a directory a file can be written in; else why not.
    /// Creates the directory (as the server would) and removes the file it writes to prove it.
    public static func writableDirectoryProblem(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "is a file, not a directory"
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            return "cannot be created (\(creationProblem(path)))"
        }
        let probe = (path as NSString).appendingPathComponent(".codex-gateway-write-test-\(UUID().uuidString)")
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { return "is not writable (\(String(cString: strerror(errno))))" }
        close(descriptor)
        unlink(probe)
        return nil
    }

    /// A startup failure an operator fixes in the configuration, as the ``ConfigurationError`` to
    /// report: configuration errors themselves, and a listening address that cannot be bound.
    public static func configurationError(for error: any Error, configuration: GatewayConfiguration, environment: Environment) -> ConfigurationError? {
        if let error = error as? ConfigurationError { return error }
        let address = "\(configuration.host):\(configuration.port)"
        if error is SocketAddressError || error is SocketAddressError.UnknownHost {
            return environment.error("HOST", "cannot listen on \(address): the host name does not resolve to an address")
        }
        guard let error = error as? IOError else { return nil }
        switch error.errnoCode {
        case EADDRINUSE:
            return environment.error("PORT", "cannot listen on \(address): the address is already in use")
        case EACCES:
            return environment.error("PORT", "cannot listen on \(address): permission denied (ports below 1024 need privileges)")
        case EADDRNOTAVAIL:
            return environment.error("HOST", "cannot listen on \(address): no such address on this machine")
        default:
            return nil
        }
    }

    /// Why `path` cannot be created: its nearest existing ancestor is a file, or is not writable.
    private static func creationProblem(_ path: String) -> String {
        var ancestor = (path as NSString).deletingLastPathComponent
        while !ancestor.isEmpty, ancestor != "/", !FileManager.default.fileExists(atPath: ancestor) {
            ancestor = (ancestor as NSString).deletingLastPathComponent
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "\(ancestor) is a file, not a directory"
        }
        return "\(ancestor.isEmpty ? "." : ancestor) is not writable"
    }
}
