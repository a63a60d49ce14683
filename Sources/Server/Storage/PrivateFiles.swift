import Foundation

/// Files and directories that hold conversations, credentials and keys are the gateway's user's
/// alone: directories 0700, files 0600, whatever the process umask.
enum PrivateFiles {
    static let directoryMode: mode_t = 0o700
    static let fileMode: mode_t = 0o600

    /// Creates `url` and any missing parents as 0700 directories.
    static func createDirectory(at url: URL) throws {
        try FileManager.default.createDirectory(
            at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: NSNumber(value: directoryMode)])
    }

    /// Creates an empty 0600 file at `path` if none exists; an existing one is restricted to 0600.
    static func createFile(atPath path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        fchmod(descriptor, fileMode)
        close(descriptor)
    }

    /// Narrows an existing file or directory to `mode`; false if it exists and could not be
    /// changed (another owner). A missing path is fine.
    @discardableResult
    static func restrict(_ path: String, to mode: mode_t) -> Bool {
        chmod(path, mode) == 0 || errno == ENOENT
    }
}
