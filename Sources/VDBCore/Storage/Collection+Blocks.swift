// Reading the collection's vector blocks: whole-snapshot scans, single rows, and the views the
// indexes load from.

extension Collection {
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

    /// Calls `body(row, id)` with the stored row of `slot` (its `dimension * 4` bytes) and the id
    /// there, if the slot holds a vector in this snapshot; returns whether it did.
    @discardableResult
    func withStoredRow(_ txn: ReadTxn, slot: UInt32,
                       _ body: (_ row: UnsafeRawBufferPointer, _ id: UInt64) throws -> Void) throws -> Bool {
        let b = slot / UInt32(slotsPerBlock), o = Int(slot % UInt32(slotsPerBlock))
        guard let block = try txn.get(txn.dbis.blocks, Keys.block(cid, b)) else { return false }
        guard block.count == blockBytes else {
            throw VDBError.corrupt("block \(b) of '\(name)' has \(block.count) bytes, expected \(blockBytes)")
        }
        let id = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: o * 8, as: UInt64.self))
        if id == emptySlotID { return false }
        let start = rowsOffset + o * dimension * 4
        try body(UnsafeRawBufferPointer(rebasing: block[start..<(start + dimension * 4)]), id)
        return true
    }

    /// The slot table of a snapshot: every live slot with its id, visible from epoch 0 on.
    /// Reads only the id header of each block (the rows are not touched).
    func slotTable(_ txn: ReadTxn, state st: CollectionState, baseEpoch: UInt64) throws -> SlotTable {
        let table = SlotTable(baseEpoch: baseEpoch)
        var assigned: [(slot: UInt32, id: UInt64)] = []
        assigned.reserveCapacity(Int(st.count))
        let B = slotsPerBlock
        try txn.scan(txn.dbis.blocks, prefix: prefix) { key, value in
            guard key.count == 8, value.count == blockBytes else {
                throw VDBError.corrupt("block of '\(name)' has \(value.count) bytes, expected \(blockBytes)")
            }
            let first = Int(Keys.readBE32(key, at: 4)) * B
            let n = min(B, Int(st.highSlot) - first)
            for o in 0..<max(0, n) {
                let id = UInt64(littleEndian: value.loadUnaligned(fromByteOffset: o * 8, as: UInt64.self))
                if id != emptySlotID { assigned.append((UInt32(first + o), id)) }
            }
            return true
        }
        table.apply(epoch: 0, assigned: assigned, freed: [])
        return table
    }
}

/// The stored vectors of one snapshot of a collection, block by block, for index `load`.
struct StoredVectors: SlotVectorSource {
    let collection: Collection
    let txn: ReadTxn
    let state: CollectionState

    func forEachRun(_ body: (UInt32, Int, UnsafePointer<UInt64>?, UnsafePointer<Float>) throws -> Void) throws {
        try collection.forEachBlock(txn, state: state) { first, n, ids, rows in try body(first, n, ids, rows) }
    }
}
