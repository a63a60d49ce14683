import Foundation

/// Where a turn's commands run: `WORKSPACES_ROOT/<principal directory>/<name>`, created on first
/// use, the name defaulting to the conversation id (PROTOCOLS.md §10).
///
/// A name is relative and may be nested (`projects/site`); it is refused (``TurnPolicyError/invalidWorkspace(_:)``)
/// when empty, absolute, longer than 63 characters, holding a `..` component, a NUL or another control
/// character, or when one of its existing components is a symbolic link that leads outside the
/// principal's directory (or nowhere) or is not a directory. `.` and empty components are dropped,
/// so `a/./b/` and `a/b` are the same workspace. Directories are created 0700, component by
/// component, each checked before the next is created beneath it, so nothing is ever created
/// outside the principal's directory.
public struct WorkspaceResolver: Sendable {
    /// `WORKSPACES_ROOT`, absolute; created (0700) when missing.
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// The longest name accepted, in UTF-8 bytes.
    /// 63 characters are at most 252 bytes of UTF-8, inside every file system's 255-byte name
    /// limit, and the same count `openapi.yaml`'s `maxLength` states.
    public static let maxNameLength = 63

    /// The directory, under ``root``, of the principal whose ``Principal/owner`` is `owner`.
    ///
    /// Readable, deterministic and one-to-one: bytes of `owner` other than `a-z`, `0-9`, `_` and
    /// `-` are written `%XX` (upper-case hex), so `key_0123abcd` stays as it is and
    /// `oauth-client:app` becomes `oauth-client%3Aapp`. `%` is itself escaped, and upper-case hex
    /// follows only `%`, so two owners never share a directory, even on a case-insensitive file
    /// system, and the result is never `.` or `..`. An empty owner, or one whose escaped form
    /// would pass 200 bytes, is `+` and the SHA-256 of the owner in hex (`+` is never escaped output).
    public static func principalDirectoryName(forOwner owner: String) -> String {
        var escaped = ""
        for byte in owner.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                escaped += String(format: "%%%02X", byte)
            }
        }
        guard escaped.isEmpty || escaped.utf8.count > 200 else { return escaped }
        return "+" + CredentialHash.hex(CredentialHash.digest(owner))
    }

    /// The components of a valid workspace name, or the reason it is refused.
    public static func components(ofName name: String) throws(TurnPolicyError) -> [String] {
        guard !name.isEmpty else { throw .invalidWorkspace("the name is empty") }
        guard name.unicodeScalars.count <= maxNameLength else {
            throw .invalidWorkspace("the name is \(name.unicodeScalars.count) characters long; the most is \(maxNameLength)")
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalidWorkspace("the name contains a control character")
        }
        guard !name.hasPrefix("/") else {
            throw .invalidWorkspace("'\(name)' is an absolute path; a workspace is a name relative to your workspaces directory")
        }
        let components = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        guard !components.contains("..") else {
            throw .invalidWorkspace("'\(name)' contains a '..' component; a workspace stays inside your workspaces directory")
        }
        guard !components.isEmpty else { throw .invalidWorkspace("'\(name)' names no directory") }
        return components
    }

    /// Creates (if needed) and returns the absolute, symlink-free path of `owner`'s directory,
    /// which holds its workspaces.
    public func principalDirectory(owner: String) throws(TurnPolicyError) -> String {
        do {
            try PrivateFiles.createDirectory(at: URL(fileURLWithPath: root))
        } catch {
            throw .workspaceUnavailable("cannot create WORKSPACES_ROOT '\(root)': \(error)")
        }
        guard let realRoot = Self.realPath(root) else { throw .workspaceUnavailable("cannot resolve WORKSPACES_ROOT '\(root)'") }
        let principal = (realRoot as NSString).appendingPathComponent(Self.principalDirectoryName(forOwner: owner))
        try Self.makeDirectory(principal)
        guard Self.type(of: principal) == .typeDirectory else {
            throw .workspaceUnavailable("the principal directory '\(principal)' is not a directory")
        }
        return principal
    }

    /// Creates (if needed) and returns the absolute, symlink-free path of `owner`'s workspace
    /// `name`, or of the one named after `conversationID` when `name` is nil.
    public func resolve(workspace name: String?, conversationID: String, owner: String) throws(TurnPolicyError) -> String {
        let name = name ?? conversationID
        let components = try Self.components(ofName: name)
        let principal = try principalDirectory(owner: owner)
        var current = principal
        for (index, component) in components.enumerated() {
            let next = (current as NSString).appendingPathComponent(component)
            try Self.makeDirectory(next)
            let shown = components[...index].joined(separator: "/")
            switch Self.type(of: next) {
            case .typeDirectory:
                current = next
            case .typeSymbolicLink:
                guard let target = Self.realPath(next), Self.isInside(target, principal) else {
                    throw .invalidWorkspace("'\(shown)' is a symbolic link that leads outside your workspaces directory")
                }
                guard Self.type(of: target) == .typeDirectory else {
                    throw .invalidWorkspace("'\(shown)' is not a directory")
                }
                current = target
            default:
                throw .invalidWorkspace("'\(shown)' exists and is not a directory")
            }
        }
        guard let resolved = Self.realPath(current), Self.isInside(resolved, principal) else {
            throw .invalidWorkspace("'\(name)' leads outside your workspaces directory")
        }
        return resolved
    }

    /// `mkdir(path, 0700)`; an existing entry is fine (the caller checks what it is).
    private static func makeDirectory(_ path: String) throws(TurnPolicyError) {
        guard mkdir(path, PrivateFiles.directoryMode) == 0 || errno == EEXIST else {
            throw .workspaceUnavailable("cannot create '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// The entry's own type (a symbolic link is not followed); nil when there is none.
    private static func type(of path: String) -> FileAttributeType? {
        PrivateFiles.entryType(atPath: path)
    }

    /// `realpath(3)`: absolute, with every symbolic link resolved; nil when it leads nowhere.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Compared as bytes, as the file system does: as Characters, a name that begins with a
    /// combining mark (an emoji modifier, an accent) joins the `/` before it and never matches.
    private static func isInside(_ path: String, _ directory: String) -> Bool {
        path.utf8.elementsEqual(directory.utf8) || path.utf8.starts(with: (directory + "/").utf8)
    }
}
