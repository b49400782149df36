// Whole-collection reads on one consistent snapshot, a batch at a time: what export, merge and
// centroid training stream through, so their memory is bounded by the batch, not the collection.
//
// This is the one place the exchange and merge code reads storage internals (the read
// transaction, the state record, the block scan, the metadata DBI).

/// A read-only view of one collection in one LMDB read snapshot. Valid only inside
/// ``Collection/withSnapshot(_:)``.
final class CollectionSnapshot {
    let collection: Collection
    fileprivate let txn: ReadTxn
    fileprivate let state: CollectionState

    fileprivate init(collection: Collection, txn: ReadTxn, state: CollectionState) {
        self.collection = collection
        self.txn = txn
        self.state = state
    }

    /// Live vectors in the snapshot.
    var count: Int { Int(state.count) }

    /// Every metadata key of the snapshot with the kinds of value stored under it.
    func metadataKinds() throws -> [String: Set<MetadataColumnKind>] {
        var kinds: [String: Set<MetadataColumnKind>] = [:]
        let p = collection.prefix
        try txn.scan(txn.dbis.metadata, prefix: p) { k, v in
            guard k.count == p.count + 8 else { return true }
            for (key, value) in try MetadataCodec.decode(v) { kinds[key, default: []].insert(MetadataColumnKind(value)) }
            return true
        }
        return kinds
    }

    /// Visits the live vectors in slot order, `size` at a time: ids, vectors (row-major) and, when
    /// `metadata` is true, the metadata of each (nil when it has none). `body` returns false to stop.
    func forEachBatch(size: Int, metadata: Bool = true,
                      _ body: (_ ids: [UInt64], _ vectors: [Float], _ metadata: [Metadata?]) throws -> Bool) throws {
        let d = collection.dimension
        let batch = max(1, size)
        var ids: [UInt64] = [], vectors: [Float] = [], metas: [Metadata?] = []
        ids.reserveCapacity(batch); vectors.reserveCapacity(batch * d)
        var stopped = false
        func flush() throws {
            if ids.isEmpty || stopped { return }
            if try !body(ids, vectors, metas) { stopped = true }
            ids.removeAll(keepingCapacity: true); vectors.removeAll(keepingCapacity: true); metas.removeAll(keepingCapacity: true)
        }
        try collection.forEachBlock(txn, state: state) { _, n, idp, rows in
            if stopped { return }
            for o in 0..<n where idp[o] != emptySlotID {
                let id = UInt64(littleEndian: idp[o])
                ids.append(id)
                vectors.append(contentsOf: UnsafeBufferPointer(start: rows + o * d, count: d))
                metas.append(metadata ? try collection.metadata(txn, id) : nil)
                if ids.count == batch { try flush() }
                if stopped { return }
            }
        }
        try flush()
    }
}

extension CollectionSnapshot {
    /// Visits every live (slot, id) pair in slot order.
    func forEachSlot(_ body: (_ slot: UInt32, _ id: UInt64) throws -> Void) throws {
        try collection.forEachBlock(txn, state: state) { first, n, idp, _ in
            for o in 0..<n where idp[o] != emptySlotID { try body(first + UInt32(o), UInt64(littleEndian: idp[o])) }
        }
    }

    /// The slot high-water mark: every live slot is below it.
    var slotLimit: Int { Int(state.highSlot) }

    /// The collection's built approximate index as of this snapshot (nil for flat).
    func index() throws -> (any VectorIndex)? {
        try collection.indexView(txn, epoch: state.epoch)?.live.index
    }
}

extension Collection {
    /// Runs `body` on one consistent snapshot of the collection (one read transaction).
    func withSnapshot<T>(_ body: (CollectionSnapshot) throws -> T) throws -> T {
        try env.read { txn in
            try body(CollectionSnapshot(collection: self, txn: txn, state: try state(txn)))
        }
    }
}

extension Collection {
    /// The directory of the database holding this collection (for messages naming a shard).
    var databasePath: String { env.directory.path }
}
