// Writes: insert, upsert, delete, and the write session that lets several of them (on several
// collections) share one LMDB transaction.

import Foundation

/// One collection's part of a write transaction: its state as the transaction changes it, and
/// the index (with its slot table) the transaction updates.
final class CollectionWrite {
    let collection: Collection
    /// The collection's state inside the transaction; `state.epoch` is the epoch it commits as.
    var state: CollectionState
    /// The index the transaction updates (nil for exact search).
    private(set) var live: LiveIndex?
    /// Set by a build or drop: the catalog entry and index new searches use once it commits.
    private(set) var replacement: (config: CollectionConfig, live: LiveIndex?)?
    /// Slots this transaction freed: not reused before it commits (older snapshots may still
    /// read them under their old id).
    var freedHere = Set<UInt32>()
    /// Whether the transaction stored the state record (that is, changed the collection).
    private(set) var saved = false
    /// The indexed metadata fields, as the transaction sees them.
    var schema: FieldSchema

    var epoch: UInt64 { state.epoch }

    init(collection: Collection, state: CollectionState, live: LiveIndex?, schema: FieldSchema) {
        self.collection = collection
        self.state = state
        self.live = live
        self.schema = schema
    }

    func replace(config: CollectionConfig, live: LiveIndex?) {
        replacement = (config, live)
        self.live = live
    }

    /// Stores the state record and the index statistics `info()` reports.
    func save(_ txn: WriteTxn) throws {
        saved = true
        let c = collection
        try txn.put(txn.dbis.state, c.prefix, state.encoded())
        if let live {
            var bytes = UInt64(live.index.memoryBytes + live.table.memoryBytes).littleEndian
            try txn.put(txn.dbis.state, Keys.indexStats(c.cid), withUnsafeBytes(of: &bytes) { Array($0) })
        } else {
            try txn.delete(txn.dbis.state, Keys.indexStats(c.cid))
        }
    }
}

/// The collections one LMDB write transaction touched, so their indexes learn of its commit or
/// abort.
final class WriteSession {
    let txn: WriteTxn
    let env: Environment
    private var writes: [UInt32: CollectionWrite] = [:]
    private var order: [CollectionWrite] = []

    init(txn: WriteTxn, env: Environment) {
        self.txn = txn
        self.env = env
    }

    /// This transaction's part of collection `c` (started on first use; see `Collection.beginWrite`).
    func enter(_ c: Collection, loadingIndex: Bool = true) throws -> CollectionWrite {
        if let w = writes[c.cid] { return w }
        guard c.env === env else { throw VDBError.invalidArgument("collection '\(c.name)' belongs to another database") }
        let w = try c.beginWrite(txn, loadingIndex: loadingIndex)
        writes[c.cid] = w
        order.append(w)
        return w
    }

    func committed() { for w in order { w.collection.didCommit(w) } }
    func aborted() { for w in order { w.collection.didAbort() } }
}

extension Environment {
    /// Runs `body` in one write transaction and commits it; every collection `body` entered into
    /// the session sees the commit (or the abort) before the next writer starts. `body` runs
    /// again from the start if the map had to grow.
    func writeSession<T>(_ body: (WriteSession) throws -> T) throws -> T {
        var attempt: WriteSession?
        return try write({ txn in
            let s = WriteSession(txn: txn, env: self)
            attempt = s
            return try body(s)
        }, onAbort: {
            attempt?.aborted()
            attempt = nil
        }, onCommit: {
            attempt?.committed()
        })
    }
}

extension Collection {
    // MARK: - public

    /// Inserts vectors. Ids are given (`ids`) or assigned in increasing order from one past the
    /// largest id ever stored. Returns the ids. Throws ``VDBError/duplicateID(_:)`` if an id exists.
    ///
    /// - Parameters:
    ///   - vectors: the vectors, each of `dimension` finite components.
    ///   - metadata: nil, or one entry (possibly nil) per vector.
    @discardableResult
    public func insert(_ vectors: [[Float]], ids: [UInt64]? = nil, metadata: [Metadata?]? = nil) throws -> [UInt64] {
        let batch = try WriteBatch(self, try flatten(vectors), count: vectors.count, ids: ids, metadata: metadata, replace: false)
        return try env.writeSession { try write(batch, $0.enter(self), $0.txn) }
    }

    /// Inserts `count` vectors stored contiguously (row-major) in `vectors`. See ``insert(_:ids:metadata:)``.
    @discardableResult
    public func insert(contiguous vectors: [Float], ids: [UInt64]? = nil, metadata: [Metadata?]? = nil) throws -> [UInt64] {
        let batch = try WriteBatch(self, vectors, count: try rows(in: vectors), ids: ids, metadata: metadata, replace: false)
        return try env.writeSession { try write(batch, $0.enter(self), $0.txn) }
    }

    /// Inserts or replaces vectors (vector and metadata) by id. Ids must be given.
    @discardableResult
    public func upsert(_ vectors: [[Float]], ids: [UInt64], metadata: [Metadata?]? = nil) throws -> [UInt64] {
        let batch = try WriteBatch(self, try flatten(vectors), count: vectors.count, ids: ids, metadata: metadata, replace: true)
        return try env.writeSession { try write(batch, $0.enter(self), $0.txn) }
    }

    /// Contiguous-buffer variant of ``upsert(_:ids:metadata:)``.
    @discardableResult
    public func upsert(contiguous vectors: [Float], ids: [UInt64], metadata: [Metadata?]? = nil) throws -> [UInt64] {
        let batch = try WriteBatch(self, vectors, count: try rows(in: vectors), ids: ids, metadata: metadata, replace: true)
        return try env.writeSession { try write(batch, $0.enter(self), $0.txn) }
    }

    /// Inserts vectors read back from a vdb collection (merge, import of an export): cosine rows
    /// that already have unit length are stored bit for bit, because normalizing them again is not
    /// idempotent in float32. Otherwise as ``insert(contiguous:ids:metadata:)``.
    @discardableResult
    func insertStored(contiguous vectors: [Float], ids: [UInt64]?, metadata: [Metadata?]?) throws -> [UInt64] {
        let batch = try WriteBatch(self, vectors, count: try rows(in: vectors), ids: ids, metadata: metadata, replace: false, keepUnit: true)
        return try env.writeSession { try write(batch, $0.enter(self), $0.txn) }
    }

    /// Deletes vectors by id; ids that are not stored are ignored. Returns how many were deleted.
    @discardableResult
    public func delete(ids: [UInt64]) throws -> Int {
        if ids.isEmpty { return 0 }
        return try env.writeSession { try delete(ids: ids, $0.enter(self), $0.txn) }
    }

    // MARK: - inside a write transaction

    /// Stores a checked batch. Every vector gets a slot of its own: an upserted id moves to a new
    /// slot and its old slot is freed after the allocation, so a slot never changes its vector
    /// while a reader may still see it under the old id.
    func write(_ batch: WriteBatch, _ w: CollectionWrite, _ txn: WriteTxn) throws -> [UInt64] {
        let count = batch.count
        if count == 0 { return [] }
        let assigned: [UInt64]
        if let ids = batch.ids {
            assigned = ids
        } else {
            guard w.state.nextID <= emptySlotID - UInt64(count) else { throw VDBError.invalidArgument("id space exhausted") }
            assigned = (0..<count).map { w.state.nextID + UInt64($0) }
        }
        // Existing ids: an error for insert, a slot to free for upsert.
        var freed: [UInt32] = []
        var replaced = [UInt32?](repeating: nil, count: count)
        for i in 0..<count {
            if let raw = try txn.get(txn.dbis.ids, Keys.id(cid, assigned[i])) {
                if !batch.replace { throw VDBError.duplicateID(assigned[i]) }
                let old = UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
                freed.append(old)
                replaced[i] = old
            }
        }
        let slots = try allocate(count, w, txn)
        for s in freed { try txn.put(txn.dbis.free, Keys.slot(cid, s), []) }
        w.freedHere.formUnion(freed)
        // Blocks: new rows and ids; freed slots only lose their id (the row stays, see
        // `SlotVectorSource`). Each touched block is rewritten once.
        var changes: [(slot: UInt32, item: Int)] = slots.enumerated().map { ($1, $0) }
        changes += freed.map { ($0, -1) }
        changes.sort { $0.slot < $1.slot }
        let d = dimension
        try batch.vectors.withUnsafeBytes { vb in
            try rewriteBlocks(txn, changes) { block, o, i in
                if i < 0 {
                    block.storeBytes(of: emptySlotID.littleEndian, toByteOffset: o * 8, as: UInt64.self)
                } else {
                    block.storeBytes(of: assigned[i].littleEndian, toByteOffset: o * 8, as: UInt64.self)
                    (block.baseAddress! + rowsOffset + o * d * 4).copyMemory(from: vb.baseAddress! + i * d * 4, byteCount: d * 4)
                }
            }
        }
        // Id map, metadata and the metadata index (the old slot of an upserted id leaves it).
        var maxID: UInt64 = 0
        var fieldChanges = MetadataIndexChanges(cid: cid, fields: w.schema.fields)
        for i in 0..<count {
            let key = Keys.id(cid, assigned[i])
            maxID = max(maxID, assigned[i])
            var s = slots[i].littleEndian
            try txn.put(txn.dbis.ids, key, withUnsafeBytes(of: &s) { Array($0) })
            if let old = replaced[i], fieldChanges != nil,
               let record = try txn.reader.getSealed(txn.dbis.metadata, key, what: "metadata of id \(assigned[i]) in '\(name)'") {
                try fieldChanges?.remove(slot: old, record: record)
            }
            if let m = batch.metadata?[i] {
                try txn.putSealed(txn.dbis.metadata, key, m)
                try m.withUnsafeBytes { try fieldChanges?.add(slot: slots[i], id: assigned[i], record: $0) }
            } else if replaced[i] != nil {
                try txn.delete(txn.dbis.metadata, key)
            }
        }
        try fieldChanges?.store(txn)
        w.state.count += UInt64(count - freed.count)
        w.state.nextID = max(w.state.nextID, maxID + 1)
        if let live = w.live {
            // Readers learn of the new slots before the index holds their vectors.
            live.table.apply(epoch: w.epoch, assigned: (0..<count).map { (slots[$0], assigned[$0]) }, freed: freed)
            let writer = TxnIndexWriter(txn: txn, prefix: prefix)
            if !freed.isEmpty { try live.index.remove(slots: freed, writer: writer) }
            try slots.withUnsafeBufferPointer { s in
                try batch.vectors.withUnsafeBufferPointer { v in try live.index.add(slots: s, vectors: v, writer: writer) }
            }
        }
        try w.save(txn)
        return assigned
    }

    func delete(ids: [UInt64], _ w: CollectionWrite, _ txn: WriteTxn) throws -> Int {
        var freed: [UInt32] = []
        var seen = Set<UInt64>()
        var fieldChanges = MetadataIndexChanges(cid: cid, fields: w.schema.fields)
        for id in ids where seen.insert(id).inserted {
            let key = Keys.id(cid, id)
            guard let raw = try txn.get(txn.dbis.ids, key) else { continue }
            let slot = UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
            try txn.delete(txn.dbis.ids, key)
            if fieldChanges != nil, let record = try txn.reader.getSealed(txn.dbis.metadata, key, what: "metadata of id \(id) in '\(name)'") {
                try fieldChanges?.remove(slot: slot, record: record)
            }
            try txn.delete(txn.dbis.metadata, key)
            try txn.put(txn.dbis.free, Keys.slot(cid, slot), [])
            freed.append(slot)
        }
        w.freedHere.formUnion(freed)
        try fieldChanges?.store(txn)
        if !freed.isEmpty {
            // Mark the slots empty in their blocks (the rows stay).
            try rewriteBlocks(txn, freed.sorted().map { ($0, 0) }) { block, o, _ in
                block.storeBytes(of: emptySlotID.littleEndian, toByteOffset: o * 8, as: UInt64.self)
            }
            w.state.count -= UInt64(freed.count)
            if let live = w.live {
                live.table.apply(epoch: w.epoch, assigned: [], freed: freed)
                try live.index.remove(slots: freed, writer: TxnIndexWriter(txn: txn, prefix: prefix))
            }
        }
        try w.save(txn)
        return freed.count
    }

    // MARK: - internals

    /// `n` slots for new vectors: slots freed by earlier transactions first (smallest first),
    /// then fresh ones.
    private func allocate(_ n: Int, _ w: CollectionWrite, _ txn: WriteTxn) throws -> [UInt32] {
        var slots: [UInt32] = []
        slots.reserveCapacity(n)
        try txn.reader.scan(txn.dbis.free, prefix: prefix) { key, _ in
            let s = Keys.readBE32(key, at: 4)
            if !w.freedHere.contains(s) { slots.append(s) }
            return slots.count < n
        }
        for s in slots { try txn.delete(txn.dbis.free, Keys.slot(cid, s)) }
        let fresh = n - slots.count
        guard UInt64(w.state.highSlot) + UInt64(fresh) < UInt64(UInt32.max) else {
            throw VDBError.invalidArgument("collection '\(name)' is full (2^32 - 1 slots)")
        }
        for _ in 0..<fresh {
            slots.append(w.state.highSlot)
            w.state.highSlot += 1
        }
        return slots
    }

    /// Applies `change(block, offsetInBlock, item)` to every (slot, item) of `changes` (sorted by
    /// slot), rewriting each touched block once, in place in the new value (MDB_RESERVE), and
    /// sealing it with its checksum. The old version is verified first, so a damaged block is
    /// reported instead of being given a fresh checksum. New blocks start with every slot empty.
    private func rewriteBlocks(_ txn: WriteTxn, _ changes: [(slot: UInt32, item: Int)],
                               _ change: (UnsafeMutableRawBufferPointer, Int, Int) throws -> Void) throws {
        let B = UInt32(slotsPerBlock)
        let payload = blockBytes - RecordChecksum.size
        var scratch = [UInt8](repeating: 0, count: payload)
        var i = 0
        while i < changes.count {
            let b = changes[i].slot / B
            let key = Keys.block(cid, b)
            try scratch.withUnsafeMutableBytes { buf in
                if let old = try txn.get(txn.dbis.blocks, key) {
                    try verifyBlock(b, old)
                    buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: old[0..<payload]))
                } else {
                    buf.initializeMemory(as: UInt8.self, repeating: 0)
                    for s in 0..<Int(B) { buf.storeBytes(of: emptySlotID.littleEndian, toByteOffset: s * 8, as: UInt64.self) }
                }
                while i < changes.count && changes[i].slot / B == b {
                    try change(buf, Int(changes[i].slot % B), changes[i].item)
                    i += 1
                }
                try txn.putSealed(txn.dbis.blocks, key, UnsafeRawBufferPointer(buf))
            }
        }
    }
}

/// Vectors, ids and metadata of one insert or upsert, checked before any transaction starts:
/// counts agree, ids are not repeated nor reserved, components are finite, cosine vectors are
/// normalized, metadata is encoded.
struct WriteBatch {
    let vectors: [Float]
    let count: Int
    let ids: [UInt64]?
    let metadata: [[UInt8]?]?
    let replace: Bool

    /// `keepUnit`: cosine rows that already have unit length are stored as given (see `Collection.prepare`).
    init(_ c: Collection, _ input: [Float], count: Int, ids: [UInt64]?, metadata: [Metadata?]?, replace: Bool,
         keepUnit: Bool = false) throws {
        if let ids, ids.count != count {
            throw VDBError.invalidArgument("\(ids.count) ids given for \(count) vectors")
        }
        if let metadata, metadata.count != count {
            throw VDBError.invalidArgument("\(metadata.count) metadata entries given for \(count) vectors")
        }
        if replace && ids == nil { throw VDBError.invalidArgument("upsert needs ids") }
        var flat = input
        try c.prepare(&flat, count: count, keepUnit: keepUnit)
        if let ids {
            var seen = Set<UInt64>(minimumCapacity: ids.count)
            for id in ids {
                if id == emptySlotID { throw VDBError.invalidArgument("id \(emptySlotID) is reserved") }
                if !seen.insert(id).inserted { throw VDBError.repeatedID(id) }
            }
        }
        self.vectors = flat
        self.count = count
        self.ids = ids
        self.metadata = try metadata?.map { m in try m.map { try MetadataCodec.encode($0) } }
        self.replace = replace
    }
}
