import Synchronization

/// For every slot of a collection with a built index: the id stored there and the epochs between
/// which it is visible. Index searches admit a slot only if the table shows it to the reader's
/// snapshot, and map the slots they return to ids through it, without reading LMDB again.
///
/// Entries are versioned by collection epoch (the counter every committed write of the
/// collection increments): a slot holding an id from the write that commits as epoch `b` until
/// the write that commits as epoch `d` frees it is visible to a reader of snapshot epoch `e` iff
/// `b <= e < d`. So the writer records its changes *inside* its transaction, tagged with the epoch
/// it will commit as, before the index sees the new vectors: readers of the current snapshot
/// (epoch below it) keep seeing exactly the committed state, readers of the new snapshot see the
/// new state as soon as LMDB shows it to them, and no reader waits. A transaction that aborts
/// leaves its entries behind with an epoch no snapshot of this table will ever have, because the
/// collection then replaces the whole table (and index) by one loaded from LMDB.
///
/// Readers run lock-free; a sequence counter (odd while the writer updates entries, seqlock
/// style) tells a search whether entries changed while it ran, in which case it re-checks its hits
/// against its own snapshot (`Collection.rescore`).
///
/// Only frees and reused slots change what an older snapshot sees. A write that fills fresh
/// slots (never assigned in this table: the common insert, or an upsert of new ids) makes them
/// visible from its epoch on, and older snapshots see them as not visible before, during and
/// after it; so such a write neither moves the sequence nor makes older readers check every
/// candidate (`SlotVisibility.showsEveryLiveSlot`). Under `vdb serve`'s load test (10 upserts of
/// 10 new ids a second beside 32 clients of batch searches) the per-candidate checks and the
/// re-scoring they caused took about 4% of the server's CPU.
final class SlotTable: @unchecked Sendable {
    // Why @unchecked: the entries are `Atomic`s in chunks allocated here and freed in `deinit`
    // (never moved: growth adds chunks); the chunk directory is guarded by `directory`; only the
    // collection's single writer calls `apply`.

    static let chunkShift = 12
    static let chunkSize = 1 << chunkShift
    static let chunkMask = UInt32(chunkSize - 1)
    /// A `born` epoch no snapshot reaches: the slot is not visible (never assigned, or free at load).
    static let never = UInt64.max

    /// Epoch of the snapshot the table was loaded (or built) from. Entries of slots freed before
    /// it are gone, so readers of older snapshots cannot rely on it (`read` reports them unstable).
    let baseEpoch: UInt64

    /// Chunks of `chunkSize` entries: `born, died` pairs, then the ids.
    private let directory = Mutex<[UnsafeMutablePointer<Atomic<UInt64>>]>([])
    /// Moves (twice) with every `apply` that frees or reuses a slot.
    private let sequence = Atomic<UInt64>(0)
    /// The largest epoch `apply` recorded (0 after a load); stored with release ordering after
    /// the entries, so a reader that loads it sees them.
    private let latest = Atomic<UInt64>(0)
    /// The largest epoch of an `apply` that freed slots (0 after a load): readers of older
    /// snapshots must check each candidate, because the index no longer holds those slots as live.
    private let latestFree = Atomic<UInt64>(0)

    /// Reads whose snapshot predates a write that freed slots, so the search checked every
    /// candidate against the table (diagnostics; tests check that writes of fresh slots cause none).
    let checkedReads = Atomic<Int>(0)
    /// Reads during which a write freed or reused slots, so the search re-scored its hits from its
    /// snapshot (diagnostics, as `checkedReads`).
    let racedReads = Atomic<Int>(0)

    init(baseEpoch: UInt64) {
        self.baseEpoch = baseEpoch
    }

    deinit {
        directory.withLock { chunks in
            for c in chunks {
                c.deinitialize(count: 3 * SlotTable.chunkSize)
                c.deallocate()
            }
        }
    }

    /// Bytes the table holds (24 per slot of allocated chunks).
    var memoryBytes: Int { directory.withLock { $0.count } * 3 * 8 * SlotTable.chunkSize }

    // MARK: writer

    /// Records a write for readers: each `assigned` slot holds its id from `epoch` on, each `freed`
    /// slot is empty from `epoch` on. Called by the collection's writer inside its transaction,
    /// before the index sees the assigned slots' vectors (their old contents stay visible to
    /// older snapshots until then).
    func apply(epoch: UInt64, assigned: [(slot: UInt32, id: UInt64)], freed: [UInt32]) {
        if assigned.isEmpty && freed.isEmpty { return }
        var top: UInt32 = 0
        for a in assigned { top = max(top, a.slot) }
        for s in freed { top = max(top, s) }
        let chunks = chunks(covering: top)
        // A fresh slot is hidden from every snapshot before `epoch` whatever a reader reads of
        // its entry meanwhile (`never` or `epoch` as its birth); a freed or reused one is not.
        let disrupts = !freed.isEmpty || assigned.contains {
            SlotTable.entry(chunks, $0.slot).visibility[0].load(ordering: .relaxed) != SlotTable.never
        }
        if disrupts {
            sequence.add(1, ordering: .relaxed)
            if !freed.isEmpty && epoch > latestFree.load(ordering: .relaxed) { latestFree.store(epoch, ordering: .relaxed) }
            atomicMemoryFence(ordering: .releasing)
        }
        for a in assigned {
            let (e, id) = SlotTable.entry(chunks, a.slot)
            e[0].store(epoch, ordering: .relaxed)
            e[1].store(SlotTable.never, ordering: .relaxed)
            id.pointee.store(a.id, ordering: .relaxed)
        }
        for s in freed {
            SlotTable.entry(chunks, s).visibility[1].store(epoch, ordering: .relaxed)
        }
        latest.store(max(epoch, latest.load(ordering: .relaxed)), ordering: .releasing)
        if disrupts { sequence.add(1, ordering: .releasing) }
    }

    /// The directory, grown so that `slot` has an entry.
    private func chunks(covering slot: UInt32) -> [UnsafeMutablePointer<Atomic<UInt64>>] {
        let needed = Int(slot >> SlotTable.chunkShift) + 1
        return directory.withLock { chunks in
            while chunks.count < needed {
                let n = SlotTable.chunkSize
                let c = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: 3 * n)
                for i in 0..<(2 * n) { (c + i).initialize(to: Atomic(SlotTable.never)) }
                for i in (2 * n)..<(3 * n) { (c + i).initialize(to: Atomic(emptySlotID)) }
                chunks.append(c)
            }
            return chunks
        }
    }

    @inline(__always)
    private static func entry(_ chunks: [UnsafeMutablePointer<Atomic<UInt64>>], _ slot: UInt32)
        -> (visibility: UnsafeMutablePointer<Atomic<UInt64>>, id: UnsafeMutablePointer<Atomic<UInt64>>) {
        let c = chunks[Int(slot >> chunkShift)]
        let o = Int(slot & chunkMask)
        return (c + 2 * o, c + 2 * chunkSize + o)
    }

    // MARK: readers

    /// Runs `body` with the table as a reader of snapshot `epoch` sees it. `stable` is true when no
    /// entry changed while `body` ran and the table can answer for that snapshot, so what `body`
    /// read is exactly the snapshot's state.
    func read<T>(epoch: UInt64, _ body: (SlotVisibility) throws -> T) rethrows -> (result: T, stable: Bool) {
        let s0 = sequence.load(ordering: .acquiring)
        _ = latest.load(ordering: .acquiring)
        let current = latestFree.load(ordering: .relaxed) <= epoch && epoch >= baseEpoch
        if !current { checkedReads.add(1, ordering: .relaxed) }
        let chunks = directory.withLock { $0 }
        let result = try chunks.withUnsafeBufferPointer {
            try body(SlotVisibility(chunks: $0, epoch: epoch, showsEveryLiveSlot: current))
        }
        atomicMemoryFence(ordering: .acquiring)
        let s1 = sequence.load(ordering: .relaxed)
        let stable = s0 == s1 && s0 & 1 == 0 && epoch >= baseEpoch
        if !stable { racedReads.add(1, ordering: .relaxed) }
        return (result, stable)
    }

    /// Slots visible at `epoch` (for invariant checks in tests).
    func visibleSlots(at epoch: UInt64) -> Set<UInt32> {
        read(epoch: epoch) { v in
            var out = Set<UInt32>()
            for c in 0..<v.chunks.count {
                for o in 0..<SlotTable.chunkSize {
                    let s = UInt32(c << SlotTable.chunkShift + o)
                    if v.contains(s) { out.insert(s) }
                }
            }
            return out
        }.result
    }
}

/// The slots a search may return: those the collection's slot table shows to a reader of one
/// snapshot. Valid only inside ``SlotTable/read(epoch:_:)``; copied freely, checked per candidate
/// in the indexes' search loops (two relaxed atomic loads, no allocation, no reference counting).
package struct SlotVisibility {
    let chunks: UnsafeBufferPointer<UnsafeMutablePointer<Atomic<UInt64>>>
    /// The reader's snapshot epoch.
    let epoch: UInt64
    /// True when no write recorded in the table that is newer than the snapshot freed a slot:
    /// every slot the snapshot holds is then live in the index (its own deleted flags and pending
    /// removals hide only slots freed up to the snapshot), so a search may skip the per-slot check
    /// in its traversal. The index may also hold slots that newer writes filled; the search drops
    /// those by their missing id (`id(of:)`), and searches a query again with the check when that
    /// leaves it fewer than k hits. A write that frees or reuses slots during the search changes
    /// the table's sequence, and the search then re-checks its hits.
    let showsEveryLiveSlot: Bool

    /// Whether `slot` holds a vector in the reader's snapshot.
    @inline(__always)
    package func contains(_ slot: UInt32) -> Bool {
        let c = Int(slot &>> SlotTable.chunkShift)
        guard c < chunks.count else { return false }
        let e = chunks[c] + 2 &* Int(slot & SlotTable.chunkMask)
        return e[0].load(ordering: .relaxed) <= epoch && epoch < e[1].load(ordering: .relaxed)
    }

    /// The id in `slot` if the reader's snapshot shows one there.
    @inline(__always)
    func id(of slot: UInt32) -> UInt64? {
        guard contains(slot) else { return nil }
        let id = (chunks[Int(slot >> SlotTable.chunkShift)] + 2 * SlotTable.chunkSize + Int(slot & SlotTable.chunkMask))
            .pointee.load(ordering: .relaxed)
        return id == emptySlotID ? nil : id
    }
}
