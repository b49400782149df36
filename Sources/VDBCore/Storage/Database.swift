import Foundation
import Synchronization

/// One collection as ``Database/collectionStatuses()`` reports it: its information, or the error
/// that kept it from being read.
public struct CollectionStatus: Sendable {
    public var name: String
    public var info: Result<CollectionInfo, VDBError>
}

/// A vdb database: a directory holding one LMDB environment with any number of named
/// collections of vectors.
///
/// ```swift
/// let db = try Database(path: "/tmp/photos.vdb")
/// let photos = try db.createCollection(name: "photos", dimension: 512, metric: .cosine)
/// try photos.insert([[0.1, 0.2, ...]], metadata: [["file": "a.jpg"]])
/// let hits = try photos.search([0.1, 0.2, ...], k: 10)
/// ```
///
/// Concurrency: `Database` and ``Collection`` are `Sendable`. Any number of threads may search,
/// `get`, `count` and read `info` in parallel, also while one thread writes; each read sees a
/// consistent snapshot (the state after some committed write, never a write in progress), and
/// ``read(_:)`` shares one snapshot between several reads. Writes (`insert`, `upsert`, `delete`,
/// `createCollection`, `dropCollection`, `buildIndex`, `dropIndex`, ``write(_:)``) are
/// serialized: one runs at a time per database, across threads and processes; each is one
/// transaction, and ``write(_:)`` puts several, on several collections, in one. Several
/// processes may open the same directory. Opening the same directory twice in one process
/// shares one environment.
public final class Database: Sendable {
    let env: Environment
    /// Open collection handles by collection id (one in-memory index per collection and Database).
    private let handles = Mutex<[UInt32: Collection]>([:])

    /// The database directory.
    public let path: String

    /// Opens the database in `path`, creating the directory and an empty database if needed.
    ///
    /// - Parameter initialMapSize: bytes of address space reserved for the memory map at first;
    ///   the map doubles by itself whenever it fills up.
    /// - Throws: ``VDBError/notADatabase(path:reason:)`` for a directory that holds something
    ///   else, ``VDBError/incompatibleFormat(path:found:supported:)`` for another format version.
    public convenience init(path: String, initialMapSize: Int = 1 << 30) throws {
        try self.init(path: path, initialMapSize: initialMapSize, indexTypes: [:])
    }

    /// Index implementations used by this `Database` value before the global ``IndexRegistry``
    /// (tests plug in their own index types without touching the registry).
    let indexTypes: [IndexKind: any VectorIndex.Type]

    init(path: String, initialMapSize: Int = 1 << 30, indexTypes: [IndexKind: any VectorIndex.Type]) throws {
        let expanded = (path as NSString).expandingTildeInPath
        self.path = expanded
        self.indexTypes = indexTypes
        env = try Environment.open(URL(fileURLWithPath: expanded), initialMapSize: initialMapSize)
    }

    /// Creates a collection.
    ///
    /// - Parameters:
    ///   - name: 1-128 characters from letters, digits, `_`, `-`, `.`.
    ///   - dimension: components per vector (1...65536).
    ///   - metric: `l2`, `ip` or `cosine`.
    ///   - index: the index kind to carry; a non-flat kind is built by ``Collection/buildIndex(kind:parameters:progress:)``
    ///     (until then searches are exact).
    ///   - parameters: build parameters for `index`.
    ///   - fields: indexed metadata fields (see ``Collection/addFields(_:)``).
    /// - Throws: ``VDBError/collectionExists(_:)``, ``VDBError/invalidCollectionName(_:)``, ``VDBError/invalidArgument(_:)``.
    @discardableResult
    public func createCollection(name: String, dimension: Int, metric: Metric,
                                 index: IndexKind = .flat, parameters: IndexParameters = IndexParameters(),
                                 fields: [FieldDefinition] = []) throws -> Collection {
        try Database.validate(name: name)
        guard (1...65536).contains(dimension) else {
            throw VDBError.invalidArgument("dimension must be between 1 and 65536 (got \(dimension))")
        }
        let schema = try FieldSchema(declaring: fields)
        let nameKey = Array(name.utf8)
        let config: CollectionConfig = try env.write { txn in
            if try txn.get(txn.dbis.catalog, nameKey) != nil { throw VDBError.collectionExists(name) }
            let nextKey = Array("next_collection".utf8)
            guard let nb = try txn.get(txn.dbis.meta, nextKey), nb.count == 4 else {
                throw VDBError.corrupt("next collection id missing")
            }
            let cid = UInt32(littleEndian: nb.loadUnaligned(as: UInt32.self))
            var next = (cid + 1).littleEndian
            try txn.put(txn.dbis.meta, nextKey, withUnsafeBytes(of: &next) { Array($0) })
            let config = CollectionConfig(id: cid, name: name, dimension: dimension, metric: metric, index: index,
                                          parameters: parameters, indexBuilt: false,
                                          slotsPerBlock: CollectionConfig.slotsPerBlock(dimension: dimension))
            try txn.put(txn.dbis.catalog, nameKey, Array(try JSONEncoder().encode(config)))
            try txn.put(txn.dbis.state, Keys.collection(cid), CollectionState().encoded())
            if !schema.isEmpty { try txn.put(txn.dbis.state, Keys.fieldSchema(cid), MetadataIndexCodec.encode(schema)) }
            return config
        }
        return try handle(for: config)
    }

    /// Opens an existing collection.
    /// - Throws: ``VDBError/collectionNotFound(_:)``.
    public func collection(named name: String) throws -> Collection {
        let config = try env.read { txn in try Database.config(named: name, txn) }
        return try handle(for: config)
    }

    /// Names of all collections, sorted.
    public func collectionNames() throws -> [String] {
        try env.read { txn in try collectionNames(txn) }
    }

    func collectionNames(_ txn: ReadTxn) throws -> [String] {
        var names: [String] = []
        try txn.scan(txn.dbis.catalog, prefix: []) { key, _ in
            names.append(String(decoding: key, as: UTF8.self))
            return true
        }
        return names
    }

    /// Information about every collection, sorted by name, from one snapshot (no index is loaded).
    public func collections() throws -> [CollectionInfo] {
        try read { snapshot in try snapshot.collectionNames().map { try snapshot.collection(named: $0).info() } }
    }

    /// Information about every collection that can be read, and the error of each that cannot
    /// (a damaged record in one collection does not hide the others), sorted by name, from one
    /// snapshot. What `vdb info` shows.
    public func collectionStatuses() throws -> [CollectionStatus] {
        try read { snapshot in
            try snapshot.collectionNames().map { name in
                do {
                    return CollectionStatus(name: name, info: .success(try snapshot.collection(named: name).info()))
                } catch let e as VDBError {
                    return CollectionStatus(name: name, info: .failure(e))
                } catch {
                    return CollectionStatus(name: name, info: .failure(.corrupt("\(error)")))
                }
            }
        }
    }

    /// Deletes a collection and all its vectors, metadata and index records (one transaction).
    /// Open ``Collection`` handles on it fail with ``VDBError/collectionNotFound(_:)`` afterwards.
    public func dropCollection(named name: String) throws {
        let nameKey = Array(name.utf8)
        let cid: UInt32 = try env.write { txn in
            let config = try Database.config(named: name, txn.reader)
            let p = Keys.collection(config.id)
            try txn.delete(txn.dbis.catalog, nameKey)
            for dbi in [txn.dbis.state, txn.dbis.blocks, txn.dbis.ids, txn.dbis.metadata, txn.dbis.free, txn.dbis.index, txn.dbis.fields] {
                try txn.deleteAll(dbi, prefix: p)
            }
            return config.id
        }
        handles.withLock { $0[cid] = nil }
    }

    /// Bytes of the database file on disk (`data.mdb`; LMDB reuses freed pages, the file never shrinks).
    public var bytesOnDisk: Int { env.fileBytes }

    /// Bytes currently reserved for the memory map (grows by doubling).
    public var mapSize: Int { env.currentMapSize }

    // MARK: internals

    static func validate(name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 128 && name.unicodeScalars.allSatisfy {
            ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "_" || $0 == "-" || $0 == "."
        }
        guard ok else { throw VDBError.invalidCollectionName(name) }
    }

    static func config(named name: String, _ txn: ReadTxn) throws -> CollectionConfig {
        guard let raw = try txn.get(txn.dbis.catalog, Array(name.utf8)) else { throw VDBError.collectionNotFound(name) }
        let key = [UInt8](raw)
        if let cached = decodedConfigs.withLock({ $0[key] }) { return cached }
        let config: CollectionConfig
        do {
            config = try JSONDecoder().decode(CollectionConfig.self, from: Data(raw))
        } catch {
            throw VDBError.corrupt("catalog entry of '\(name)' does not decode: \(error)")
        }
        decodedConfigs.withLock { cache in
            if cache.count >= 256 { cache.removeAll(keepingCapacity: true) }
            cache[key] = config
        }
        return config
    }

    /// Catalog entries already decoded, keyed by their bytes: a collection is looked up by name
    /// on every request of a server, and decoding its JSON entry cost as much as a tenth of a
    /// vector search. An entry is read from the snapshot every time; only the decoding is
    /// skipped when the bytes are the same, so a changed entry is always decoded afresh.
    private static let decodedConfigs = Mutex<[[UInt8]: CollectionConfig]>([:])

    /// The handle of the collection named `name` in snapshot `txn`.
    func handle(named name: String, _ txn: ReadTxn) throws -> Collection {
        try handle(for: Database.config(named: name, txn))
    }

    /// `c`, checked to be a collection of this database.
    func owned(_ c: Collection) throws -> Collection {
        guard c.env === env else { throw VDBError.invalidArgument("collection '\(c.name)' belongs to another database") }
        return c
    }

    /// The handle of the collection with `config` (one per collection id and `Database`).
    func handle(for config: CollectionConfig) throws -> Collection {
        let types = indexTypes
        return handles.withLock { handles in
            if let h = handles[config.id] { return h }
            let h = Collection(env: env, config: config) { kind in types[kind] ?? IndexRegistry.type(for: kind) }
            handles[config.id] = h
            return h
        }
    }

    /// Test hook: stamps another format version into the database.
    func _setFormatVersion(_ v: UInt32) throws { try env._writeFormatVersion(v) }
}
