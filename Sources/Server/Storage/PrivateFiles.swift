import Foundation

/// Files and directories that hold conversations, credentials and keys are the gateway's user's
/// alone: directories 0700, files 0600, whatever the process umask.
enum PrivateFiles {
    static let directoryMode: mode_t = 0o700
    static let fileMode: mode_t = 0o600

    /// Creates `url` and any missing parents as 0700 directories; an existing directory is fine.
    ///
    /// `mkdir(2)` per missing component rather than FileManager's `createDirectory(…attributes:)`,
    /// which reads `/etc/passwd` and `/etc/group` on every call, and a new conversation makes two.
    static func createDirectory(at url: URL) throws {
        let path = url.path
        var isDirectory: ObjCBool = false
        // A symbolic link to a directory is a directory here (a volume mounted elsewhere).
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: path]) }
            return
        }
        let parent = url.deletingLastPathComponent()
        if parent.path != path, !parent.path.isEmpty { try createDirectory(at: parent) }
        guard mkdir(path, directoryMode) == 0 || errno == EEXIST else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
    }

    /// What is at `path`, a symbolic link not followed; nil when nothing is. `readlink(2)` and
    /// `stat(2)` alone: FileManager's attributes read the user and group databases on every call.
    static func entryType(atPath path: String) -> FileAttributeType? {
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil { return .typeSymbolicLink }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        return isDirectory.boolValue ? .typeDirectory : .typeRegular
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
