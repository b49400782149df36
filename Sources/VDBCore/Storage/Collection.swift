import CLMDB
import Foundation
import Synchronization

/// One search result: the vector's id, its distance to the query under the collection's metric
/// (squared L2 for `l2`, inner product for `ip`, cosine similarity for `cosine`), and its metadata.
public struct SearchHit: Sendable, Hashable {
    public var id: UInt64
    public var distance: Float
    public var metadata: Metadata
    public init(id: UInt64, distance: Float, metadata: Metadata = [:]) {
        self.id = id
        self.distance = distance
        self.metadata = metadata
    }
}

/// A stored vector with its id and metadata (as returned by ``Collection/get(id:)``).
/// For `cosine` collections the vector is the normalized one that was stored.
public struct VectorRecord: Sendable, Hashable {
    public var id: UInt64
    public var vector: [Float]
    public var metadata: Metadata
}

/// A predicate on (id, metadata) applied during a search: only vectors it admits are returned.
///
/// It runs inside the search, holding the index's read lock: it must not write to the database
/// (that write would wait for the search, which waits for the predicate) and should decide from
/// its arguments alone. Reading the same collection from it works but costs a nested search per
/// call; reading another collection may deadlock against that collection's writer.
public typealias SearchFilter = @Sendable (_ id: UInt64, _ metadata: Metadata) -> Bool

/// Description of a collection (``Collection/info()``, `vdb info`).
public struct CollectionInfo: Sendable, Codable, Hashable {
    public var name: String
    public var dimension: Int
    public var metric: Metric
    public var count: Int
    /// The index kind the collection carries (`flat` = exact search only).
    public var index: IndexKind
    /// Whether that index is built (a non-flat kind is searched exactly until it is).
    public var indexBuilt: Bool
    public var parameters: IndexParameters
    /// Approximate bytes the collection's records take in the database file.
    public var bytesOnDisk: Int
    /// Bytes the index holds in memory once loaded (0 for flat), as recorded by the last write
    /// of the index; reading it does not load the index. For an index written by an older build,
    /// the bytes of its stored records.
    public var indexMemoryBytes: Int
    /// Vectors per storage block.
    public var slotsPerBlock: Int
    /// The indexed metadata fields.
    public var fields: [FieldDefinition] = []
}

/// A named collection of vectors of one dimension and metric. Obtain one from ``Database``.
///
/// Every write method (`insert`, `upsert`, `delete`, `buildIndex`, `dropIndex`) is one LMDB
/// transaction: all or nothing; several writes, also to several collections, commit together in
/// ``Database/write(_:)``. Every read method sees one consistent snapshot (several reads share one
/// in ``Database/read(_:)``); reads run in parallel with each other and with one writer, and never
/// see a write before it commits. See ``Database`` for the threading rules.
///
/// The core is in this file; writes are in `Collection+Write.swift`, searches in
/// `Collection+Search.swift` (with `FlatSearch.swift` and `IndexSearch.swift`), the index
/// lifecycle in `Collection+Index.swift`, block access in `Collection+Blocks.swift`.
public final class Collection: Sendable {
    /// Collection name.
    public let name: String
    /// Components per vector.
    public let dimension: Int
    /// Distance metric.
    public let metric: Metric

    let env: Environment
    let cid: UInt32
    let slotsPerBlock: Int
    let prefix: [UInt8]
    let kernel: KernelMetric
    /// Bytes of one block value (`slotsPerBlock` ids, then `slotsPerBlock` rows).
    let blockBytes: Int
    /// Byte offset of the first row in a block.
    let rowsOffset: Int
    /// Finds the implementation of an index kind.
    let indexType: @Sendable (IndexKind) -> (any VectorIndex.Type)?

    /// What this process knows of the collection's index (see `Collection+Index.swift`).
    let cache: Mutex<IndexCache>
    /// Held while an index is loaded, so concurrent searches load it once.
    let loadLock = Mutex<Void>(())
    /// Squared row norms by slot for l2 batch search, valid for one collection epoch
    /// (4 bytes per slot; recomputed after any write).
    let normCache = Mutex<(epoch: UInt64, norms: [Float])?>(nil)
    /// Block versions whose checksum this process verified, by block number (see `verifyBlock`).
    let verifiedBlocks = Mutex<[UInt32: VerifiedBlock]>([:])
    /// The last field schema decoded, with the stored bytes it came from (see `schema(_:)`).
    let schemaCache = Mutex<(raw: [UInt8], schema: FieldSchema)?>(nil)

    init(env: Environment, config: CollectionConfig, indexType: @escaping @Sendable (IndexKind) -> (any VectorIndex.Type)?) {
        self.env = env
        self.indexType = indexType
        name = config.name
        dimension = config.dimension
        metric = config.metric
        cid = config.id
        slotsPerBlock = config.slotsPerBlock
        prefix = Keys.collection(config.id)
        kernel = config.metric.kernel
        blockBytes = config.blockBytes
        rowsOffset = config.rowsOffset
        cache = Mutex(IndexCache(config: config))
    }

    // MARK: - reads

    /// Number of vectors stored.
    public func count() throws -> Int {
        try env.read { txn in try count(txn) }
    }

    /// The stored vector, id and metadata for `id`, or nil.
    public func get(id: UInt64) throws -> VectorRecord? {
        try env.read { txn in try get(txn, id: id) }
    }

    /// Whether `id` is stored.
    public func contains(id: UInt64) throws -> Bool {
        try contains(ids: [id])[0]
    }

    /// For each id, whether it is stored (one snapshot; e.g. to skip work already done when an
    /// ingest resumes).
    public func contains(ids: [UInt64]) throws -> [Bool] {
        try env.read { txn in try contains(txn, ids: ids) }
    }

    /// Description of the collection: dimension, metric, count, index, bytes on disk. Reads the
    /// stored records only: it never loads the index.
    public func info() throws -> CollectionInfo {
        try env.read { txn in try info(txn) }
    }

    /// Every live id and the vectors, contiguous in slot order, from one snapshot (to export).
    public func allVectors() throws -> (ids: [UInt64], vectors: [Float]) {
        try env.read { txn in
            let (_, ids, vectors) = try liveVectors(txn)
            return (ids, vectors)
        }
    }

    /// The index kind searches use (`flat` when none is built), as this process last saw it.
    public var activeIndexKind: IndexKind {
        let config = cache.withLock { $0.config }
        return config.indexBuilt ? config.index : .flat
    }

    // MARK: - reads inside a transaction

    func state(_ txn: ReadTxn) throws -> CollectionState {
        guard let raw = try txn.get(txn.dbis.state, prefix) else { throw VDBError.collectionNotFound(name) }
        return try CollectionState(raw)
    }

    func metadata(_ txn: ReadTxn, _ id: UInt64) throws -> Metadata? {
        guard let raw = try txn.getSealed(txn.dbis.metadata, Keys.id(cid, id), what: "metadata of id \(id) in '\(name)'") else { return nil }
        return try MetadataCodec.decode(raw)
    }

    func count(_ txn: ReadTxn) throws -> Int { Int(try state(txn).count) }

    func get(_ txn: ReadTxn, id: UInt64) throws -> VectorRecord? {
        _ = try state(txn)  // throws collectionNotFound after a drop
        guard let raw = try txn.get(txn.dbis.ids, Keys.id(cid, id)), raw.count == 4 else { return nil }
        let slot = UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
        var v = [Float](repeating: 0, count: dimension)
        try v.withUnsafeMutableBytes { out in
            guard try withStoredRow(txn, slot: slot, { row, _ in out.copyMemory(from: row) }) else {
                throw VDBError.corrupt("id \(id) of '\(name)' points at empty slot \(slot)")
            }
        }
        return VectorRecord(id: id, vector: v, metadata: try metadata(txn, id) ?? [:])
    }

    func contains(_ txn: ReadTxn, ids: [UInt64]) throws -> [Bool] {
        _ = try state(txn)
        return try ids.map { try txn.get(txn.dbis.ids, Keys.id(cid, $0)) != nil }
    }

    func info(_ txn: ReadTxn) throws -> CollectionInfo {
        let st = try state(txn)
        let cfg = try Database.config(named: name, txn)
        guard cfg.id == cid else { throw VDBError.collectionNotFound(name) }
        var bytes = 0
        try txn.scan(txn.dbis.blocks, prefix: prefix) { _, v in
            bytes += LMDBPages.overflowBytes(v.count)
            return true
        }
        // Small records live in shared leaf pages: count key + value + node header.
        bytes += Int(st.count) * (12 + 4 + 8)
        try txn.scan(txn.dbis.metadata, prefix: prefix) { k, v in bytes += k.count + v.count + 8; return true }
        var indexRecordBytes = 0
        try txn.scan(txn.dbis.index, prefix: prefix) { k, v in
            indexRecordBytes += LMDBPages.recordBytes(key: k.count, value: v.count)
            return true
        }
        bytes += indexRecordBytes
        try txn.scan(txn.dbis.fields, prefix: prefix) { k, v in
            bytes += LMDBPages.recordBytes(key: k.count, value: v.count)
            return true
        }
        var indexMemory = 0
        if cfg.indexBuilt && cfg.index != .flat {
            if let raw = try txn.get(txn.dbis.state, Keys.indexStats(cid)), raw.count == 8 {
                indexMemory = Int(clamping: UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)))
            } else {
                indexMemory = indexRecordBytes
            }
        }
        return CollectionInfo(name: name, dimension: dimension, metric: metric, count: Int(st.count),
                              index: cfg.index, indexBuilt: cfg.indexBuilt, parameters: cfg.parameters,
                              bytesOnDisk: bytes, indexMemoryBytes: indexMemory, slotsPerBlock: slotsPerBlock,
                              fields: try schema(txn).fields.map(\.definition))
    }

    // MARK: - input checks

    func flatten(_ vectors: [[Float]]) throws -> [Float] {
        var flat: [Float] = []
        flat.reserveCapacity(vectors.count * dimension)
        for (i, v) in vectors.enumerated() {
            guard v.count == dimension else { throw VDBError.dimensionMismatch(expected: dimension, got: v.count, index: i) }
            flat.append(contentsOf: v)
        }
        return flat
    }

    func rows(in flat: [Float]) throws -> Int {
        guard flat.count % dimension == 0 else {
            throw VDBError.invalidArgument("contiguous buffer of \(flat.count) floats is not a whole number of \(dimension)-d vectors")
        }
        return flat.count / dimension
    }

    /// Checks finiteness and normalizes for cosine (in place); with `keepUnit`, rows whose norm is
    /// already 1 (within 1e-5) are left exactly as they are (normalizing again is not idempotent
    /// in float32, so vectors read back from a collection would drift in the last bits).
    func prepare(_ flat: inout [Float], count: Int, keepUnit: Bool = false) throws {
        let d = dimension
        let normalize = metric.normalizes
        try flat.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for i in 0..<count {
                let row = base + i * d
                var j = 0
                while j < d {
                    if !row[j].isFinite { throw VDBError.nonFiniteComponent(index: count == 1 ? nil : i, component: j) }
                    j += 1
                }
                if normalize {
                    var n = vdbNorm(row, d)
                    if !(n.isFinite && n >= Float.leastNormalMagnitude.squareRoot()) {
                        // The sum of squares overflowed (components near 3e38) or underflowed
                        // (tiny components): scale by the largest magnitude first, exactly.
                        var m: Float = 0
                        for j in 0..<d { m = max(m, abs(row[j])) }
                        guard m > 0 else { throw VDBError.zeroVector(index: count == 1 ? nil : i) }
                        for j in 0..<d { row[j] /= m }
                        n = vdbNorm(row, d)
                    } else if keepUnit && abs(n - 1) <= 1e-5 {
                        continue
                    }
                    let inv = 1 / n
                    for j in 0..<d { row[j] *= inv }
                }
            }
        }
    }
}
