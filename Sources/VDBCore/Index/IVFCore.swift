// Inverted-file indexes: IVF_FLAT (raw vectors per list) and IVF_SQ8 (8-bit codes per list).
//
// Both share `IVFCore`: a k-means coarse quantizer (see KMeans.swift), and per list the slots and
// the encoded entries stored contiguously, scanned with SIMD kernels (CVDBKernels).
//
// Persistence (keys are private to the index; storage prefixes them), record version 3:
//   "M"                      meta: version, codec, dimension, nlist, metric, entries per chunk
//   "C" + block(BE32)        centroids, 64 per record
//   "Q"                      IVF_SQ8 per-dimension vmin and vdiff
//   "L" + list(BE32) + chunk(BE32)  one chunk of a list: count(UInt32), `count` slots, and for
//                            IVF_SQ8 `count` codes. IVF_FLAT lists hold only the slots: `load`
//                            copies their vectors from the collection's storage into contiguous
//                            lists (record version 1 also stored the floats; they are skipped on
//                            load and the lists rewritten by the next write).
// Lists are chunked so no value is huge, and `add`/`remove` rewrite only the chunks they touched.
// A chunk holds `chunkEntries` entries (the last one of a list fewer): 32 while 32 entries fit in
// a leaf page's node (IVF_FLAT), else as many as fill whole overflow pages with the least waste
// (`chunkEntries(codec:dimension:)`; 73 for IVF_SQ8 at 384-d: 7 pages, 32 bytes unused). Record
// version 2 had 32 entries per chunk whatever their size: 32 IVF_SQ8 entries at 384-d took 12,568
// bytes of LMDB's 16,384 (4 pages), 119 bytes per vector for nothing. Version 2 still loads, and
// its chunks stay 32 entries (the meta record says which) until the index is rebuilt.
//
// Removal is deferred: `remove` keeps the slots in their lists (a reader of an older snapshot may
// still need them; storage's visibility hides them from newer ones) and `didCommit` takes them
// out; the chunks that changed then are written by the next `add`/`remove`. Until then the
// persisted lists may name freed slots: `load` drops every listed slot that storage does not hold.
//
// Files: IVFCore.swift (state, updates, search), IVF+Records.swift (build, load, persistence),
// IVFIndexes.swift (the two public kinds), IVF+Invariants.swift.

import COpenBLAS
import CVDBKernels
import VDBSupport

/// How list entries are encoded.
enum IVFCodec: UInt8, Sendable {
    /// `dimension` float32 values.
    case flat = 1
    /// 4-byte float header followed by `dimension` uint8 codes of the residual from the list's
    /// centroid (see vdb_sq8.h).
    case sq8 = 2
}

/// Per-query scratch buffers, reused across queries through a pool.
final class IVFScratch {
    var coarse: UnsafeMutablePointer<Float>
    var heap: UnsafeMutablePointer<UInt64>
    var heapCapacity: Int
    var dist: UnsafeMutablePointer<Float>
    var distCapacity: Int
    var wq: UnsafeMutablePointer<Int16>
    var probes: UnsafeMutablePointer<UInt64>
    init(nlist: Int, dimension: Int) {
        coarse = .allocate(capacity: max(1, nlist))
        probes = .allocate(capacity: max(1, nlist))
        heapCapacity = 256
        heap = .allocate(capacity: heapCapacity)
        distCapacity = 1024
        dist = .allocate(capacity: distCapacity)
        wq = .allocate(capacity: (dimension + 63) / 64 * 64)
    }
    func ensureHeap(_ n: Int) {
        if n > heapCapacity { heap.deallocate(); heapCapacity = n; heap = .allocate(capacity: n) }
    }
    func ensureDist(_ n: Int) {
        if n > distCapacity { dist.deallocate(); distCapacity = max(n, distCapacity * 2); dist = .allocate(capacity: distCapacity) }
    }
    deinit { coarse.deallocate(); probes.deallocate(); heap.deallocate(); dist.deallocate(); wq.deallocate() }
}

/// The shared implementation of both IVF indexes. Thread safety: every access to the mutable
/// state below goes through `lock` (shared for searches, exclusive for add/remove/didCommit).
final class IVFCore: @unchecked Sendable {
    static let centroidsPerRecord = 64
    static let version: UInt32 = 3
    /// Entries per list chunk in record versions 1 and 2.
    static let legacyChunkEntries = 32

    let codec: IVFCodec
    let dimension: Int
    let metric: KernelMetric
    let nlist: Int
    let entryBytes: Int
    let centroids: [Float]
    let centroidNorms: [Float]
    let vmin: [Float]
    let vdiff: [Float]

    var listSlots: [[UInt32]]
    /// Each list's entries, `entryBytes` per slot of `listSlots`, in the same order.
    let listData: [IVFListEntries]
    /// By slot: the list holding it (UInt32.max = absent) and its position in the list.
    var slotList: [UInt32] = []
    var slotPos: [UInt32] = []
    var live = 0
    /// Slots removed by the current transaction: still in their lists until `didCommit`.
    var pendingRemoval: [UInt32] = []
    /// List chunks changed outside a transaction (by `didCommit`, or by `load` dropping freed
    /// slots): written by the next `add`/`remove`.
    var unwritten = Set<ChunkID>()
    /// Loaded from records of version 1: every record is rewritten by the next write.
    var legacyRecords = false
    /// Entries per list chunk record (the last chunk of a list holds fewer): what the records
    /// loaded from say, else ``chunkEntries(codec:dimension:)``; `writeAll` re-chunks.
    var chunkEntries: Int

    let lock = RWLock()
    let scratch: ScratchPool<IVFScratch>

    var metricCode: Int32 { metric == .l2 ? 0 : 1 }

    struct ChunkID: Hashable, Comparable {
        var list: Int
        var chunk: Int
        static func < (a: ChunkID, b: ChunkID) -> Bool { (a.list, a.chunk) < (b.list, b.chunk) }
    }

    init(codec: IVFCodec, dimension: Int, metric: KernelMetric, centroids: [Float], vmin: [Float], vdiff: [Float]) {
        self.codec = codec
        self.dimension = dimension
        self.metric = metric
        self.nlist = centroids.count / dimension
        self.entryBytes = codec == .flat ? dimension * 4 : dimension + 4
        self.centroids = centroids
        var norms = [Float](repeating: 0, count: centroids.count / dimension)
        centroids.withUnsafeBufferPointer { vdb_norm_sq_batch($0.baseAddress!, norms.count, dimension, &norms) }
        self.centroidNorms = norms
        self.vmin = vmin
        self.vdiff = vdiff
        listSlots = Array(repeating: [], count: nlist)
        listData = (0..<nlist).map { _ in IVFListEntries() }
        chunkEntries = Self.chunkEntries(codec: codec, dimension: dimension)
        let n = nlist, d = dimension
        scratch = ScratchPool { IVFScratch(nlist: n, dimension: d) }
    }

    /// Entries per list chunk record for `codec` at `dimension`. Chunks of 32 entries stay 32 when
    /// they fit in a leaf page's node (LMDB moves values above about 2,000 bytes to overflow
    /// pages). Larger chunks become overflow values of whole 4 KiB pages, whose last page is
    /// otherwise partly empty: of 1 to 2 times the pages 32 entries need, the count that wastes
    /// the fewest bytes per entry (count, checksum and LMDB's 16-byte header included).
    static func chunkEntries(codec: IVFCodec, dimension: Int) -> Int {
        let entry = 4 + (codec == .sq8 ? dimension + 4 : 0)  // slot, then the IVF_SQ8 entry
        let record = 4 + RecordChecksum.size                 // count, checksum
        let page = LMDBPages.size, overflowHeader = LMDBPages.overflowHeader, leafValueLimit = LMDBPages.leafValueLimit
        guard legacyChunkEntries * entry + record > leafValueLimit else { return legacyChunkEntries }
        let fixed = record + overflowHeader
        let least = (legacyChunkEntries * entry + fixed + page - 1) / page
        var best = (entries: 0, waste: 0)
        for pages in least...(2 * least) {
            let entries = (pages * page - fixed) / entry
            let waste = pages * page - fixed - entries * entry
            // waste / entries < best.waste / best.entries, without division.
            if best.entries == 0 || waste * best.entries < best.waste * entries { best = (entries, waste) }
        }
        return best.entries
    }

    // MARK: updates (callers hold the write lock)

    func ensureSlotCapacity(_ slot: Int) {
        if slot >= slotList.count {
            let n = max(slot + 1, slotList.count * 2)
            slotList.append(contentsOf: repeatElement(.max, count: n - slotList.count))
            slotPos.append(contentsOf: repeatElement(0, count: n - slotPos.count))
        }
    }

    /// Assigns and appends vectors; a slot already present is replaced.
    func insert(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafePointer<Float>, dirty: UnsafeMutablePointer<Set<ChunkID>>?) {
        let n = slots.count
        let d = dimension
        var assign = [Int32](repeating: 0, count: n)
        assign.withUnsafeMutableBufferPointer {
            KMeans.assign(vectors, n: n, d: d, centroids: centroids, k: nlist, ip: metric == .ip, out: $0.baseAddress!)
        }
        let present = slots.filter { Int($0) < slotList.count && slotList[Int($0)] != .max }
        if !present.isEmpty {
            // A slot freed earlier in this transaction and reused: its old entry goes now, and
            // its deferred removal must not take the new entry out.
            let reused = Set(present)
            pendingRemoval.removeAll { reused.contains($0) }
            removeSlots(present, dirty: dirty)
        }
        // Building: reserve exactly what each list receives (no doubling slack in memory).
        var adds = [Int](repeating: 0, count: nlist)
        if dirty == nil { for a in assign { adds[Int(a)] += 1 } }
        for l in 0..<nlist where adds[l] > 0 {
            listSlots[l].reserveCapacity(listSlots[l].count + adds[l])
            listData[l].reserveCapacity((listSlots[l].count + adds[l]) * entryBytes)
        }
        var entry = [UInt8](repeating: 0, count: entryBytes)
        for i in 0..<n {
            let s = slots[i]
            let l = Int(assign[i])
            let x = vectors + i * d
            switch codec {
            case .flat:
                append(slot: s, toList: l, entry: UnsafeRawBufferPointer(start: x, count: d * 4))
            case .sq8:
                entry.withUnsafeMutableBufferPointer { e in
                    centroids.withUnsafeBufferPointer { cb in
                        vmin.withUnsafeBufferPointer { mn in
                            vdiff.withUnsafeBufferPointer { df in
                                vdb_sq8_encode(x, 1, d, cb.baseAddress! + l * d, mn.baseAddress!, df.baseAddress!, e.baseAddress!)
                            }
                        }
                    }
                }
                entry.withUnsafeBytes { append(slot: s, toList: l, entry: $0) }
            }
            dirty?.pointee.insert(ChunkID(list: l, chunk: (listSlots[l].count - 1) / chunkEntries))
        }
    }

    /// Appends one encoded entry (`entryBytes` bytes) to list `l` under `slot`, which must not be
    /// in any list.
    func append(slot s: UInt32, toList l: Int, entry: UnsafeRawBufferPointer) {
        ensureSlotCapacity(Int(s))
        slotList[Int(s)] = UInt32(l)
        slotPos[Int(s)] = UInt32(listSlots[l].count)
        listSlots[l].append(s)
        listData[l].append(contentsOf: entry)
        live += 1
    }

    /// Removes slots by moving each list's last entry into the hole.
    func removeSlots(_ slots: [UInt32], dirty: UnsafeMutablePointer<Set<ChunkID>>?) {
        let eb = entryBytes
        for s in slots {
            guard Int(s) < slotList.count, slotList[Int(s)] != .max else { continue }
            let l = Int(slotList[Int(s)])
            let p = Int(slotPos[Int(s)])
            let last = listSlots[l].count - 1
            if p != last {
                let moved = listSlots[l][last]
                listSlots[l][p] = moved
                slotPos[Int(moved)] = UInt32(p)
                listData[l].withUnsafeMutableBytes { b in
                    (b.baseAddress! + p * eb).copyMemory(from: b.baseAddress! + last * eb, byteCount: eb)
                }
            }
            listSlots[l].removeLast()
            listData[l].removeLast(eb)
            slotList[Int(s)] = .max
            live -= 1
            dirty?.pointee.insert(ChunkID(list: l, chunk: p / chunkEntries))
            dirty?.pointee.insert(ChunkID(list: l, chunk: last / chunkEntries))
        }
    }

    func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws {
        guard vectors.count == slots.count * dimension else {
            throw VDBError.dimensionMismatch(expected: dimension, got: slots.count > 0 ? vectors.count / slots.count : vectors.count, index: nil)
        }
        guard slots.count > 0 else { return }
        try lock.write {
            var dirty = Set<ChunkID>()
            insert(slots: slots, vectors: vectors.baseAddress!, dirty: &dirty)
            try writeChanges(dirty, writer)
        }
    }

    /// Records the slots for removal at `didCommit`. Their list records stay as they are (a
    /// freed slot named by a list is dropped by `load`), so nothing to write but what earlier
    /// commits left unwritten.
    func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        try lock.write {
            pendingRemoval.append(contentsOf: slots.filter { Int($0) < slotList.count && slotList[Int($0)] != .max })
            try writeChanges([], writer)
        }
    }

    /// Takes the slots removed by the committed transaction out of their lists; the chunks this
    /// changes are written by the next `add`/`remove`.
    func didCommit() {
        lock.write {
            guard !pendingRemoval.isEmpty else { return }
            var changed = Set<ChunkID>()
            removeSlots(pendingRemoval, dirty: &changed)
            pendingRemoval.removeAll()
            unwritten.formUnion(changed)
        }
    }

    /// Writes the chunks in `dirty` and those left unwritten, or every record when the index was
    /// loaded from version-1 records (write lock held).
    func writeChanges(_ dirty: Set<ChunkID>, _ writer: IndexRecordWriter) throws {
        if legacyRecords { return try writeAll(writer) }
        for c in dirty.union(unwritten).sorted() { try writeChunk(list: c.list, chunk: c.chunk, writer) }
        unwritten.removeAll()
    }

    var memoryBytes: Int {
        lock.read {
            var b = centroids.count * 4 + centroidNorms.count * 4 + (vmin.count + vdiff.count) * 4
            b += slotList.count * 8
            for l in 0..<nlist { b += listSlots[l].capacity * 4 + listData[l].capacity }
            return b
        }
    }

    // MARK: search

    func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                visibility: SlotVisibility?, filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        let nprobe = try checkedProbes(k: k, parameters)
        return lock.read {
            let k = heapSize(k)
            let admitAll = visibility == nil && filter == nil && pendingRemoval.isEmpty
            let pending = pendingToSkip(visibility)
            return scratch.with { s in
                var scan = ListScan(core: self, query: query, scratch: s)
                return scan.best(k, nprobe: nprobe) { slot in
                    admitAll || admitted(slot, visibility, pending) && (filter?(slot) ?? true)
                }
            }
        }
    }

    /// Batches of at least this many queries get their coarse scores from one `cblas_sgemm`.
    static let batchCoarseQueries = 4

    /// Several unfiltered searches: the coarse scores of all of them come from one
    /// `cblas_sgemm` (queries x centroids), as Faiss's flat quantizer computes them; then each
    /// query probes and scans its lists as ``search(query:k:parameters:visibility:filter:)``
    /// does. (On ann-dev with 1,024 lists and nprobe 64 the coarse step is a quarter of a
    /// query's arithmetic.) IVF_FLAT batches that probe each list several times on average
    /// scan each list once for all its queries instead (IVF+GroupedScan.swift).
    func search(queries: [UnsafePointer<Float>], k: Int, parameters: SearchParameters,
                visibility: SlotVisibility?) throws -> [[(score: Float, slot: UInt32)]] {
        guard queries.count >= Self.batchCoarseQueries else {
            return try queries.map { try search(query: $0, k: k, parameters: parameters, visibility: visibility, filter: nil) }
        }
        let nprobe = try checkedProbes(k: k, parameters)
        let nq = queries.count, d = dimension
        return lock.read {
            let k = heapSize(k)
            let admitAll = visibility == nil && pendingRemoval.isEmpty
            let pending = pendingToSkip(visibility)
            // Rows of the queries, then coarse = |c|^2 - 2 q.c (L2) or -q.c (inner product).
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: nq * d)
            let coarse = UnsafeMutablePointer<Float>.allocate(capacity: nq * nlist)
            defer { rows.deallocate(); coarse.deallocate() }
            for (i, q) in queries.enumerated() { (rows + i * d).update(from: q, count: d) }
            let l2 = metric == .l2
            vdb_blas_single_thread()  // the caller runs blocks on its own threads
            centroids.withUnsafeBufferPointer { cb in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(nq), Int32(nlist), Int32(d),
                            l2 ? -2 : -1, rows, Int32(d), cb.baseAddress!, Int32(d), 0, coarse, Int32(nlist))
            }
            if l2 {
                centroidNorms.withUnsafeBufferPointer { nb in
                    for i in 0..<nq {
                        let row = coarse + i * nlist
                        for c in 0..<nlist { row[c] += nb[c] }
                    }
                }
            }
            if codec == .flat {
                // Lists that several queries of the batch probe are read once for all of them.
                let groups = probeGroups(coarse: coarse, queryCount: nq, nprobe: nprobe)
                if groups.queriesPerList >= Double(Self.groupedScanMinQueriesPerList) {
                    return groupedFlatScan(rows: rows, queryCount: nq, groups: groups, k: k) { slot in
                        admitAll || admitted(slot, visibility, pending)
                    }
                }
            }
            return scratch.with { s in
                (0..<nq).map { i in
                    var scan = ListScan(core: self, query: queries[i], scratch: s, coarse: coarse + i * nlist)
                    return scan.best(k, nprobe: nprobe) { slot in admitAll || admitted(slot, visibility, pending) }
                }
            }
        }
    }

    /// Filtered search: the bitset is checked in the list scan; `nprobe` is scaled up as the
    /// selectivity falls (``FilteredSearchTuning/probeScale(_:)``), and lists are then visited further
    /// in order of their centroid's distance until `k` matches are found. Stops (`exhausted`)
    /// when it has scanned more entries than there are matches before finding them.
    func filteredSearch(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                        visibility: SlotVisibility?, filter: SlotFilter) throws -> FilteredSearchResult {
        let requested = try checkedProbes(k: k, parameters)
        let scaled = (Double(requested) * FilteredSearchTuning.probeScale(filter.selectivity)).rounded(.up)
        let nprobe = min(nlist, Int(min(scaled, Double(nlist))))
        let budget = max(filter.matches, k)
        return lock.read {
            let pending = pendingToSkip(visibility)
            return scratch.with { s in
                var scan = ListScan(core: self, query: query, scratch: s)
                let order = scan.allListsInOrder()
                s.ensureHeap(k)
                var top = MaxHeap(s.heap)
                var visited = 0, probed = 0, exhausted = false
                for key in order {
                    if probed >= nprobe && top.count >= k { break }
                    if visited > budget { exhausted = true; break }
                    visited += scan.scan(list: key, into: &top, k: k) { slot in
                        filter.contains(slot) && admitted(slot, visibility, pending)
                    }
                    probed += 1
                }
                return FilteredSearchResult(hits: top.drainSorted(), visited: visited, exhausted: exhausted, nprobe: probed)
            }
        }
    }

    /// Puts the `n` lowest of `scores[0..<count]` into `heap` (capacity `n`) as packed
    /// (score, index) keys, in no particular order; returns how many (`min(n, count)`).
    static func nearest(_ n: Int, of scores: UnsafePointer<Float>, count: Int, into heap: UnsafeMutablePointer<UInt64>) -> Int {
        var top = MaxHeap(heap)
        for c in 0..<count {
            let key = packScore(scores[c], UInt32(c))
            if top.count < n { top.push(key) } else if key < top.top { top.replaceTop(key) }
        }
        return top.count
    }

    /// `nprobe` bounded by `nlist`, after checking `k` and `nprobe`.
    private func checkedProbes(k: Int, _ parameters: SearchParameters) throws -> Int {
        guard k > 0 else { throw VDBError.invalidK(k) }
        guard parameters.nprobe > 0 else {
            throw VDBError.invalidParameter(name: "nprobe", value: parameters.nprobe, reason: "must be at least 1 (values above nlist \(nlist) visit every list)")
        }
        return min(parameters.nprobe, nlist)
    }

    /// Whether a search may return `slot`: shown by `visibility`, or (without one) not removed by
    /// the transaction in progress (`pending`).
    @inline(__always)
    /// A search's result heap size: never beyond the slots the lists hold (`live` counts them;
    /// `checkInvariants` checks that). Read lock held.
    private func heapSize(_ k: Int) -> Int { min(k, max(1, live)) }

    /// Slots an open write took out that a search without a snapshot's visibility must skip
    /// (nil when there are none, or when the visibility decides). Read lock held.
    private func pendingToSkip(_ visibility: SlotVisibility?) -> Set<UInt32>? {
        visibility != nil || pendingRemoval.isEmpty ? nil : Set(pendingRemoval)
    }

    func admitted(_ slot: UInt32, _ visibility: SlotVisibility?, _ pending: Set<UInt32>?) -> Bool {
        if let visibility { return visibility.contains(slot) }
        if let pending { return !pending.contains(slot) }
        return true
    }

    /// One query's pass over the lists (read lock held): coarse scores, probe order, list scans.
    private struct ListScan {
        let core: IVFCore
        let query: UnsafePointer<Float>
        let s: IVFScratch
        var sq = vdb_sq8_query()

        /// `coarse`: the query's coarse scores when the caller computed them (a batch), else nil.
        init(core: IVFCore, query: UnsafePointer<Float>, scratch: IVFScratch, coarse: UnsafePointer<Float>? = nil) {
            self.core = core
            self.query = query
            s = scratch
            let d = core.dimension, nlist = core.nlist
            if let coarse {
                s.coarse.update(from: coarse, count: nlist)
            } else {
                // -q.c for all centroids (four at a time), then |c|^2 - 2 q.c for L2.
                core.centroids.withUnsafeBufferPointer { cb in vdb_scan4_f32(query, cb.baseAddress!, nlist, d, 1, s.coarse) }
                if core.metric == .l2 {
                    core.centroidNorms.withUnsafeBufferPointer { nb in
                        for c in 0..<nlist { s.coarse[c] = nb[c] + 2 * s.coarse[c] }
                    }
                }
            }
            if core.codec == .sq8 {
                sq.wq = s.wq
                core.vmin.withUnsafeBufferPointer { mn in
                    core.vdiff.withUnsafeBufferPointer { df in vdb_sq8_prepare(query, d, mn.baseAddress!, df.baseAddress!, &sq) }
                }
            }
        }

        /// Puts the `nprobe` lists with the closest centroids in `s.probes` (as packed
        /// (coarse score, list) keys, in no particular order) and returns their count.
        mutating func nearestLists(_ nprobe: Int) -> Int {
            s.ensureHeap(nprobe)
            let count = IVFCore.nearest(nprobe, of: s.coarse, count: core.nlist, into: s.heap)
            for i in 0..<count { s.probes[i] = s.heap[i] }
            return count
        }

        /// The best `k` entries `admit` accepts in the `nprobe` lists with the closest centroids,
        /// best first.
        mutating func best(_ k: Int, nprobe: Int, admit: (UInt32) -> Bool) -> [(score: Float, slot: UInt32)] {
            let probeCount = nearestLists(nprobe)
            s.ensureHeap(k)
            var top = MaxHeap(s.heap)
            for pi in 0..<probeCount { scan(list: s.probes[pi], into: &top, k: k, admit: admit) }
            return top.drainSorted()
        }

        /// Every list as a packed (coarse score, list) key, closest centroid first.
        func allListsInOrder() -> [UInt64] {
            (0..<core.nlist).map { packScore(s.coarse[$0], UInt32($0)) }.sorted()
        }

        /// Scans the list of `probe` (a packed key) into `top` (at most `k` entries), keeping only
        /// the slots `admit` accepts; returns the entries scanned.
        @discardableResult
        mutating func scan(list probe: UInt64, into top: inout MaxHeap, k: Int, admit: (UInt32) -> Bool) -> Int {
            let l = Int(unpackSlot(probe))
            let coarse = unpackScore(probe)
            let n = core.listSlots[l].count
            if n == 0 { return 0 }
            s.ensureDist(n)
            let dist = s.dist
            let d = core.dimension
            core.listData[l].withUnsafeBytes { raw in
                switch core.codec {
                case .flat:
                    vdb_scan_f32(query, raw.baseAddress!.assumingMemoryBound(to: Float.self), n, d, core.metricCode, dist)
                case .sq8:
                    // bias: |q - c|^2 = coarse + |q|^2 for L2, q . c = -coarse for inner product.
                    let bias = core.metric == .l2 ? coarse + sq.qnorm : -coarse
                    vdb_sq8_scan(&sq, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), n, core.metricCode, bias, dist)
                }
            }
            core.listSlots[l].withUnsafeBufferPointer { sl in
                for i in 0..<n { top.offer(packScore(dist[i], sl[i]), k: k, admit: admit) }
            }
            return n
        }
    }
}
