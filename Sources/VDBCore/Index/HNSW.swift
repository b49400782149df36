// HNSW (Malkov and Yashunin, "Efficient and robust approximate nearest neighbor search using
// Hierarchical Navigable Small World graphs", 2016/2018), laid out like hnswlib.
//
// Memory layout: node `slot` of level 0 lives at `level0 + slot * stride` as
//   [vector: dimension float32][header: UInt32][links: 2M UInt32][padding to 64 bytes]
// so a node's links sit right after its vector in one contiguous block (the vector starts on a
// cache-line boundary). header = link count (low 16 bits) | present (bit 16) | deleted (bit 17).
// Upper levels (1...level) live in a separate per-node block of level * (1 + M) UInt32:
// [count, M links] per level.
//
// Persistence (keys private to the index; storage prefixes them), record version 3:
//   "M"                   meta: version, dimension, M, efConstruction, metric, entry point, max level,
//                         capacity, block rows (UInt32)
//   "G" + block(BE32)     graph of `block rows` consecutive slots: levels (Int8), level-0 header +
//                         links, then the upper-level blocks of the slots with level > 0, in slot order
// Block rows are chosen so that a block is one 4 KiB LMDB overflow page (`pageGraphBlockRows`: 27
// slots at M 16). `add`/`remove` rewrite only the blocks whose nodes changed, and an insert changes
// the lists of a few dozen nodes scattered over the graph, so a block's size is what each changed
// node costs a commit: 32-slot blocks took two pages (2.2 MB written for 10 inserted vectors).
// Versions 1 and 2 used blocks of 32 slots (no block-rows field); an index loaded from them keeps
// 32 until it is rebuilt, its meta rewritten as version 3 by the next write.
// The vectors are not persisted by the index: `load` copies them from the collection's storage
// blocks (a freed slot's row keeps its last vector, so deleted waypoint nodes get theirs too).
// Version 1 also stored them in "V" + block(BE32) records of 16 slots; those are read as version
// 2 and deleted by the next write.
//
// Files: HNSW.swift (layout, search), HNSW+Insert.swift (insertion, removal, repair),
// HNSW+Records.swift (build, load, persistence), HNSW+Invariants.swift (structural checks).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVDBKernels
import Synchronization
import VDBSupport

/// Per-thread search state: an epoch-tagged visited list and heap storage, reused across queries.
final class HNSWScratch {
    var visited: UnsafeMutablePointer<UInt16>
    var capacity: Int
    var epoch: UInt16 = 0
    var cand: UnsafeMutablePointer<UInt64>
    var top: UnsafeMutablePointer<UInt64>
    var topCapacity: Int
    /// Buffers for neighbour selection.
    var sel: UnsafeMutablePointer<UInt64>
    var sel2: UnsafeMutablePointer<UInt64>
    var selCapacity: Int
    /// Unvisited neighbours of the node being expanded.
    var pending: UnsafeMutablePointer<UInt32>

    init(capacity: Int, maxM0: Int) {
        self.capacity = max(1, capacity)
        visited = .allocate(capacity: self.capacity)
        visited.initialize(repeating: 0, count: self.capacity)
        cand = .allocate(capacity: self.capacity + 1)
        topCapacity = 256
        top = .allocate(capacity: topCapacity)
        selCapacity = max(256, 2 * maxM0 + 2)
        sel = .allocate(capacity: selCapacity)
        sel2 = .allocate(capacity: selCapacity)
        pending = .allocate(capacity: maxM0 + 1)
    }
    deinit { visited.deallocate(); cand.deallocate(); top.deallocate(); sel.deallocate(); sel2.deallocate(); pending.deallocate() }

    /// Starts a new visit for an index of `n` node slots and returns the tag marking "visited".
    @inline(__always)
    func begin(nodes n: Int, ef: Int) -> UInt16 {
        if n > capacity {
            visited.deallocate(); cand.deallocate()
            capacity = max(n, capacity * 2)
            visited = .allocate(capacity: capacity)
            visited.initialize(repeating: 0, count: capacity)
            cand = .allocate(capacity: capacity + 1)
            epoch = 0
        }
        if ef + 1 > topCapacity {
            top.deallocate()
            topCapacity = ef + 1
            top = .allocate(capacity: topCapacity)
        }
        if ef + 1 > selCapacity {
            sel.deallocate(); sel2.deallocate()
            selCapacity = ef + 1
            sel = .allocate(capacity: selCapacity)
            sel2 = .allocate(capacity: selCapacity)
        }
        epoch &+= 1
        if epoch == 0 {
            visited.update(repeating: 0, count: capacity)
            epoch = 1
        }
        return epoch
    }
}

/// A hierarchical navigable small-world graph index (hnswlib-style), keyed by storage slot.
///
/// - Build: nodes get a level from -ln(U) / ln(M) (U from a hash of seed and slot, so levels do not
///   depend on insertion order); each insertion searches with `efConstruction` and keeps M
///   neighbours chosen by the heuristic of the paper (2M on level 0). `buildThreads` workers insert
///   in parallel with per-node spin locks; `buildThreads: 1` inserts in slot order and is deterministic.
/// - Search: greedy descent through the upper levels, then a best-first search on level 0 with a
///   candidate list of `ef` (raised to k). Slots outside the caller's visibility (or, without one,
///   deleted slots) and filtered-out slots are traversed but never returned.
/// - Removal marks the node deleted: it stays in the graph as a waypoint (as in hnswlib), so
///   recall does not drop. The deleted flag keeps new nodes from linking to it; whether a search
///   returns it is decided by the visibility storage passes (older snapshots still see it). Adding a vector under a deleted slot reuses its
///   node: first each neighbour that linked to it is reconnected to the deleted node's neighbours
///   (heuristic selection), then the new vector is inserted; nodes inserted after the build fill
///   their level-0 list up to 1.5 M. Deleting and re-inserting 20% keeps recall within 0.01 of a fresh build.
package final class HNSWIndex: VectorIndex, @unchecked Sendable {
    // Thread safety: the graph state is guarded by `rw` (searches share it; add/remove/grow hold it
    // exclusively). Inside a parallel insert, node links are guarded by the per-node spin locks
    // `locks` and the entry point by `entryLock`.
    static let version: UInt32 = 3
    /// Slots per "V" record of record version 1 (deleted by the first write after loading one).
    static let legacyVectorBlock = 16
    /// Slots per "G" record of record versions 1 and 2.
    static let legacyGraphBlock = 32
    static let headerPresent: UInt32 = 1 << 16
    static let headerDeleted: UInt32 = 1 << 17
    static let countMask: UInt32 = 0xFFFF

    package let parameters: IndexParameters
    package var kind: IndexKind { .hnsw }
    let dimension: Int
    let metric: KernelMetric
    let isL2: Bool
    let m: Int
    let maxM0: Int
    let levelMult: Double
    let vectorBytes: Int
    /// Stride of one level-0 node in UInt32 words.
    let strideWords: Int
    /// Word offset of the header inside a node.
    let headerWord: Int
    let upperWords: Int

    var capacity = 0
    /// Slots per "G" record: ``pageGraphBlockRows(m:)`` for a new index, what the records say
    /// for a loaded one.
    var graphBlockRows: Int
    var level0: UnsafeMutablePointer<UInt32>
    /// Bytes mapped for `level0` (``ZeroedPages``).
    var level0Bytes = 64
    var levels: UnsafeMutablePointer<Int8>
    var upper: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    var locks: UnsafeMutablePointer<UInt8>
    var dirty: UnsafeMutablePointer<UInt8>
    var entryPoint: UInt32 = 0
    var maxLevel = -1
    var live = 0
    var deletedCount = 0
    var upperBytes = 0
    /// Set once the initial build is done (see `connect`).
    var built = false
    /// Nodes inserted since the last `connectUnreachable`.
    var insertedSinceCheck = 0
    /// "V" records of record version 1 still stored: deleted by the next write.
    var legacyVectorRecords = 0

    let rw = RWLock()
    let entryLock = Mutex<Void>(())
    let pool: ScratchPool<HNSWScratch>

    init(dimension: Int, metric: KernelMetric, parameters: IndexParameters) {
        self.parameters = parameters
        self.dimension = dimension
        self.metric = metric
        self.isL2 = metric == .l2
        self.m = parameters.m
        self.maxM0 = 2 * parameters.m
        self.levelMult = 1.0 / log(Double(parameters.m))
        self.vectorBytes = dimension * 4
        let words = dimension + 1 + 2 * parameters.m
        self.strideWords = (words + 15) / 16 * 16
        self.headerWord = dimension
        self.upperWords = 1 + parameters.m
        self.graphBlockRows = Self.pageGraphBlockRows(m: parameters.m)
        level0 = ZeroedPages.allocate(byteCount: 64).bindMemory(to: UInt32.self, capacity: 16)
        levels = .allocate(capacity: 1)
        upper = .allocate(capacity: 1)
        locks = .allocate(capacity: 1)
        dirty = .allocate(capacity: 1)
        let m0 = 2 * parameters.m
        pool = ScratchPool { HNSWScratch(capacity: 1024, maxM0: m0) }
    }

    deinit {
        for i in 0..<capacity { upper[i]?.deallocate() }
        ZeroedPages.deallocate(level0, byteCount: level0Bytes)
        levels.deallocate(); upper.deallocate(); locks.deallocate(); dirty.deallocate()
    }

    package var count: Int { rw.read { live } }

    package var memoryBytes: Int {
        rw.read { capacity * (strideWords * 4 + 1 + 8 + 2) + upperBytes }
    }

    // MARK: node access

    @inline(__always) func node(_ s: UInt32) -> UnsafeMutablePointer<UInt32> { level0 + Int(s) &* strideWords }
    @inline(__always) func vec(_ s: UInt32) -> UnsafePointer<Float> {
        UnsafeRawPointer(level0 + Int(s) &* strideWords).assumingMemoryBound(to: Float.self)
    }
    @inline(__always) func header(_ s: UInt32) -> UnsafeMutablePointer<UInt32> { level0 + (Int(s) &* strideWords &+ headerWord) }
    /// The [count, links...] block of node `s` at `level` (>= 1), or nil if the node is not that high.
    @inline(__always) func upperBlock(_ s: UInt32, _ level: Int) -> UnsafeMutablePointer<UInt32>? {
        guard Int(levels[Int(s)]) >= level, let u = upper[Int(s)] else { return nil }
        return u + (level - 1) * upperWords
    }
    @inline(__always) func isDeleted(_ s: UInt32) -> Bool { header(s).pointee & HNSWIndex.headerDeleted != 0 }
    @inline(__always) func isPresent(_ s: UInt32) -> Bool {
        Int(s) < capacity && header(s).pointee & HNSWIndex.headerPresent != 0
    }

    @inline(__always) func dist(_ q: UnsafePointer<Float>, _ s: UInt32) -> Float {
        isL2 ? vdb_l2sq(q, vec(s), dimension) : -vdb_ip(q, vec(s), dimension)
    }
    @inline(__always) func dist(_ a: UInt32, _ b: UInt32) -> Float { dist(vec(a), b) }

    /// Link count and link pointer of `s` at `level`; level 0 is always there, upper levels may be absent.
    @inline(__always) func links(_ s: UInt32, _ level: Int) -> (UnsafeMutablePointer<UInt32>, Int) {
        if level == 0 {
            let h = header(s)
            return (h + 1, Int(h.pointee & HNSWIndex.countMask))
        }
        guard let b = upperBlock(s, level) else { return (header(s) + 1, 0) }
        return (b + 1, Int(b.pointee))
    }
    @inline(__always) func setCount(_ s: UInt32, _ level: Int, _ n: Int) {
        if level == 0 {
            let h = header(s)
            h.pointee = (h.pointee & ~HNSWIndex.countMask) | UInt32(n)
        } else if let b = upperBlock(s, level) {
            b.pointee = UInt32(n)
        }
    }

    func randomLevel(_ slot: UInt32) -> Int {
        let r = SplitMix64.mix(parameters.seed, UInt64(slot))
        let u = (Double(r >> 11) + 1) / Double(1 << 53)   // (0, 1]
        return min(Int(-log(u) * levelMult), 100)
    }

    /// Grows node storage to hold slot indices < `n` (exclusive lock held).
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        let newCap = max(n, capacity + capacity / 2, 64)
        let bytes = newCap * strideWords * 4
        // Zero pages from the kernel: untouched until written (a load fills them on every core).
        // Growing moves the pages instead of copying them (the first insert after opening a
        // collection grows a graph sized to its count).
        level0 = ZeroedPages.grow(UnsafeMutableRawPointer(level0), from: level0Bytes, to: bytes)
            .bindMemory(to: UInt32.self, capacity: newCap * strideWords)
        level0Bytes = bytes
        func grow<T>(_ p: UnsafeMutablePointer<T>, _ fill: T) -> UnsafeMutablePointer<T> {
            let q = UnsafeMutablePointer<T>.allocate(capacity: newCap)
            q.initialize(repeating: fill, count: newCap)
            if capacity > 0 { q.update(from: p, count: capacity) }
            p.deallocate()
            return q
        }
        levels = grow(levels, -1)
        upper = grow(upper, nil)
        locks = grow(locks, 0)
        dirty = grow(dirty, 0)
        capacity = newCap
    }

    // MARK: search

    package func search(query: UnsafePointer<Float>, k: Int, parameters sp: SearchParameters,
                        visibility: SlotVisibility?, filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        guard k > 0 else { throw VDBError.invalidK(k) }
        return rw.read {
            // As hnswlib: max(ef, k); and never above the node slots, so no request sizes a buffer
            // beyond the index.
            let ef = max(1, min(max(sp.ef, k), capacity))
            guard maxLevel >= 0 else { return [] }
            return pool.with { scratch in
                let cur = descend(query).entry
                let n: Int
                if visibility == nil && filter == nil && deletedCount == 0 {
                    n = searchLevel0(scratch, query: query, ep: cur, ef: ef, checkAllowed: false, visibility: nil, filter: nil).count
                } else {
                    n = searchLevel0(scratch, query: query, ep: cur, ef: ef, checkAllowed: true, visibility: visibility, filter: filter).count
                }
                var top = MaxHeap(scratch.top)
                top.count = n
                while top.count > k { _ = top.pop() }
                return top.drainSorted()
            }
        }
    }

    /// Greedy descent through the upper levels (shared lock held): the level-0 entry for `query`
    /// and the distances computed on the way.
    @inline(__always)
    func descend(_ query: UnsafePointer<Float>) -> (entry: UInt32, computed: Int) {
        var cur = entryPoint
        var curDist = dist(query, cur)
        var computed = 1
        var l = maxLevel
        while l > 0 {
            var changed = true
            while changed {
                changed = false
                let (lk, n) = links(cur, l)
                computed += n
                for j in 0..<n {
                    let c = lk[j]
                    prefetchScoring(lk, n, at: j)
                    let d = dist(query, c)
                    if d < curDist { curDist = d; cur = c; changed = true }
                }
            }
            l -= 1
        }
        return (cur, computed)
    }

    /// The level-0 best-first search of a query (shared lock held, no node locks): leaves up to
    /// `ef` allowed nodes in `scratch.top` and returns their count. Disallowed nodes (outside
    /// `visibility`, or deleted when there is none, or filtered out) are expanded but never kept,
    /// as in hnswlib.
    /// With `slotFilter`, only its slots are allowed; the search stops (`exhausted`) once it has
    /// computed more than `budget` distances.
    @inline(__always)
    /// How many neighbours ahead the searches prefetch vectors: one distance (~40 ns at 384-d)
    /// hides too little of a DRAM miss, so the next few are requested together.
    static let prefetchAhead = 4

    /// The prefetch schedule of a loop that scores `slots[0..<n]` in order: call it for each `j`
    /// just before scoring `slots[j]`. At 0 it requests the first `prefetchAhead` vectors, after
    /// that the one `prefetchAhead` ahead of `j`.
    @inline(__always) func prefetchScoring(_ slots: UnsafePointer<UInt32>, _ n: Int, at j: Int) {
        if j == 0 { for i in 0..<min(n, Self.prefetchAhead) { vdb_prefetch(vec(slots[i]), vectorBytes) } }
        if j &+ Self.prefetchAhead < n { vdb_prefetch(vec(slots[j &+ Self.prefetchAhead]), vectorBytes) }
    }

    /// Writes the slots of `links[0..<n]` not yet visited under `tag` to `out`, in order, marking
    /// them visited; returns how many. `out` may be `links` itself.
    @inline(__always)
    static func takeUnvisited(_ links: UnsafePointer<UInt32>, _ n: Int, visited: UnsafeMutablePointer<UInt16>, tag: UInt16,
                              into out: UnsafeMutablePointer<UInt32>) -> Int {
        var fresh = 0
        for j in 0..<n {
            let nb = links[j]
            if visited[Int(nb)] == tag { continue }
            visited[Int(nb)] = tag
            out[fresh] = nb
            fresh &+= 1
        }
        return fresh
    }

    func searchLevel0(_ scratch: HNSWScratch, query: UnsafePointer<Float>, ep: UInt32, ef: Int,
                      checkAllowed: Bool, visibility: SlotVisibility?, filter: ((UInt32) -> Bool)?,
                      slotFilter: SlotFilter? = nil, budget: Int = .max) -> (count: Int, computed: Int, exhausted: Bool) {
        let tag = scratch.begin(nodes: capacity, ef: ef)
        let visited = scratch.visited
        var top = MaxHeap(scratch.top)
        var cand = MinHeap(scratch.cand)
        let base = level0
        let sw = strideWords
        let hw = headerWord
        let d = dimension
        let l2 = isL2
        @inline(__always) func allowed(_ s: UInt32) -> Bool {
            if let visibility {
                if !visibility.contains(s) { return false }
            } else if base[Int(s) &* sw &+ hw] & HNSWIndex.headerDeleted != 0 {
                return false
            }
            if let slotFilter, !slotFilter.contains(s) { return false }
            if let filter { return filter(s) }
            return true
        }
        @inline(__always) func score(_ s: UInt32) -> Float {
            let v = UnsafeRawPointer(base + Int(s) &* sw).assumingMemoryBound(to: Float.self)
            return l2 ? vdb_l2sq(query, v, d) : -vdb_ip(query, v, d)
        }
        var computed = 1
        let d0 = score(ep)
        visited[Int(ep)] = tag
        var lower = Float.infinity
        if !checkAllowed || allowed(ep) { top.push(packScore(d0, ep)); lower = d0 }
        cand.push(packScore(d0, ep))
        let pending = scratch.pending
        while cand.count > 0 {
            let c = cand.top
            let cd = unpackScore(c)
            if cd > lower && (top.count == ef || !checkAllowed) { break }
            _ = cand.pop()
            let cs = unpackSlot(c)
            let h = base + (Int(cs) &* sw &+ hw)
            let n = Int(h.pointee & HNSWIndex.countMask)
            let lk = h + 1
            // Pass 1: the unvisited neighbours (marking them). Pass 2: their distances, with the
            // vectors prefetched `prefetchAhead` ahead; nothing is prefetched for nodes already visited.
            let fresh = Self.takeUnvisited(lk, n, visited: visited, tag: tag, into: pending)
            computed &+= fresh
            if computed > budget { return (top.count, computed, true) }
            for j in 0..<fresh {
                let nb = pending[j]
                prefetchScoring(pending, fresh, at: j)
                let dn = score(nb)
                if top.count < ef || dn < lower {
                    let key = packScore(dn, nb)
                    cand.push(key)
                    if !checkAllowed || allowed(nb) {
                        if top.count < ef { top.push(key) } else { top.replaceTop(key) }
                        lower = unpackScore(top.top)
                    }
                }
            }
        }
        return (top.count, computed, false)
    }
}
