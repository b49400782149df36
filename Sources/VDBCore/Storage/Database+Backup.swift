// `Database.backup`: a consistent, compacted copy of a live database, checked after it is written.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What ``Database/backup(to:)`` wrote.
public struct BackupSummary: Sendable, Codable, Equatable {
    /// The backup directory (a vdb database directory).
    public var path: String
    /// Bytes of its `data.mdb`.
    public var bytes: Int
    /// The full ``Database/check(collection:)`` of the backup.
    public var check: CheckReport
}

extension Database {
    /// Writes a consistent, compacted copy of the whole database into `directory`, which must be
    /// absent or empty, then opens the copy and checks it (``check(collection:)``).
    ///
    /// The copy is one committed state (LMDB `mdb_env_copy2` with `MDB_CP_COMPACT` over one read
    /// transaction): other threads and processes keep reading and writing while it runs, and
    /// nothing they commit later is in it. The file is flushed to disk before this returns.
    /// The backup is itself a vdb database directory: open it with `Database(path:)` (or
    /// `vdb --db DIR`); to restore, stop the writers and put its `data.mdb` in place of the
    /// database's (see Docs/reliability.md).
    /// - Throws: ``VDBError/invalidArgument(_:)`` when `directory` is not empty,
    ///   ``VDBError/io(path:message:)`` or ``VDBError/diskFull(path:)`` when the copy cannot be
    ///   written (a partial copy is removed).
    @discardableResult
    public func backup(to directory: String) throws -> BackupSummary {
        let dir = (directory as NSString).expandingTildeInPath
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw VDBError.invalidArgument("backup target \(dir) is a file, not a directory") }
            let contents = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
            guard contents.isEmpty else { throw VDBError.invalidArgument("backup target \(dir) is not empty") }
        } else {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw VDBError.io(path: dir, message: "cannot create the backup directory: \(error.localizedDescription)")
            }
        }
        let dataFile = (dir as NSString).appendingPathComponent("data.mdb")
        do {
            try env.copy(to: dir)
            try Self.flush(file: dataFile, directory: dir)
        } catch {
            try? fm.removeItem(atPath: dataFile)
            throw error
        }
        let copy = try Database(path: dir)
        let report = try copy.check()
        let bytes = ((try? fm.attributesOfItem(atPath: dataFile))?[.size] as? Int) ?? 0
        return BackupSummary(path: dir, bytes: bytes, check: report)
    }

    /// `fsync` of the copy and of its directory entry.
    private static func flush(file: String, directory: String) throws {
        for (path, flags) in [(file, O_RDONLY), (directory, O_RDONLY | O_DIRECTORY)] {
            let fd = open(path, flags)
            guard fd >= 0 else { throw VDBError.io(path: path, message: "cannot open to flush: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            if fsync(fd) != 0 {
                let e = errno
                if e == ENOSPC || e == EDQUOT { throw VDBError.diskFull(path: path) }
                throw VDBError.io(path: path, message: "fsync failed: \(String(cString: strerror(e)))")
            }
        }
    }
}
