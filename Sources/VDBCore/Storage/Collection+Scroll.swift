import CLMDB

/// One page of a collection in id order (``Collection/scroll(from:limit:filter:withVectors:)``).
public struct ScrollPage: Sendable, Hashable {
    /// The records of the page, in increasing id order. `vector` is empty unless vectors were asked for.
    public var records: [VectorRecord]
    /// The id to pass as `from` for the next page; nil when this page reaches the end.
    public var nextOffset: UInt64?
}

extension Collection {
    /// Largest page ``scroll(from:limit:filter:withVectors:)`` returns.
    public static let maxScrollLimit = 10_000

    /// Pages through the stored vectors in increasing id order, on one consistent snapshot per page
    /// (as Qdrant's `scroll`): ids from `from` on, up to `limit` records that `filter` admits.
    ///
    /// Pass the returned ``ScrollPage/nextOffset`` as `from` to get the next page. Pages taken at
    /// different times see the writes committed in between.
    ///
    /// - Parameters:
    ///   - from: the first id to include (nil: the smallest stored id).
    ///   - limit: 1...``maxScrollLimit`` records.
    ///   - filter: only records it admits (evaluated on each stored id in order).
    ///   - withVectors: also return the stored vectors (else `vector` is empty).
    /// - Throws: ``VDBError/invalidArgument(_:)`` for a bad limit, ``VDBError/collectionNotFound(_:)``.
    public func scroll(from: UInt64? = nil, limit: Int, filter: SearchFilter? = nil,
                       withVectors: Bool = false) throws -> ScrollPage {
        guard (1...Collection.maxScrollLimit).contains(limit) else {
            throw VDBError.invalidArgument("scroll limit must be 1...\(Collection.maxScrollLimit) (got \(limit))")
        }
        return try env.read { txn in
            _ = try state(txn)  // throws collectionNotFound after a drop
            var records: [VectorRecord] = []
            var next: UInt64?
            try scanIDs(txn, from: from ?? 0) { id, slot in
                let metadata = try metadata(txn, id) ?? [:]
                if let filter, !filter(id, metadata) { return true }
                if records.count == limit { next = id; return false }
                let vector = withVectors ? try storedVector(txn, slot: slot) : []
                records.append(VectorRecord(id: id, vector: vector, metadata: metadata))
                return true
            }
            return ScrollPage(records: records, nextOffset: next)
        }
    }

    /// Visits the `ids` records of this collection with id >= `from`, in id order, with their slot.
    private func scanIDs(_ txn: ReadTxn, from: UInt64,
                         _ body: (_ id: UInt64, _ slot: UInt32) throws -> Bool) throws {
        var c: OpaquePointer?
        try check(mdb_cursor_open(txn.raw, txn.dbis.ids, &c), "mdb_cursor_open")
        guard let cursor = c else { return }
        defer { mdb_cursor_close(cursor) }
        var start = Keys.id(cid, from)
        let p = prefix
        try start.withUnsafeMutableBytes { s in
            var kv = MDB_val(mv_size: s.count, mv_data: s.baseAddress)
            var vv = MDB_val()
            var rc = mdb_cursor_get(cursor, &kv, &vv, MDB_SET_RANGE)
            while rc == 0 {
                let key = UnsafeRawBufferPointer(start: kv.mv_data, count: kv.mv_size)
                guard key.count == p.count + 8, p.withUnsafeBytes({ key.prefix(p.count).elementsEqual($0) }),
                      vv.mv_size == 4 else { return }
                let slot = UInt32(littleEndian: UnsafeRawBufferPointer(start: vv.mv_data, count: 4).loadUnaligned(as: UInt32.self))
                if try !body(Keys.readBE64(key, at: p.count), slot) { return }
                rc = mdb_cursor_get(cursor, &kv, &vv, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get") }
        }
    }

    /// The stored vector in `slot` of a snapshot.
    private func storedVector(_ txn: ReadTxn, slot: UInt32) throws -> [Float] {
        let b = slot / UInt32(slotsPerBlock), o = Int(slot % UInt32(slotsPerBlock))
        guard let block = try txn.get(txn.dbis.blocks, Keys.block(cid, b)), block.count == blockBytes else {
            throw VDBError.corrupt("block \(b) of '\(name)' missing")
        }
        let start = rowsOffset + o * dimension * 4
        return [Float](unsafeUninitializedCapacity: dimension) { buf, n in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: block[start..<(start + dimension * 4)]))
            n = dimension
        }
    }
}
