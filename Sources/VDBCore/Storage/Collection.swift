import CLMDB
import Foundation

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
    /// Bytes the in-memory index holds (0 for flat).
    public var indexMemoryBytes: Int
    /// Vectors per storage block.
    public var slotsPerBlock: Int
}

/// A named collection of vectors of one dimension and metric. Obtain one from ``Database``.
///
/// Every public write is one LMDB transaction: all or nothing. Reads run in parallel with each
/// other and with one writer, each on a consistent snapshot; see ``Database`` for the rules.
public final class Collection: @unchecked Sendable {  // mutable state (`indexState`, `config`) is guarded by `lock`
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

    private let lock = NSLock()
    private var config: CollectionConfig
    /// The live approximate index, if one is built, and the collection epoch it reflects
    /// (nil epoch = must be reloaded from LMDB before use).
    private var index: (any VectorIndex)?
    private var indexEpoch: UInt64?
    /// Squared row norms by slot for l2 batch search, valid for one collection epoch
    /// (4 bytes per slot; recomputed after any write).
    private var normCache: (epoch: UInt64, norms: [Float])?

    /// Finds the implementation of an index kind.
    let indexType: @Sendable (IndexKind) -> (any VectorIndex.Type)?

    init(env: Environment, config: CollectionConfig, indexType: @escaping @Sendable (IndexKind) -> (any VectorIndex.Type)?) throws {
        self.env = env
        self.indexType = indexType
        self.config = config
        name = config.name
        dimension = config.dimension
        metric = config.metric
        cid = config.id
        slotsPerBlock = config.slotsPerBlock
        prefix = Keys.collection(config.id)
        kernel = config.metric.kernel
        blockBytes = config.blockBytes
        rowsOffset = config.rowsOffset
        indexEpoch = nil
    }

    // MARK: - writes

    /// Inserts vectors. Ids are given (`ids`) or assigned in increasing order from one past the
    /// largest id ever stored. Returns the ids. Throws ``VDBError/duplicateID(_:)`` if an id exists.
    ///
    /// - Parameters:
    ///   - vectors: the vectors, each of `dimension` finite components.
    ///   - metadata: nil, or one entry (possibly nil) per vector.
    @discardableResult
    public func insert(_ vectors: [[Float]], ids: [UInt64]? = nil, metadata: [Metadata?]? = nil) throws -> [UInt64] {
        try write(flatten(vectors), count: vectors.count, ids: ids, metadata: metadata, replace: false)
    }

    /// Inserts `count` vectors stored contiguously (row-major) in `vectors`. See ``insert(_:ids:metadata:)``.
    @discardableResult
    public func insert(contiguous vectors: [Float], ids: [UInt64]? = nil, metadata: [Metadata?]? = nil) throws -> [UInt64] {
        try write(vectors, count: try rows(in: vectors), ids: ids, metadata: metadata, replace: false)
    }

    /// Inserts or replaces vectors (vector and metadata) by id. Ids must be given.
    @discardableResult
    public func upsert(_ vectors: [[Float]], ids: [UInt64], metadata: [Metadata?]? = nil) throws -> [UInt64] {
        try write(flatten(vectors), count: vectors.count, ids: ids, metadata: metadata, replace: true)
    }

    /// Contiguous-buffer variant of ``upsert(_:ids:metadata:)``.
    @discardableResult
    public func upsert(contiguous vectors: [Float], ids: [UInt64], metadata: [Metadata?]? = nil) throws -> [UInt64] {
        try write(vectors, count: try rows(in: vectors), ids: ids, metadata: metadata, replace: true)
    }

    /// Inserts vectors read back from a vdb collection (merge, import of an export): cosine rows
    /// that already have unit length are stored bit for bit, because normalizing them again is not
    /// idempotent in float32. Otherwise as ``insert(contiguous:ids:metadata:)``.
    @discardableResult
    func insertStored(contiguous vectors: [Float], ids: [UInt64]?, metadata: [Metadata?]?) throws -> [UInt64] {
        try write(vectors, count: try rows(in: vectors), ids: ids, metadata: metadata, replace: false, keepUnit: true)
    }

    /// Deletes vectors by id; ids that are not stored are ignored. Returns how many were deleted.
    @discardableResult
    public func delete(ids: [UInt64]) throws -> Int {
        if ids.isEmpty { return 0 }
        return try mutate { txn, st, idx in
            var freed: [UInt32] = []
            var seen = Set<UInt64>()
            for id in ids where seen.insert(id).inserted {
                let key = Keys.id(cid, id)
                guard let raw = try txn.get(txn.dbis.ids, key) else { continue }
                let slot = UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
                try txn.delete(txn.dbis.ids, key)
                try txn.delete(txn.dbis.metadata, key)
                try txn.put(txn.dbis.free, Keys.slot(cid, slot), [])
                freed.append(slot)
            }
            if freed.isEmpty { return 0 }
            // Mark the slots empty in their blocks.
            try self.rewriteBlocks(txn, slots: freed.sorted()) { block, slot, _ in
                block.storeBytes(of: emptySlotID.littleEndian, toByteOffset: slot * 8, as: UInt64.self)
            }
            st.count -= UInt64(freed.count)
            if let idx {
                try idx.remove(slots: freed, writer: TxnIndexWriter(txn: txn, prefix: self.prefix))
            }
            return freed.count
        }
    }

    // MARK: - reads

    /// Number of vectors stored.
    public func count() throws -> Int {
        try env.read { txn in Int(try state(txn).count) }
    }

    /// The stored vector, id and metadata for `id`, or nil.
    public func get(id: UInt64) throws -> VectorRecord? {
        try env.read { txn in
            _ = try state(txn)  // throws collectionNotFound after a drop
            guard let raw = try txn.get(txn.dbis.ids, Keys.id(cid, id)) else { return nil }
            let slot = UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
            let b = slot / UInt32(slotsPerBlock), o = Int(slot % UInt32(slotsPerBlock))
            guard let block = try txn.get(txn.dbis.blocks, Keys.block(cid, b)), block.count == blockBytes else {
                throw VDBError.corrupt("block \(b) of '\(name)' missing")
            }
            let start = rowsOffset + o * dimension * 4
            var v = [Float](repeating: 0, count: dimension)
            v.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: block[start..<(start + dimension * 4)])) }
            return VectorRecord(id: id, vector: v, metadata: try metadata(txn, id) ?? [:])
        }
    }

    /// Whether `id` is stored.
    public func contains(id: UInt64) throws -> Bool {
        try contains(ids: [id])[0]
    }

    /// For each id, whether it is stored (one snapshot; e.g. to skip work already done when an
    /// ingest resumes).
    public func contains(ids: [UInt64]) throws -> [Bool] {
        try env.read { txn in
            _ = try state(txn)
            return try ids.map { try txn.get(txn.dbis.ids, Keys.id(cid, $0)) != nil }
        }
    }

    /// Description of the collection: dimension, metric, count, index, bytes on disk.
    public func info() throws -> CollectionInfo {
        return try env.read { txn in
            let st = try state(txn)
            let idxBytes = try indexForRead(txn, snapshotEpoch: st.epoch)?.memoryBytes ?? 0
            let cfg = lockedConfig()
            var bytes = 0
            let page = 4096
            try txn.scan(txn.dbis.blocks, prefix: prefix) { _, v in
                bytes += (v.count + 16 + page - 1) / page * page
                return true
            }
            // Small records live in shared leaf pages: count key + value + node header.
            bytes += Int(st.count) * (12 + 4 + 8)
            try txn.scan(txn.dbis.metadata, prefix: prefix) { k, v in bytes += k.count + v.count + 8; return true }
            try txn.scan(txn.dbis.index, prefix: prefix) { k, v in
                bytes += v.count > 2000 ? (v.count + 16 + page - 1) / page * page : k.count + v.count + 8
                return true
            }
            return CollectionInfo(name: name, dimension: dimension, metric: metric, count: Int(st.count),
                                  index: cfg.index, indexBuilt: cfg.indexBuilt, parameters: cfg.parameters,
                                  bytesOnDisk: bytes, indexMemoryBytes: idxBytes, slotsPerBlock: slotsPerBlock)
        }
    }

    /// Every live (slot, id) pair and the vectors, contiguous in slot order, from one snapshot.
    /// Used to build indexes and to export.
    public func allVectors() throws -> (ids: [UInt64], vectors: [Float]) {
        try env.read { txn in
            let (slots, ids, vectors) = try liveVectors(txn)
            _ = slots
            return (ids, vectors)
        }
    }

    // MARK: - index management

    /// Builds (or rebuilds) an approximate index of `kind` over all stored vectors, persists it,
    /// and records it in the catalog; later inserts and deletes keep it up to date.
    /// `kind == .flat` drops any index. The whole build is one write transaction.
    public func buildIndex(kind: IndexKind, parameters: IndexParameters = IndexParameters(),
                           progress: (@Sendable (Double) -> Void)? = nil) throws {
        if kind == .flat { return try dropIndex() }
        guard let type = indexType(kind) else { throw VDBError.indexUnavailable(kind) }
        let (built, epoch): (any VectorIndex, UInt64) = try env.write({ txn in
            var cfg = try Database.config(named: name, txn.reader)
            guard cfg.id == cid else { throw VDBError.collectionNotFound(name) }
            var st = try state(txn.reader)
            let (slots, _, vectors) = try liveVectors(txn.reader)
            let writer = TxnIndexWriter(txn: txn, prefix: prefix)
            try writer.deleteAll()
            let built = try slots.withUnsafeBufferPointer { s in
                try vectors.withUnsafeBufferPointer { v in
                    try type.build(dimension: dimension, metric: kernel, parameters: parameters,
                                   slots: s, vectors: v, writer: writer, progress: progress)
                }
            }
            cfg.index = kind
            cfg.parameters = parameters
            cfg.indexBuilt = true
            try txn.put(txn.dbis.catalog, Array(name.utf8), Array(try JSONEncoder().encode(cfg)))
            st.epoch += 1
            try txn.put(txn.dbis.state, prefix, st.encoded())
            return (built, st.epoch)
        }, onAbort: { self.invalidateIndex() })
        lock.lock()
        index = built
        config.index = kind
        config.parameters = parameters
        config.indexBuilt = true
        indexEpoch = epoch
        lock.unlock()
    }

    /// Removes the collection's index; searches become exact (FLAT).
    public func dropIndex() throws {
        let epoch: UInt64 = try env.write({ txn in
            var cfg = try Database.config(named: name, txn.reader)
            guard cfg.id == cid else { throw VDBError.collectionNotFound(name) }
            var st = try state(txn.reader)
            try TxnIndexWriter(txn: txn, prefix: prefix).deleteAll()
            cfg.index = .flat
            cfg.indexBuilt = false
            try txn.put(txn.dbis.catalog, Array(name.utf8), Array(try JSONEncoder().encode(cfg)))
            st.epoch += 1
            try txn.put(txn.dbis.state, prefix, st.encoded())
            return st.epoch
        }, onAbort: { self.invalidateIndex() })
        lock.lock()
        index = nil
        config.index = .flat
        config.indexBuilt = false
        indexEpoch = epoch
        lock.unlock()
    }

    /// The index kind in use (`flat` when none is built).
    public var activeIndexKind: IndexKind {
        lock.lock(); defer { lock.unlock() }
        return config.indexBuilt ? config.index : .flat
    }

    // MARK: - internals: state and index freshness

    /// Runs one write transaction on this collection: loads the state and a fresh index, runs
    /// `body`, bumps the epoch and stores the state. If the transaction aborts (error, map full,
    /// disk full) the in-memory index is marked stale and reloaded from LMDB on next use.
    private func mutate<T>(_ body: (WriteTxn, inout CollectionState, (any VectorIndex)?) throws -> T) throws -> T {
        let (result, epoch): (T, UInt64) = try env.write({ txn in
            var st = try self.state(txn.reader)
            let idx = try self.indexForRead(txn.reader, snapshotEpoch: st.epoch)
            let r = try body(txn, &st, idx)
            st.epoch += 1
            try txn.put(txn.dbis.state, self.prefix, st.encoded())
            return (r, st.epoch)
        }, onAbort: { self.invalidateIndex() })
        lock.lock()
        if let e = indexEpoch { indexEpoch = max(e, epoch) }
        lock.unlock()
        return result
    }

    func state(_ txn: ReadTxn) throws -> CollectionState {
        guard let raw = try txn.get(txn.dbis.state, prefix) else { throw VDBError.collectionNotFound(name) }
        return try CollectionState(raw)
    }

    func metadata(_ txn: ReadTxn, _ id: UInt64) throws -> Metadata? {
        guard let raw = try txn.get(txn.dbis.metadata, Keys.id(cid, id)) else { return nil }
        return try MetadataCodec.decode(raw)
    }

    /// The squared row norms of the snapshot with `epoch`, computed by `compute` unless cached.
    func rowNorms(epoch: UInt64, _ compute: () -> [Float]) -> [Float] {
        lock.lock()
        if let c = normCache, c.epoch == epoch { lock.unlock(); return c.norms }
        lock.unlock()
        let norms = compute()
        lock.lock()
        if normCache.map({ $0.epoch < epoch }) ?? true { normCache = (epoch, norms) }
        lock.unlock()
        return norms
    }

    private func lockedConfig() -> CollectionConfig {
        lock.lock(); defer { lock.unlock() }
        return config
    }

    private func invalidateIndex() {
        lock.lock()
        indexEpoch = nil
        lock.unlock()
    }

    /// The index to use for a snapshot with `snapshotEpoch`, reloading it from LMDB when another
    /// process (or an aborted write) changed the collection behind our back.
    func indexForRead(_ txn: ReadTxn, snapshotEpoch: UInt64) throws -> (any VectorIndex)? {
        lock.lock()
        defer { lock.unlock() }
        if let e = indexEpoch, e >= snapshotEpoch {
            return config.indexBuilt ? index : nil
        }
        // Stale or unknown: reload config and index from this snapshot.
        let cfg = try Database.config(named: name, txn)
        guard cfg.id == cid else { throw VDBError.collectionNotFound(name) }
        config = cfg
        if cfg.indexBuilt && cfg.index != .flat {
            guard let type = indexType(cfg.index) else { throw VDBError.indexUnavailable(cfg.index) }
            index = try type.load(dimension: dimension, metric: kernel, parameters: cfg.parameters,
                                  reader: TxnIndexReader(txn: txn, prefix: prefix))
        } else {
            index = nil
        }
        indexEpoch = snapshotEpoch
        return index
    }

    // MARK: - internals: writing vectors

    private func flatten(_ vectors: [[Float]]) throws -> [Float] {
        var flat: [Float] = []
        flat.reserveCapacity(vectors.count * dimension)
        for (i, v) in vectors.enumerated() {
            guard v.count == dimension else { throw VDBError.dimensionMismatch(expected: dimension, got: v.count, index: i) }
            flat.append(contentsOf: v)
        }
        return flat
    }

    private func rows(in flat: [Float]) throws -> Int {
        guard flat.count % dimension == 0 else {
            throw VDBError.invalidArgument("contiguous buffer of \(flat.count) floats is not a whole number of \(dimension)-d vectors")
        }
        return flat.count / dimension
    }

    /// Checks finiteness and normalizes for cosine (in place); with `keepUnit`, rows whose norm is
    /// already 1 (within 1e-5) are left exactly as they are.
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
                    let n = vdbNorm(row, d)
                    guard n > 0, n.isFinite else { throw VDBError.zeroVector(index: count == 1 ? nil : i) }
                    if keepUnit && abs(n - 1) <= 1e-5 { continue }
                    let inv = 1 / n
                    for j in 0..<d { row[j] *= inv }
                }
            }
        }
    }

    private func write(_ input: [Float], count: Int, ids: [UInt64]?, metadata: [Metadata?]?, replace: Bool,
                       keepUnit: Bool = false) throws -> [UInt64] {
        if count == 0 { return [] }
        if let ids, ids.count != count {
            throw VDBError.invalidArgument("\(ids.count) ids given for \(count) vectors")
        }
        if let metadata, metadata.count != count {
            throw VDBError.invalidArgument("\(metadata.count) metadata entries given for \(count) vectors")
        }
        if replace && ids == nil { throw VDBError.invalidArgument("upsert needs ids") }
        var flat = input
        try prepare(&flat, count: count, keepUnit: keepUnit)
        if let ids {
            var seen = Set<UInt64>(minimumCapacity: ids.count)
            for id in ids {
                if id == emptySlotID { throw VDBError.invalidArgument("id \(emptySlotID) is reserved") }
                if !seen.insert(id).inserted { throw VDBError.repeatedID(id) }
            }
        }
        let encodedMeta: [[UInt8]?]? = try metadata?.map { m in try m.map { try MetadataCodec.encode($0) } }
        let vectors = flat

        return try mutate { txn, st, idx in
            let assigned: [UInt64]
            if let ids {
                assigned = ids
            } else {
                guard st.nextID <= emptySlotID - UInt64(count) else { throw VDBError.invalidArgument("id space exhausted") }
                assigned = (0..<count).map { st.nextID + UInt64($0) }
            }
            // Existing ids keep their slot (upsert) or fail (insert).
            var slots = [UInt32](repeating: 0, count: count)
            var isNew = [Bool](repeating: true, count: count)
            var replaced: [UInt32] = []
            for i in 0..<count {
                if let raw = try txn.get(txn.dbis.ids, Keys.id(cid, assigned[i])) {
                    if !replace { throw VDBError.duplicateID(assigned[i]) }
                    slots[i] = UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
                    isNew[i] = false
                    replaced.append(slots[i])
                }
            }
            // New vectors take freed slots first (smallest first), then fresh ones.
            let newCount = isNew.lazy.filter { $0 }.count
            var free: [UInt32] = []
            if newCount > 0 {
                try txn.reader.scan(txn.dbis.free, prefix: prefix) { key, _ in
                    free.append(Keys.readBE32(key, at: 4))
                    return free.count < newCount
                }
                for s in free { try txn.delete(txn.dbis.free, Keys.slot(cid, s)) }
                guard UInt64(st.highSlot) + UInt64(newCount - free.count) < UInt64(UInt32.max) else {
                    throw VDBError.invalidArgument("collection is full (2^32 - 1 slots)")
                }
            }
            var nextFree = 0
            for i in 0..<count where isNew[i] {
                if nextFree < free.count {
                    slots[i] = free[nextFree]; nextFree += 1
                } else {
                    slots[i] = st.highSlot; st.highSlot += 1
                }
            }
            // Rows and ids into blocks.
            let order = (0..<count).sorted { slots[$0] < slots[$1] }
            let d = self.dimension
            try vectors.withUnsafeBytes { vb in
                try self.rewriteBlocks(txn, slots: order.map { slots[$0] }, items: order) { block, o, i in
                    block.storeBytes(of: assigned[i].littleEndian, toByteOffset: o * 8, as: UInt64.self)
                    let dst = block.baseAddress! + self.rowsOffset + o * d * 4
                    dst.copyMemory(from: vb.baseAddress! + i * d * 4, byteCount: d * 4)
                }
            }
            // Id map and metadata.
            var maxID: UInt64 = 0
            for i in 0..<count {
                let key = Keys.id(cid, assigned[i])
                maxID = max(maxID, assigned[i])
                if isNew[i] {
                    var s = slots[i].littleEndian
                    try txn.put(txn.dbis.ids, key, withUnsafeBytes(of: &s) { Array($0) })
                }
                if let m = encodedMeta?[i] {
                    try txn.put(txn.dbis.metadata, key, m)
                } else if !isNew[i] {
                    try txn.delete(txn.dbis.metadata, key)
                }
            }
            st.count += UInt64(newCount)
            st.nextID = max(st.nextID, maxID + 1)
            if let idx {
                let writer = TxnIndexWriter(txn: txn, prefix: self.prefix)
                if !replaced.isEmpty { try idx.remove(slots: replaced, writer: writer) }
                try slots.withUnsafeBufferPointer { s in
                    try vectors.withUnsafeBufferPointer { v in try idx.add(slots: s, vectors: v, writer: writer) }
                }
            }
            return assigned
        }
    }

    /// Applies `change(block, offsetInBlock, item)` to every slot in `slots` (sorted ascending),
    /// rewriting each touched block once. New blocks start with every slot empty.
    private func rewriteBlocks(_ txn: WriteTxn, slots: [UInt32], items: [Int]? = nil,
                               _ change: (UnsafeMutableRawBufferPointer, Int, Int) throws -> Void) throws {
        let B = slotsPerBlock
        let bytes = blockBytes
        var scratch = [UInt8](repeating: 0, count: bytes)
        var i = 0
        while i < slots.count {
            let b = slots[i] / UInt32(B)
            let key = Keys.block(cid, b)
            try scratch.withUnsafeMutableBytes { buf in
                if let old = try txn.get(txn.dbis.blocks, key) {
                    guard old.count == bytes else { throw VDBError.corrupt("block \(b) of '\(name)' has \(old.count) bytes, expected \(bytes)") }
                    buf.copyMemory(from: old)
                } else {
                    buf.initializeMemory(as: UInt8.self, repeating: 0)
                    for s in 0..<B { buf.storeBytes(of: emptySlotID.littleEndian, toByteOffset: s * 8, as: UInt64.self) }
                }
                while i < slots.count && slots[i] / UInt32(B) == b {
                    try change(buf, Int(slots[i] % UInt32(B)), items?[i] ?? i)
                    i += 1
                }
                try txn.put(txn.dbis.blocks, key, UnsafeRawBufferPointer(buf))
            }
        }
    }

    /// Live slots, ids and contiguous vectors of a snapshot, in slot order.
    func liveVectors(_ txn: ReadTxn) throws -> (slots: [UInt32], ids: [UInt64], vectors: [Float]) {
        let st = try state(txn)
        var slots: [UInt32] = [], ids: [UInt64] = [], vectors: [Float] = []
        slots.reserveCapacity(Int(st.count)); ids.reserveCapacity(Int(st.count))
        vectors.reserveCapacity(Int(st.count) * dimension)
        try forEachBlock(txn, state: st) { base, n, idp, rows in
            for o in 0..<n where idp[o] != emptySlotID {
                slots.append(base + UInt32(o))
                ids.append(UInt64(littleEndian: idp[o]))
                vectors.append(contentsOf: UnsafeBufferPointer(start: rows + o * dimension, count: dimension))
            }
        }
        return (slots, ids, vectors)
    }

    /// Visits every block of a snapshot: first slot, number of slots in use (below the high-water
    /// mark), the ids and the rows, read in place from the memory map.
    func forEachBlock(_ txn: ReadTxn, state st: CollectionState,
                      _ body: (_ firstSlot: UInt32, _ n: Int, _ ids: UnsafePointer<UInt64>, _ rows: UnsafePointer<Float>) throws -> Void) throws {
        let B = slotsPerBlock
        let bytes = blockBytes
        let rowsOffset = rowsOffset
        try txn.scan(txn.dbis.blocks, prefix: prefix) { key, value in
            guard key.count == 8, value.count == bytes, let base = value.baseAddress else {
                throw VDBError.corrupt("block of '\(name)' has \(value.count) bytes, expected \(bytes)")
            }
            let b = Keys.readBE32(key, at: 4)
            let first = Int(b) * B
            let n = min(B, Int(st.highSlot) - first)
            if n <= 0 { return true }
            if Int(bitPattern: base) % 8 == 0 {
                try body(UInt32(first), n, base.assumingMemoryBound(to: UInt64.self),
                         (base + rowsOffset).assumingMemoryBound(to: Float.self))
            } else {
                // LMDB places big values at page start + 16, so this copy never runs in practice.
                let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
                defer { copy.deallocate() }
                copy.copyMemory(from: base, byteCount: bytes)
                try body(UInt32(first), n, UnsafePointer(copy.assumingMemoryBound(to: UInt64.self)),
                         UnsafePointer((copy + rowsOffset).assumingMemoryBound(to: Float.self)))
            }
            return true
        }
    }
}

