#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file found by ``FolderWalker``.
struct FoundFile: Sendable, Hashable {
    /// The path as reached from the walk root (root path joined with the relative path).
    var path: String
    /// File size in bytes.
    var size: Int64
    /// Modification time, seconds since 1970 (with fraction).
    var mtime: Double
}

/// The files of one directory, in name order: the unit the walker yields, so that caption
/// sidecars and per-folder caption files can be resolved next to their images.
struct DirectoryListing: Sendable {
    /// The directory path.
    var directory: String
    /// Regular files directly inside it (hidden ones only if asked), sorted by name.
    var files: [FoundFile]
}

/// A path the walker could not use, with the reason.
struct WalkProblem: Sendable, Hashable, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "\(path): \(reason)" }
}

/// Walks folders recursively and deterministically (entries sorted by name), following symbolic
/// links to directories but never entering the same directory twice (so symlink loops end),
/// skipping hidden entries (names starting with ".") unless asked.
///
/// Memory is bounded by the directory tree's depth and the largest single directory, not by
/// the number of files: listings are produced one directory at a time.
struct FolderWalker: Sequence, IteratorProtocol {
    private var pending: [String]
    private var visited = Set<[UInt64]>()
    private let includeHidden: Bool
    /// Problems met so far (missing roots, unreadable folders, symlink loops, broken links).
    private(set) var problems: [WalkProblem] = []
    /// Roots given as single files are yielded in one listing of their own.
    private var looseFiles: [FoundFile] = []
    /// Real paths of the folders the walk must stay inside (nil: anywhere).
    private let confinement: [String]?

    /// Prepares a walk over `roots` (folders or single files).
    ///
    /// - Parameter confinedTo: when given, every root, folder and file is used only if its real
    ///   path (symbolic links resolved) lies inside one of these folders; others become problems.
    init(roots: [String], includeHidden: Bool = false, confinedTo: [String]? = nil) {
        self.includeHidden = includeHidden
        let confinement = confinedTo.map { $0.compactMap(PathConfinement.realPath) }
        self.confinement = confinement
        var dirs: [String] = []
        for root in roots {
            var st = stat()
            if let confinement, !PathConfinement.resolves(root, insideAnyOf: confinement) {
                problems.append(WalkProblem(path: root, reason: FolderWalker.outside))
            } else if stat(root, &st) != 0 {
                problems.append(WalkProblem(path: root, reason: errnoText(errno)))
            } else if (st.st_mode & S_IFMT) == S_IFDIR {
                dirs.append(root)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                looseFiles.append(FoundFile(path: root, size: Int64(st.st_size), mtime: mtimeOf(st)))
            } else {
                problems.append(WalkProblem(path: root, reason: "not a regular file or folder"))
            }
        }
        pending = dirs.reversed()
    }

    mutating func next() -> DirectoryListing? {
        if !looseFiles.isEmpty {
            let files = looseFiles
            looseFiles = []
            return DirectoryListing(directory: "", files: files)
        }
        while let dir = pending.popLast() {
            var st = stat()
            guard stat(dir, &st) == 0 else {
                problems.append(WalkProblem(path: dir, reason: errnoText(errno)))
                continue
            }
            let key = [UInt64(st.st_dev), UInt64(st.st_ino)]
            if visited.contains(key) {
                problems.append(WalkProblem(path: dir, reason: "already visited (symbolic link loop or duplicate link), skipped"))
                continue
            }
            visited.insert(key)
            guard let handle = opendir(dir) else {
                problems.append(WalkProblem(path: dir, reason: "cannot read folder: \(errnoText(errno))"))
                continue
            }
            var names: [String] = []
            while let entry = readdir(handle) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                if !includeHidden && name.hasPrefix(".") { continue }
                names.append(name)
            }
            closedir(handle)
            names.sort()
            var files: [FoundFile] = []
            var subdirs: [String] = []
            for name in names {
                let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
                var est = stat()
                if stat(path, &est) != 0 {
                    let err = errno
                    var lst = stat()
                    let isLink = lstat(path, &lst) == 0 && (lst.st_mode & S_IFMT) == S_IFLNK
                    problems.append(WalkProblem(path: path, reason: isLink ? "broken symbolic link" : errnoText(err)))
                    continue
                }
                if !isInsideConfinement(path) {
                    problems.append(WalkProblem(path: path, reason: FolderWalker.outside))
                    continue
                }
                switch est.st_mode & S_IFMT {
                case S_IFDIR: subdirs.append(path)
                case S_IFREG: files.append(FoundFile(path: path, size: Int64(est.st_size), mtime: mtimeOf(est)))
                default: break  // sockets, fifos, devices: not photos
                }
            }
            pending.append(contentsOf: subdirs.reversed())
            return DirectoryListing(directory: dir, files: files)
        }
        return nil
    }
}

extension FolderWalker {
    static let outside = "leads outside the allowed folders (symbolic link?), skipped"

    /// Whether `path` resolves inside one of the confinement folders (always true without one).
    private func isInsideConfinement(_ path: String) -> Bool {
        guard let confinement else { return true }
        return PathConfinement.resolves(path, insideAnyOf: confinement)
    }
}

func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code)).lowercased()
}

func mtimeOf(_ st: stat) -> Double {
    Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
}

/// The walker's path confinement rules, for `vdb serve` (which checks `--allow-ingest-from`
/// folders the same way an ingest walk does).
package enum PathConfinement {
    /// The canonical absolute path of an existing file or folder (symbolic links, `.` and `..`
    /// resolved), or nil when it does not exist.
    package static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Whether `path` exists and its real path is one of `folders` (given as real paths) or lies
    /// inside one of them.
    package static func resolves(_ path: String, insideAnyOf folders: [String]) -> Bool {
        guard let real = realPath(path) else { return false }
        return folders.contains { real == $0 || real.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
    }
}
