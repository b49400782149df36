// A thin, owned wrapper over one LMDB environment (one vdb database directory).
//
// Thread rules (the reason `Environment` is `@unchecked Sendable`):
// - The env handle is opened with MDB_NOTLS, so a read transaction is not tied to a thread.
//   Every public read runs in its own short read transaction; many run in parallel.
// - In-process writers are serialized by `writeLock` (LMDB also serializes writers across
//   processes with its own lock file).
// - `mdb_env_set_mapsize` may only run while this process has no transaction open, so every
//   transaction holds the shared side of `gate`, and growing the map takes the exclusive side.
import CLMDB
import Foundation
import Synchronization
import VDBSupport

/// Shared/exclusive gate: transactions enter shared, map resizing enters exclusive.
/// Waiting resizers block new entrants so a stream of searches cannot starve a writer; a thread
/// already inside (a search filter or a `write { }` closure reading a collection: a transaction
/// nested in another) enters at once, since the resizer waits for its outer transaction anyway.
final class ResizeGate: @unchecked Sendable {  // all state is guarded by `cond` (a condition variable: `Mutex` cannot wait)
    private let cond = NSCondition()
    private var active = 0
    private var exclusiveWaiting = 0

    func enterShared() {
        let held = HeldSections.current()
        let nested = held.mode(of: self) != nil
        cond.lock()
        while exclusiveWaiting > 0 && !nested { cond.wait() }
        active += 1
        cond.unlock()
        held.enter(self, exclusive: false)
    }

    /// Whether a resizer waits to enter (for tests).
    var exclusiveIsWaiting: Bool {
        cond.lock()
        defer { cond.unlock() }
        return exclusiveWaiting > 0
    }

    func leaveShared() {
        HeldSections.current().leave(self)
        cond.lock()
        active -= 1
        if active == 0 { cond.broadcast() }
        cond.unlock()
    }

    func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        cond.lock()
        exclusiveWaiting += 1
        while active > 0 { cond.wait() }
        defer {
            exclusiveWaiting -= 1
            cond.broadcast()
            cond.unlock()
        }
        return try body()
    }
}

/// An LMDB failure with its return code. Mapped to `VDBError` at the public boundary.
struct LMDBFailure: Error {
    let code: Int32
    let operation: String
    var message: String { String(cString: mdb_strerror(code)) }
}

@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBFailure(code: rc, operation: operation()) }
}

/// The named databases (DBIs) of a vdb environment, opened once when the environment opens.
struct DBIs: Sendable {
    /// Database-wide records: format version, next collection id.
    var meta: MDB_dbi = 0
    /// Collection name -> JSON `CollectionConfig`.
    var catalog: MDB_dbi = 0
    /// Collection id (u32 BE) -> `CollectionState` (count, slot high-water mark, next auto id).
    var state: MDB_dbi = 0
    /// Collection id + block number (u32 BE each) -> vector block.
    var blocks: MDB_dbi = 0
    /// Collection id + vector id (u64 BE) -> slot (u32 LE).
    var ids: MDB_dbi = 0
    /// Collection id + vector id -> encoded metadata.
    var metadata: MDB_dbi = 0
    /// Collection id + slot (u32 BE) -> empty: the free list of reusable slots.
    var free: MDB_dbi = 0
    /// Collection id + index-private key -> index record.
    var index: MDB_dbi = 0
    /// Collection id + field number + ... -> metadata index record (MetadataIndexCodec.swift).
    var fields: MDB_dbi = 0

    static let names = ["meta", "catalog", "state", "blocks", "ids", "metadata", "free", "index", "fields"]
    /// DBIs added after format version 1 first shipped: a database made before them lacks them,
    /// and opening it creates them (empty), which older builds ignore.
    static let addedLater: Set<String> = ["fields"]

    subscript(name: String) -> MDB_dbi {
        get {
            switch name {
            case "meta": return meta
            case "catalog": return catalog
            case "state": return state
            case "blocks": return blocks
            case "ids": return ids
            case "metadata": return metadata
            case "free": return free
            case "fields": return fields
            default: return index
            }
        }
        set {
            switch name {
            case "meta": meta = newValue
            case "catalog": catalog = newValue
            case "state": state = newValue
            case "blocks": blocks = newValue
            case "ids": ids = newValue
            case "metadata": metadata = newValue
            case "free": free = newValue
            case "fields": fields = newValue
            default: index = newValue
            }
        }
    }
}

/// One open LMDB environment. Shared by every `Database` value opened on the same directory
/// in this process (LMDB forbids opening one environment twice in a process).
final class Environment: @unchecked Sendable {  // see the thread rules at the top of the file
    let env: OpaquePointer
    let directory: URL
    private(set) var dbis = DBIs()
    private let gate = ResizeGate()
    private let writeLock = NSLock()
    /// Current map size; read and written only inside `gate.exclusive` or under `writeLock`.
    private var mapSize: Int

    /// Test hook: when set, runs right before every `mdb_txn_commit` of this environment; a
    /// non-zero result is taken as that commit's LMDB return code (the transaction is aborted
    /// instead of committed, exactly as LMDB leaves a failed commit).
    let _beforeCommit = Synchronization.Mutex<(@Sendable () -> Int32)?>(nil)

    /// The current on-disk format version: 2 seals every vector block, metadata record and index
    /// record with a CRC32C. Version 1 databases are converted when opened (`migrateFromVersion1`).
    static let formatVersion: UInt32 = 2
    static let magic = Array("vdb-database".utf8)

    // MARK: process-wide registry

    private static let registry = Mutex<[String: WeakEnvironment]>([:])

    private final class WeakEnvironment { weak var value: Environment?; init(_ v: Environment) { value = v } }

    /// Opens (or reuses) the environment of the database directory `url`, creating it if needed.
    static func open(_ url: URL, initialMapSize: Int) throws -> Environment {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw VDBError.notADatabase(path: url.path, reason: "it is a file, not a directory") }
            let dataFile = url.appendingPathComponent("data.mdb").path
            if !fm.fileExists(atPath: dataFile) {
                let contents = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
                let visible = contents.filter { !$0.hasPrefix(".") }
                if !visible.isEmpty {
                    throw VDBError.notADatabase(path: url.path, reason: "the directory is not empty and has no data.mdb")
                }
            }
        } else {
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw VDBError.io(path: url.path, message: "cannot create the database directory: \(error.localizedDescription)")
            }
        }
        let key = url.resolvingSymlinksInPath().standardizedFileURL.path
        return try registry.withLock { registry in
            if let existing = registry[key]?.value { return existing }
            let e = try Environment(url: url, initialMapSize: initialMapSize)
            registry[key] = WeakEnvironment(e)
            return e
        }
    }

    private init(url: URL, initialMapSize: Int) throws {
        directory = url
        // Before LMDB maps anything: a truncated file would turn reads into SIGBUS.
        try DataFileCheck.check(url.appendingPathComponent("data.mdb").path)
        var e: OpaquePointer?
        try check(mdb_env_create(&e), "mdb_env_create")
        guard let env = e else { throw VDBError.io(path: url.path, message: "mdb_env_create returned no handle") }
        self.env = env
        // Start from the file size if the database is already bigger than the requested map.
        let dataPath = url.appendingPathComponent("data.mdb").path
        let fileSize = ((try? FileManager.default.attributesOfItem(atPath: dataPath))?[.size] as? Int) ?? 0
        var size = max(initialMapSize, 1 << 20)
        while size < fileSize { size *= 2 }
        mapSize = size
        do {
            try check(mdb_env_set_maxdbs(env, MDB_dbi(DBIs.names.count + 2)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, 512), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, size), "mdb_env_set_mapsize")
            let rc = mdb_env_open(env, url.path, UInt32(MDB_NOTLS), 0o644)
            if rc != 0 {
                if rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH {
                    throw VDBError.notADatabase(path: url.path, reason: "data.mdb is not an LMDB file this build can read")
                }
                throw LMDBFailure(code: rc, operation: "mdb_env_open")
            }
            // Reader slots left by processes that died (a kill -9 during a search) would keep
            // LMDB from reusing the pages their snapshots pinned: clear them.
            var dead: Int32 = 0
            _ = mdb_reader_check(env, &dead)
            // The file may have been grown by another process: adopt its map size.
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            mapSize = max(mapSize, info.me_mapsize)
            try openDBIs()
        } catch {
            // Every stored property is initialized here, so `deinit` runs and closes `env`.
            if let f = error as? LMDBFailure { throw VDBError(f, path: url.path) }
            throw error
        }
    }

    deinit { mdb_env_close(env) }

    /// Opens the named databases; creates them and stamps the format on a fresh directory;
    /// refuses LMDB files that are not vdb databases or have another format version.
    private func openDBIs() throws {
        // First look without creating anything.
        var missing: [String] = []
        let layout: (fresh: Bool, dbis: DBIs?) = try withRawTxn(readOnly: true) { txn in
            var main: MDB_dbi = 0
            try check(mdb_dbi_open(txn, nil, 0, &main), "mdb_dbi_open(main)")
            var probe: MDB_dbi = 0
            let rc = mdb_dbi_open(txn, "meta", 0, &probe)
            if rc == MDB_NOTFOUND {
                var stat = MDB_stat()
                mdb_stat(txn, main, &stat)
                if stat.ms_entries > 0 {
                    throw VDBError.notADatabase(path: directory.path, reason: "the LMDB file holds no vdb catalog")
                }
                return (true, nil)
            }
            try check(rc, "mdb_dbi_open(meta)")
            var d = DBIs()
            for name in DBIs.names {
                var dbi: MDB_dbi = 0
                let rc2 = mdb_dbi_open(txn, name, 0, &dbi)
                if rc2 == MDB_NOTFOUND && DBIs.addedLater.contains(name) {
                    missing.append(name)
                    continue
                }
                if rc2 == MDB_NOTFOUND {
                    throw VDBError.notADatabase(path: directory.path, reason: "the named database '\(name)' is missing")
                }
                try check(rc2, "mdb_dbi_open(\(name))")
                d[name] = dbi
            }
            return (false, d)
        }
        if var d = layout.dbis {
            dbis = d
            let version = try checkFormat()  // refuses other formats before anything is written
            if !missing.isEmpty {
                // A database from before these DBIs: create them (empty) once.
                try withRawTxn(readOnly: false) { txn in
                    for name in missing {
                        var dbi: MDB_dbi = 0
                        try check(mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi), "mdb_dbi_open(\(name))")
                        d[name] = dbi
                    }
                }
                dbis = d
            }
            if version == 1 { try migrateFromVersion1() }
            return
        }
        // Fresh database: create all DBIs and write the format stamp in one transaction.
        var d = DBIs()
        try withRawTxn(readOnly: false) { txn in
            for name in DBIs.names {
                var dbi: MDB_dbi = 0
                try check(mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi), "mdb_dbi_open(\(name))")
                d[name] = dbi
            }
            try rawPut(txn, d.meta, Array("magic".utf8), Environment.magic)
            var v = Environment.formatVersion.littleEndian
            try rawPut(txn, d.meta, Array("format".utf8), withUnsafeBytes(of: &v) { Array($0) })
            var next: UInt32 = 1
            try rawPut(txn, d.meta, Array("next_collection".utf8), withUnsafeBytes(of: &next) { Array($0) })
        }
        dbis = d
    }

    /// The database's format version: the current one, or 1 (converted by the caller).
    private func checkFormat() throws -> UInt32 {
        try withRawTxn(readOnly: true) { txn in
            guard let magic = try rawGet(txn, dbis.meta, Array("magic".utf8)), Array(magic) == Environment.magic else {
                throw VDBError.notADatabase(path: directory.path, reason: "the vdb format stamp is missing")
            }
            guard let f = try rawGet(txn, dbis.meta, Array("format".utf8)), f.count == 4 else {
                throw VDBError.notADatabase(path: directory.path, reason: "the format version is missing")
            }
            let version = UInt32(littleEndian: f.loadUnaligned(as: UInt32.self))
            if version != Environment.formatVersion && version != 1 {
                throw VDBError.incompatibleFormat(path: directory.path, found: Int(version), supported: Int(Environment.formatVersion))
            }
            return version
        }
    }

    /// Converts a format-1 database to format 2 in one write transaction: every vector block,
    /// metadata record, index record and metadata-index record gets its CRC32C trailer (the payload bytes are kept as
    /// they are), and the format stamp becomes 2. All or nothing: a crash or a full disk leaves
    /// version 1, and the next open converts again. Another process of this build that opened
    /// the database meanwhile has converted it already (checked inside the transaction).
    private func migrateFromVersion1() throws {
        try write { txn in
            let formatKey = Array("format".utf8)
            guard let f = try txn.get(dbis.meta, formatKey), f.count == 4,
                  UInt32(littleEndian: f.loadUnaligned(as: UInt32.self)) == 1 else { return }
            for dbi in [dbis.blocks, dbis.metadata, dbis.index, dbis.fields] {
                var records: [([UInt8], [UInt8])] = []
                var after: [UInt8]? = nil
                // In runs of up to 256 records: copy, then rewrite (a cursor does not survive puts).
                repeat {
                    records.removeAll(keepingCapacity: true)
                    try txn.reader.scan(dbi, from: after) { key, value in
                        records.append((Array(key), Array(value)))
                        return records.count < 256
                    }
                    for (key, value) in records { try txn.putSealed(dbi, key, value) }
                    after = records.last?.0
                } while records.count == 256
            }
            var v = Environment.formatVersion.littleEndian
            try txn.put(dbis.meta, formatKey, withUnsafeBytes(of: &v) { Array($0) })
        }
    }

    /// Overwrites the format version (tests use it to simulate a database from another version).
    func _writeFormatVersion(_ version: UInt32) throws {
        try write { txn in
            var v = version.littleEndian
            try txn.put(self.dbis.meta, Array("format".utf8), withUnsafeBytes(of: &v) { Array($0) })
        }
    }

    // MARK: raw transactions (open time only)

    private func withRawTxn<T>(readOnly: Bool, _ body: (OpaquePointer) throws -> T) throws -> T {
        var t: OpaquePointer?
        try check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &t), "mdb_txn_begin")
        guard let txn = t else { throw LMDBFailure(code: EINVAL, operation: "mdb_txn_begin") }
        do {
            let r = try body(txn)
            // Commit even read-only transactions: DBI handles opened in a transaction become
            // usable by later transactions only when it commits.
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
            return r
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
    }

    // MARK: transactions

    /// Runs `body` in a read-only transaction (a consistent snapshot). Many may run in parallel,
    /// and in parallel with one writer. Buffers from the transaction are valid only inside `body`.
    func read<T>(_ body: (ReadTxn) throws -> T) throws -> T {
        while true {
            gate.enterShared()
            var t: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &t)
            if rc == MDB_MAP_RESIZED {
                gate.leaveShared()
                try adoptMapSize()
                continue
            }
            guard rc == 0, let txn = t else {
                gate.leaveShared()
                throw VDBError(LMDBFailure(code: rc, operation: "mdb_txn_begin(read)"), path: directory.path)
            }
            defer {
                mdb_txn_abort(txn)
                gate.leaveShared()
            }
            do {
                return try body(ReadTxn(raw: txn, dbis: dbis))
            } catch let f as LMDBFailure {
                throw VDBError(f, path: directory.path)
            }
        }
    }

    /// Runs `body` in a write transaction and commits it: all or nothing. When the map is full,
    /// the transaction is aborted, the map doubled, and `body` run again from the start.
    /// `onAbort` runs after any abort (including before a retry, and after a failed commit), so
    /// callers can drop in-memory state they changed inside `body`; `onCommit` runs after the
    /// commit. Both run before the next writer of this process can start.
    func write<T>(_ body: (WriteTxn) throws -> T, onAbort: () -> Void = {}, onCommit: () -> Void = {}) throws -> T {
        writeLock.lock()
        defer { writeLock.unlock() }
        while true {
            gate.enterShared()
            var t: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, 0, &t)
            if rc == MDB_MAP_RESIZED {
                gate.leaveShared()
                try adoptMapSize()
                continue
            }
            guard rc == 0, let txn = t else {
                gate.leaveShared()
                throw VDBError(LMDBFailure(code: rc, operation: "mdb_txn_begin(write)"), path: directory.path)
            }
            let result: T
            do {
                result = try body(WriteTxn(raw: txn, dbis: dbis))
            } catch let f as LMDBFailure {
                mdb_txn_abort(txn)
                gate.leaveShared()
                onAbort()
                if f.code == MDB_MAP_FULL {
                    try grow()
                    continue
                }
                throw VDBError(f, path: directory.path)
            } catch {
                mdb_txn_abort(txn)
                gate.leaveShared()
                onAbort()
                throw error
            }
            if let inject = _beforeCommit.withLock({ $0 }) {
                let code = inject()
                if code != 0 {
                    mdb_txn_abort(txn)
                    gate.leaveShared()
                    onAbort()
                    throw VDBError(LMDBFailure(code: code, operation: "mdb_txn_commit"), path: directory.path)
                }
            }
            // mdb_txn_commit frees the transaction whatever the outcome: never abort it after this.
            let crc = mdb_txn_commit(txn)
            gate.leaveShared()
            if crc == 0 {
                onCommit()
                return result
            }
            onAbort()
            if crc == MDB_MAP_FULL {
                try grow()
                continue
            }
            if crc == EIO && freeDiskBytes < 64 << 20 {
                // LMDB reports a short write on a full file system as EIO.
                throw VDBError.diskFull(path: directory.path)
            }
            throw VDBError(LMDBFailure(code: crc, operation: "mdb_txn_commit"), path: directory.path)
        }
    }

    /// Writes a compacted copy of the environment (as of one read transaction) to
    /// `directory/data.mdb`, which must not exist: LMDB's `mdb_env_copy2` with `MDB_CP_COMPACT`
    /// (free pages left out, pages renumbered). Other threads and processes keep reading and
    /// writing meanwhile; the copy holds one read snapshot for its duration.
    func copy(to directory: String) throws {
        while true {
            gate.enterShared()
            let rc = mdb_env_copy2(env, directory, UInt32(MDB_CP_COMPACT))
            gate.leaveShared()
            if rc == MDB_MAP_RESIZED {
                try adoptMapSize()
                continue
            }
            if rc != 0 { throw VDBError(LMDBFailure(code: rc, operation: "mdb_env_copy2"), path: directory) }
            return
        }
    }

    /// Bytes available to this user on the file system holding the database.
    var freeDiskBytes: Int {
        var st = statvfs()
        guard statvfs(directory.path, &st) == 0 else { return Int.max }
        return Int(st.f_bavail) * Int(st.f_frsize)
    }

    /// Doubles the map (called with no transaction of ours open on this thread).
    private func grow() throws {
        try gate.exclusive {
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            let newSize = max(mapSize, info.me_mapsize) * 2
            try check(mdb_env_set_mapsize(env, newSize), "mdb_env_set_mapsize")
            mapSize = newSize
        }
    }

    /// Adopts a map size another process set (after MDB_MAP_RESIZED).
    private func adoptMapSize() throws {
        try gate.exclusive {
            try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize(0)")
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            mapSize = info.me_mapsize
        }
    }

    /// Current map size in bytes.
    var currentMapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return info.me_mapsize
    }

    /// Size of data.mdb on disk.
    var fileBytes: Int {
        let p = directory.appendingPathComponent("data.mdb").path
        return ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0
    }
}

private func rawPut(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
    var key = key, value = value
    try key.withUnsafeMutableBytes { k in
        try value.withUnsafeMutableBytes { v in
            var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
            var vv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
            try check(mdb_put(txn, dbi, &kv, &vv, 0), "mdb_put")
        }
    }
}

private func rawGet(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
    var key = key
    return try key.withUnsafeMutableBytes { k in
        var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
        var vv = MDB_val()
        let rc = mdb_get(txn, dbi, &kv, &vv)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get")
        return UnsafeRawBufferPointer(start: vv.mv_data, count: vv.mv_size)
    }
}

/// A read-only view of a transaction. Returned buffers point into the memory map and are
/// valid until the transaction ends.
struct ReadTxn {
    let raw: OpaquePointer
    let dbis: DBIs

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try rawGet(raw, dbi, key)
    }

    /// Visits every record with a key after `after` (from the first when nil), in key order;
    /// `body` returns false to stop.
    func scan(_ dbi: MDB_dbi, from after: [UInt8]?,
              _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        var c: OpaquePointer?
        try check(mdb_cursor_open(raw, dbi, &c), "mdb_cursor_open")
        guard let cursor = c else { return }
        defer { mdb_cursor_close(cursor) }
        var start = after ?? []
        try start.withUnsafeMutableBytes { p in
            var kv = MDB_val(mv_size: p.count, mv_data: p.baseAddress)
            var vv = MDB_val()
            var rc = mdb_cursor_get(cursor, &kv, &vv, after == nil ? MDB_FIRST : MDB_SET_RANGE)
            if rc == 0, let after, UnsafeRawBufferPointer(start: kv.mv_data, count: kv.mv_size).elementsEqual(after) {
                rc = mdb_cursor_get(cursor, &kv, &vv, MDB_NEXT)
            }
            while rc == 0 {
                if try !body(UnsafeRawBufferPointer(start: kv.mv_data, count: kv.mv_size),
                             UnsafeRawBufferPointer(start: vv.mv_data, count: vv.mv_size)) { return }
                rc = mdb_cursor_get(cursor, &kv, &vv, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get") }
        }
    }

    /// Visits every record whose key starts with `prefix`, in key order; `body` returns false to stop.
    func scan(_ dbi: MDB_dbi, prefix: [UInt8],
              _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        var c: OpaquePointer?
        try check(mdb_cursor_open(raw, dbi, &c), "mdb_cursor_open")
        guard let cursor = c else { return }
        defer { mdb_cursor_close(cursor) }
        var start = prefix
        try start.withUnsafeMutableBytes { p in
            var kv = MDB_val(mv_size: p.count, mv_data: p.baseAddress)
            var vv = MDB_val()
            var rc = mdb_cursor_get(cursor, &kv, &vv, p.count == 0 ? MDB_FIRST : MDB_SET_RANGE)
            while rc == 0 {
                let key = UnsafeRawBufferPointer(start: kv.mv_data, count: kv.mv_size)
                if key.count < prefix.count || !prefix.withUnsafeBytes({ key.prefix(prefix.count).elementsEqual($0) }) { return }
                if try !body(key, UnsafeRawBufferPointer(start: vv.mv_data, count: vv.mv_size)) { return }
                rc = mdb_cursor_get(cursor, &kv, &vv, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get") }
        }
    }
}

/// A write transaction. Also usable for reads (it sees its own writes).
struct WriteTxn {
    let raw: OpaquePointer
    let dbis: DBIs

    var reader: ReadTxn { ReadTxn(raw: raw, dbis: dbis) }

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? { try rawGet(raw, dbi, key) }

    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws { try rawPut(raw, dbi, key, value) }

    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: UnsafeRawBufferPointer) throws {
        var key = key
        try key.withUnsafeMutableBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
            var vv = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            try check(mdb_put(raw, dbi, &kv, &vv, 0), "mdb_put")
        }
    }

    /// Puts a value of `size` bytes under `key` and lets `fill` write it in place (MDB_RESERVE).
    func reserve(_ dbi: MDB_dbi, _ key: [UInt8], size: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        var key = key
        try key.withUnsafeMutableBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
            var vv = MDB_val(mv_size: size, mv_data: nil)
            try check(mdb_put(raw, dbi, &kv, &vv, UInt32(MDB_RESERVE)), "mdb_put(reserve)")
            try fill(UnsafeMutableRawBufferPointer(start: vv.mv_data, count: size))
        }
    }

    /// Deletes `key`; returns whether it existed.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        var key = key
        return try key.withUnsafeMutableBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
            let rc = mdb_del(raw, dbi, &kv, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc, "mdb_del")
            return true
        }
    }

    /// Deletes every record whose key starts with `prefix`; returns how many.
    @discardableResult
    func deleteAll(_ dbi: MDB_dbi, prefix: [UInt8]) throws -> Int {
        var c: OpaquePointer?
        try check(mdb_cursor_open(raw, dbi, &c), "mdb_cursor_open")
        guard let cursor = c else { return 0 }
        defer { mdb_cursor_close(cursor) }
        var n = 0
        var start = prefix
        try start.withUnsafeMutableBytes { p in
            // Re-seek after every delete: simple and robust against cursor-position subtleties.
            while true {
                var kv = MDB_val(mv_size: p.count, mv_data: p.baseAddress)
                var vv = MDB_val()
                let rc = mdb_cursor_get(cursor, &kv, &vv, p.count == 0 ? MDB_FIRST : MDB_SET_RANGE)
                if rc == MDB_NOTFOUND { return }
                try check(rc, "mdb_cursor_get")
                let key = UnsafeRawBufferPointer(start: kv.mv_data, count: kv.mv_size)
                if key.count < prefix.count || !prefix.withUnsafeBytes({ key.prefix(prefix.count).elementsEqual($0) }) { return }
                try check(mdb_cursor_del(cursor, 0), "mdb_cursor_del")
                n += 1
            }
        }
        return n
    }
}
