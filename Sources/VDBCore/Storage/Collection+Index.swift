// The index lifecycle of a collection: building and dropping it, loading it, and keeping the
// in-memory index and its slot table in step with LMDB (see Docs/architecture.md, "Concurrency").

import Foundation
import Synchronization

/// The in-memory index of a collection and the slot table searches go through.
final class LiveIndex: Sendable {
    let index: any VectorIndex
    let table: SlotTable

    init(index: any VectorIndex, table: SlotTable) {
        self.index = index
        self.table = table
    }
}

/// What this process knows of a collection's index.
struct IndexCache {
    var config: CollectionConfig
    /// The latest collection epoch `config` and `live` reflect, counting the epoch a local write
    /// in progress will commit as; nil = unknown (never loaded, or a write aborted): reload.
    var epoch: UInt64?
    /// The epoch `config` and `live` hold from (their build, drop or load): older snapshots may
    /// have had another index.
    var since: UInt64 = 0
    /// The index when `config` has one built.
    var live: LiveIndex?

    init(config: CollectionConfig, epoch: UInt64? = nil, since: UInt64 = 0, live: LiveIndex? = nil) {
        self.config = config
        self.epoch = epoch
        self.since = since
        self.live = live
    }
}

/// An index as one snapshot (or one write transaction) sees it.
struct IndexView {
    let live: LiveIndex
    /// The snapshot's epoch: the slot table shows the slots that snapshot holds.
    let epoch: UInt64
}

extension Collection {
    // MARK: - public

    /// Builds (or rebuilds) an approximate index of `kind` over all stored vectors, persists it,
    /// and records it in the catalog; later inserts and deletes keep it up to date.
    /// `kind == .flat` drops any index. The whole build is one write transaction; searches keep
    /// using the previous index (or exact search) until it commits.
    public func buildIndex(kind: IndexKind, parameters: IndexParameters = IndexParameters(),
                           progress: (@Sendable (Double) -> Void)? = nil) throws {
        if kind == .flat { return try dropIndex() }
        guard let type = indexType(kind) else { throw VDBError.indexUnavailable(kind) }
        try env.writeSession { session in
            let w = try session.enter(self, loadingIndex: false)
            let txn = session.txn
            guard try Database.config(named: name, txn.reader).id == cid else { throw VDBError.collectionNotFound(name) }
            // The index reads the vectors from storage (HNSW copies them straight into its nodes).
            let (slots, ids, st) = try liveSlots(txn.reader)
            let writer = TxnIndexWriter(txn: txn, prefix: prefix)
            try writer.deleteAll()
            let source = StoredVectors(collection: self, txn: txn.reader, state: st)
            let built = try slots.withUnsafeBufferPointer { s in
                try type.build(dimension: dimension, metric: kernel, parameters: parameters,
                               slots: s, source: source, writer: writer, progress: progress)
            }
            let table = SlotTable(baseEpoch: w.epoch)
            table.apply(epoch: 0, assigned: Array(zip(slots, ids).map { (slot: $0.0, id: $0.1) }), freed: [])
            try install(built, kind: kind, parameters: parameters, table: table, w, txn)
        }
    }

    /// Makes `index` (whose records are already written in `txn`) the collection's built index of
    /// `kind`: records it in the catalog and, from the commit on, searches use it with `table`.
    /// The one place a build (``buildIndex(kind:parameters:progress:)``, a merge's concatenated
    /// IVF lists) marks an index built.
    func install(_ index: any VectorIndex, kind: IndexKind, parameters: IndexParameters, table: SlotTable,
                 _ w: CollectionWrite, _ txn: WriteTxn) throws {
        var cfg = try Database.config(named: name, txn.reader)
        guard cfg.id == cid else { throw VDBError.collectionNotFound(name) }
        cfg.index = kind
        cfg.parameters = parameters
        cfg.parameters.quantizer = nil  // never stored: the index keeps its centroids in its records
        cfg.indexBuilt = true
        try txn.put(txn.dbis.catalog, Array(name.utf8), Array(try JSONEncoder().encode(cfg)))
        w.replace(config: cfg, live: LiveIndex(index: index, table: table))
        try w.save(txn)
    }

    /// Removes the collection's index; searches become exact (FLAT).
    public func dropIndex() throws {
        try env.writeSession { session in
            let w = try session.enter(self, loadingIndex: false)
            let txn = session.txn
            var cfg = try Database.config(named: name, txn.reader)
            guard cfg.id == cid else { throw VDBError.collectionNotFound(name) }
            try TxnIndexWriter(txn: txn, prefix: prefix).deleteAll()
            cfg.index = .flat
            cfg.indexBuilt = false
            try txn.put(txn.dbis.catalog, Array(name.utf8), Array(try JSONEncoder().encode(cfg)))
            w.replace(config: cfg, live: nil)
            try w.save(txn)
        }
    }

    // MARK: - readers

    /// The index a search of the snapshot with `epoch` uses, or nil to search exactly: the
    /// in-memory index when it can answer for that snapshot (its slot table then shows exactly
    /// the snapshot's slots); reloaded from the snapshot when the snapshot is newer than what
    /// this process knows (another process wrote, or a write of this process aborted).
    func indexView(_ txn: ReadTxn, epoch: UInt64) throws -> IndexView? {
        if let answer = try cachedView(txn, epoch: epoch) { return answer }
        return try loadLock.withLock { _ in
            if let answer = try cachedView(txn, epoch: epoch) { return answer }  // loaded meanwhile
            let (config, live) = try loadIndex(txn, epoch: epoch)
            cache.withLock { $0 = IndexCache(config: config, epoch: epoch, since: epoch, live: live) }
            return live.map { IndexView(live: $0, epoch: epoch) }
        }
    }

    /// `.some(view)` when the cached state answers for the snapshot, nil when it must be reloaded.
    /// A snapshot from before the current index was built, dropped or loaded is searched exactly:
    /// that index's slot table cannot say which slots such a snapshot holds (rare: a snapshot
    /// older than the last commit of another process, of a build, or of an aborted write).
    private func cachedView(_ txn: ReadTxn, epoch: UInt64) throws -> IndexView?? {
        let c = cache.withLock { $0 }
        guard let known = c.epoch, epoch <= known else { return nil }
        guard epoch >= c.since else { return .some(nil) }
        return .some(c.live.map { IndexView(live: $0, epoch: epoch) })
    }

    /// Loads the catalog entry and, when an index is built, the index and its slot table from
    /// the snapshot `txn` (whose epoch is `epoch`).
    func loadIndex(_ txn: ReadTxn, epoch: UInt64) throws -> (CollectionConfig, LiveIndex?) {
        let config = try Database.config(named: name, txn)
        guard config.id == cid else { throw VDBError.collectionNotFound(name) }
        guard config.indexBuilt && config.index != .flat else { return (config, nil) }
        guard let type = indexType(config.index) else { throw VDBError.indexUnavailable(config.index) }
        let st = try state(txn)
        let index = try type.load(dimension: dimension, metric: kernel, parameters: config.parameters,
                                  records: TxnIndexReader(txn: txn, prefix: prefix),
                                  vectors: StoredVectors(collection: self, txn: txn, state: st))
        return (config, LiveIndex(index: index, table: try slotTable(txn, state: st, baseEpoch: epoch)))
    }

    // MARK: - writers

    /// Starts this collection's part of a write transaction: makes sure the in-memory index
    /// reflects the last commit (reloading it from `txn` if not), then announces the epoch the
    /// transaction will commit as, so snapshots up to it keep using this index. A build or drop
    /// replaces the index anyway: it does not load a stale one (`loadingIndex: false`).
    func beginWrite(_ txn: WriteTxn, loadingIndex: Bool = true) throws -> CollectionWrite {
        let st = try state(txn.reader)
        let epoch = st.epoch &+ 1
        let live: LiveIndex? = try loadLock.withLock { _ in
            var c = cache.withLock { $0 }
            if c.epoch != st.epoch {
                guard loadingIndex else { return nil }
                let (config, live) = try loadIndex(txn.reader, epoch: st.epoch)
                c = IndexCache(config: config, epoch: st.epoch, since: st.epoch, live: live)
            }
            c.epoch = epoch
            let live = c.live
            cache.withLock { $0 = c }
            return live
        }
        var state = st
        state.epoch = epoch
        return CollectionWrite(collection: self, state: state, live: live, schema: try schema(txn.reader))
    }

    /// After the transaction of `w` committed: the index drops what only older snapshots needed,
    /// or a built or dropped index replaces the old one for new searches.
    func didCommit(_ w: CollectionWrite) {
        if let (config, live) = w.replacement {
            cache.withLock { $0 = IndexCache(config: config, epoch: w.epoch, since: w.epoch, live: live) }
        } else if w.saved {
            w.live?.index.didCommit()
        } else {
            // Only read: the epoch did not move.
            cache.withLock { if $0.epoch == w.epoch { $0.epoch = w.epoch &- 1 } }
        }
    }

    /// After the transaction of a write aborted: the in-memory index holds changes that never
    /// committed, so the next search or write loads it again (in-flight searches keep the old
    /// object, whose slot table hides those changes from their snapshots).
    func didAbort() {
        cache.withLock { $0.epoch = nil }
    }

    // MARK: - tests

    /// Checks the in-memory index against the latest committed state: its own structural
    /// invariants, its live slots equal to the stored ones, and the slot table showing exactly
    /// the stored (slot, id) pairs. Throws ``VDBError/corrupt(_:)`` naming the first violation.
    func checkIndexInvariants() throws {
        try env.read { txn in
            let st = try state(txn)
            guard let view = try indexView(txn, epoch: st.epoch) else { return }
            var stored = Set<UInt32>()
            var ids: [UInt32: UInt64] = [:]
            try forEachBlock(txn, state: st) { first, n, idp, _ in
                for o in 0..<n where idp[o] != emptySlotID {
                    stored.insert(first + UInt32(o))
                    ids[first + UInt32(o)] = UInt64(littleEndian: idp[o])
                }
            }
            try view.live.index.checkInvariants(liveSlots: stored)
            let (tableIDs, _) = view.live.table.read(epoch: st.epoch) { v in
                view.live.table.visibleSlots(at: st.epoch).reduce(into: [UInt32: UInt64]()) { $0[$1] = v.id(of: $1) }
            }
            guard tableIDs == ids else {
                throw VDBError.corrupt("slot table of '\(name)' differs from the stored slots at epoch \(st.epoch)")
            }
        }
    }
}
