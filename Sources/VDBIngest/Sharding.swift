// Deterministic shards of an ingest: `vdb ingest ROOT --shard I/N` and `--files LIST`.
//
// The stable ordering is by path id: the id ingest gives an image (the first 63 bits of the
// SHA-256 of its absolute path). Shard I of N takes the files whose id lies in the I-th of N
// equal ranges of the id space. So a file's shard depends on its path alone, not on the other
// files or the walk: a rerun (after a kill, on another executor) takes exactly the same files and
// gives them the same ids; adding files never moves others between shards; the N shards are
// disjoint, together they hold every file once, and their sizes differ only by chance (binomially).
import Foundation
import VDBCore
#if canImport(Glibc)
import Glibc
#endif

/// Shard `index` of `count` (0-based): one of `count` disjoint, deterministic slices of an input.
public struct ShardSpec: Sendable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// - Throws: `VDBError.invalidArgument` unless `0 <= index < count` and `count` is 1...65536.
    public init(index: Int, count: Int) throws {
        guard (1...65536).contains(count), (0..<count).contains(index) else {
            throw VDBError.invalidArgument("shard \(index)/\(count): need 0 <= I < N and 1 <= N <= 65536")
        }
        self.index = index
        self.count = count
    }

    /// Parses "I/N" (e.g. "2/8").
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw VDBError.invalidArgument("shard '\(text)': expected I/N, e.g. 0/4 for the first of four shards")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard (0..<count) of a 63-bit id: floor(id * count / 2^63).
    public static func shard(of id: UInt64, count: Int) -> Int {
        let (high, low) = (id & 0x7fff_ffff_ffff_ffff).multipliedFullWidth(by: UInt64(count))
        return Int(high << 1 | low >> 63)
    }

    /// Whether the file at absolute `path` belongs to this shard.
    public func contains(path: String) -> Bool {
        ShardSpec.shard(of: Ingestor.pathID(path), count: count) == index
    }
}

/// Which of the files an ingest finds it takes (``IngestOptions/selection``).
public struct IngestSelection: Sendable, Hashable {
    /// Only the files of this shard.
    public var shard: ShardSpec?
    /// Only these files (absolute paths, as the walk reaches them).
    public var files: Set<String>?

    public init(shard: ShardSpec? = nil, files: Set<String>? = nil) {
        self.shard = shard
        self.files = files
    }

    /// Whether the file at absolute `path` is taken.
    public func admits(_ path: String) -> Bool {
        if let files, !files.contains(path) { return false }
        if let shard, !shard.contains(path: path) { return false }
        return true
    }
}

/// A list of files to ingest (`vdb ingest --files LIST`): one path per line; blank lines and
/// lines starting with `#` are ignored; relative paths are relative to the current directory.
public struct IngestFileList: Sendable {
    /// The listed files that exist, as absolute paths (their folder's real path and their name:
    /// the path a walk of that folder reaches, so the ids match a folder ingest).
    public var files: Set<String>
    /// The folders to walk: the listed files' folders, without any folder inside another.
    public var roots: [String]
    /// Listed paths that do not exist or are not regular files.
    public var missing: [IngestIssue]

    /// Reads the list at `path` ("-" reads standard input).
    /// - Throws: ``IngestError/noUsablePaths(_:)`` when the list cannot be read or names no file.
    public init(contentsOf path: String) throws {
        let text: String
        if path == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw IngestError.noUsablePaths([IngestIssue(path: path, reason: "cannot read the file list")])
            }
            text = String(decoding: data, as: UTF8.self)
        }
        try self.init(lines: text.split(whereSeparator: \.isNewline).map(String.init), listName: path)
    }

    /// Resolves `lines` as the lines of a file list named `listName`.
    public init(lines: [String], listName: String = "file list") throws {
        var files = Set<String>()
        var folders = Set<String>()
        var missing: [IngestIssue] = []
        let cwd = FileManager.default.currentDirectoryPath
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let absolute = line.hasPrefix("/") ? line : (cwd as NSString).appendingPathComponent(line)
            let folder = (absolute as NSString).deletingLastPathComponent
            let name = (absolute as NSString).lastPathComponent
            var st = stat()
            guard let real = realpath(folder, nil) else {
                missing.append(IngestIssue(path: line, reason: errnoText(errno)))
                continue
            }
            let realFolder = String(cString: real)
            free(real)
            let file = realFolder == "/" ? "/" + name : realFolder + "/" + name
            guard stat(file, &st) == 0 else {
                missing.append(IngestIssue(path: line, reason: errnoText(errno)))
                continue
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                missing.append(IngestIssue(path: line, reason: "not a regular file"))
                continue
            }
            files.insert(file)
            folders.insert(realFolder)
        }
        guard !files.isEmpty else {
            throw IngestError.noUsablePaths(missing.isEmpty ? [IngestIssue(path: listName, reason: "the list names no file")] : missing)
        }
        // Walks are recursive: keep only the outermost folders.
        let sorted = folders.sorted()
        var roots: [String] = []
        for f in sorted where !roots.contains(where: { f.hasPrefix($0 == "/" ? "/" : $0 + "/") }) { roots.append(f) }
        self.files = files
        self.roots = roots
        self.missing = missing
    }

    /// The nearest folder holding every listed file (the default collection name comes from it).
    public var commonFolder: String {
        var parts = roots.first.map { $0.split(separator: "/").map(String.init) } ?? []
        for r in roots.dropFirst() {
            let p = r.split(separator: "/").map(String.init)
            var k = 0
            while k < min(parts.count, p.count) && parts[k] == p[k] { k += 1 }
            parts = Array(parts.prefix(k))
        }
        return "/" + parts.joined(separator: "/")
    }
}
