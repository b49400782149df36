// Reading the collection's vector blocks: whole-snapshot scans, single rows, and the views the
// indexes load from. Every block read is checked against its CRC32C, once per stored version of
// the block and process (`verifyBlock`).

import Synchronization
import VDBSupport

/// A block version whose checksum this process has verified: where its value lies in the memory
/// map and the checksum it carries. LMDB never changes a committed page in place (a rewritten
/// block gets new pages), so the same address with the same stored checksum is the same,
/// already verified, version.
struct VerifiedBlock: Equatable {
    var address: UInt
    var checksum: UInt32
}

extension Collection {
    /// Checks that `value` is a well-formed block `b`: its size, and its checksum unless this
    /// version was verified before (verifying costs one CRC32C pass over about 256 KiB, so each
    /// version is verified once per process, the first time any read touches it).
    /// - Throws: ``VDBError/corrupt(_:)`` naming the collection and the block.
    func verifyBlock(_ b: UInt32, _ value: UnsafeRawBufferPointer) throws {
        guard value.count == blockBytes, let base = value.baseAddress else {
            throw VDBError.corrupt("block \(b) of '\(name)' has \(value.count) bytes, expected \(blockBytes)")
        }
        let n = blockBytes - RecordChecksum.size
        let stored = UInt32(littleEndian: value.loadUnaligned(fromByteOffset: n, as: UInt32.self))
        let seen = VerifiedBlock(address: UInt(bitPattern: base), checksum: stored)
        if verifiedBlocks.withLock({ $0[b] }) == seen { return }
        let computed = RecordChecksum.crc(UnsafeRawBufferPointer(rebasing: value[0..<n]))
        guard computed == stored else {
            throw RecordChecksum.mismatch("block \(b) of '\(name)'", stored: stored, computed: computed)
        }
        verifiedBlocks.withLock { $0[b] = seen }
    }

    /// Visits every block of a snapshot: first slot, number of slots in use (below the high-water
    /// mark), the ids and the rows, read in place from the memory map.
    func forEachBlock(_ txn: ReadTxn, state st: CollectionState,
                      _ body: (_ firstSlot: UInt32, _ n: Int, _ ids: UnsafePointer<UInt64>, _ rows: UnsafePointer<Float>) throws -> Void) throws {
        try txn.scan(txn.dbis.blocks, prefix: prefix) { key, value in
            try visitBlock(try blockNumber(key), value, st, body)
            return true
        }
    }

    /// ``forEachBlock(_:state:_:)`` with the blocks spread over `threads` threads: each block is
    /// checked and handed to `body` once, in no particular order, and `body` must be safe to call
    /// concurrently. One serial pass collects where the blocks lie in LMDB's read-only map (valid
    /// until the transaction ends); the checksums, the page faults and `body`'s work then run in
    /// parallel. (Opening a 1M x 384 HNSW collection spent a third of its time faulting in and
    /// checking these pages on one thread.) The first error stops the walk and is thrown.
    func forEachBlockConcurrently(_ txn: ReadTxn, state st: CollectionState, threads: Int,
                                  _ body: (_ firstSlot: UInt32, _ n: Int, _ ids: UnsafePointer<UInt64>,
                                           _ rows: UnsafePointer<Float>) throws -> Void) throws {
        var blocks: [(b: UInt32, value: UnsafeRawBufferPointer)] = []
        try txn.scan(txn.dbis.blocks, prefix: prefix) { key, value in
            blocks.append((try blockNumber(key), value))
            return true
        }
        let failure = Mutex<(any Error)?>(nil)
        parallelFor(count: blocks.count, threads: threads) { i in
            if failure.withLock({ $0 != nil }) { return }
            do {
                try visitBlock(blocks[i].b, blocks[i].value, st, body)
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// The block number in a block key (the collection id, then the block, big endian).
    private func blockNumber(_ key: UnsafeRawBufferPointer) throws -> UInt32 {
        guard key.count == 8 else { throw VDBError.corrupt("block key of '\(name)' has \(key.count) bytes, expected 8") }
        return Keys.readBE32(key, at: 4)
    }

    /// Checks block `b` and hands its slots in use to `body` (the walks above; safe to call from
    /// several threads at once: the rare misaligned copy is the caller's own).
    private func visitBlock(_ b: UInt32, _ value: UnsafeRawBufferPointer, _ st: CollectionState,
                            _ body: (UInt32, Int, UnsafePointer<UInt64>, UnsafePointer<Float>) throws -> Void) throws {
        try verifyBlock(b, value)
        guard let base = value.baseAddress else { return }
        let first = Int(b) * slotsPerBlock
        let n = min(slotsPerBlock, Int(st.highSlot) - first)
        if n <= 0 { return }
        if Int(bitPattern: base) % 8 == 0 {
            try body(UInt32(first), n, base.assumingMemoryBound(to: UInt64.self),
                     (base + rowsOffset).assumingMemoryBound(to: Float.self))
        } else {
            // LMDB places big values at page start + 16, so this copy never runs in practice.
            let copy = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 16)
            defer { copy.deallocate() }
            copy.copyMemory(from: base, byteCount: blockBytes)
            try body(UInt32(first), n, UnsafePointer(copy.assumingMemoryBound(to: UInt64.self)),
                     UnsafePointer((copy + rowsOffset).assumingMemoryBound(to: Float.self)))
        }
    }

    /// Every live slot with its id, in slot order, without copying the rows.
    func liveSlots(_ txn: ReadTxn) throws -> (slots: [UInt32], ids: [UInt64], state: CollectionState) {
        let st = try state(txn)
        let (slots, ids) = try scanLive(txn, st) { _ in }
        return (slots, ids, st)
    }

    /// Live slots, ids and contiguous vectors of a snapshot, in slot order.
    func liveVectors(_ txn: ReadTxn) throws -> (slots: [UInt32], ids: [UInt64], vectors: [Float]) {
        let st = try state(txn)
        var vectors: [Float] = []
        vectors.reserveCapacity(Int(st.count) * dimension)
        let (slots, ids) = try scanLive(txn, st) { vectors.append(contentsOf: UnsafeBufferPointer(start: $0, count: dimension)) }
        return (slots, ids, vectors)
    }

    /// One pass over the blocks: the live slots and ids, each live row handed to `row` in slot order.
    private func scanLive(_ txn: ReadTxn, _ st: CollectionState,
                          _ row: (UnsafePointer<Float>) -> Void) throws -> (slots: [UInt32], ids: [UInt64]) {
        var slots: [UInt32] = [], ids: [UInt64] = []
        slots.reserveCapacity(Int(st.count)); ids.reserveCapacity(Int(st.count))
        try forEachBlock(txn, state: st) { base, n, idp, rows in
            for o in 0..<n where idp[o] != emptySlotID {
                slots.append(base + UInt32(o))
                ids.append(UInt64(littleEndian: idp[o]))
                row(rows + o * dimension)
            }
        }
        return (slots, ids)
    }

    /// Calls `body(row, id)` with the stored row of `slot` (its `dimension * 4` bytes) and the id
    /// there, if the slot holds a vector in this snapshot; returns whether it did.
    @discardableResult
    func withStoredRow(_ txn: ReadTxn, slot: UInt32,
                       _ body: (_ row: UnsafeRawBufferPointer, _ id: UInt64) throws -> Void) throws -> Bool {
        let b = slot / UInt32(slotsPerBlock), o = Int(slot % UInt32(slotsPerBlock))
        guard let block = try txn.get(txn.dbis.blocks, Keys.block(cid, b)) else { return false }
        try verifyBlock(b, block)
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
            let b = try blockNumber(key)
            try verifyBlock(b, value)
            let first = Int(b) * B
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

    func forEachRunConcurrently(threads: Int, _ body: (UInt32, Int, UnsafePointer<UInt64>?, UnsafePointer<Float>) throws -> Void) throws {
        try collection.forEachBlockConcurrently(txn, state: state, threads: threads) { first, n, ids, rows in try body(first, n, ids, rows) }
    }
}
