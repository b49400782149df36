import COpenBLAS
import CVDBKernels
import Dispatch
import Foundation

/// L2 norm of a row.
@inline(__always)
func vdbNorm(_ p: UnsafePointer<Float>, _ d: Int) -> Float { vdb_norm_sq(p, d).squareRoot() }

/// A run of consecutive blocks searched with one sgemm: slots `firstSlot ..< firstSlot + n`.
struct Panel {
    var firstSlot: Int
    var n: Int
    var blocks: Range<Int>
}

/// One block of a read snapshot, viewed in place in the memory map.
struct BlockView {
    var firstSlot: Int
    var n: Int
    var ids: UnsafePointer<UInt64>
    var rows: UnsafePointer<Float>
}

extension Collection {
    // MARK: - public search API

    /// The `k` nearest stored vectors to `query`, best first (ties: smaller id first).
    ///
    /// Exact (FLAT) unless the collection has a built index, which then answers with
    /// `parameters` (`nprobe`, `ef`, `rerank`). `filter`, when given, admits only matching vectors
    /// and is applied during the search.
    /// - Throws: ``VDBError/dimensionMismatch(expected:got:index:)``, ``VDBError/nonFiniteComponent(index:component:)``,
    ///   ``VDBError/invalidK(_:)``.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [SearchHit] {
        guard query.count == dimension else { throw VDBError.dimensionMismatch(expected: dimension, got: query.count, index: nil) }
        return try search(contiguous: query, k: k, parameters: parameters, filter: filter)[0]
    }

    /// The `k` nearest neighbours of each query, in query order. Exact batches use BLAS
    /// (`cblas_sgemm`) over query tiles x storage blocks, on `parameters.threads` threads
    /// (0 = all cores); results equal those of single-query ``search(_:k:parameters:filter:)``.
    public func search(batch queries: [[Float]], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        var flat: [Float] = []
        flat.reserveCapacity(queries.count * dimension)
        for (i, q) in queries.enumerated() {
            guard q.count == dimension else { throw VDBError.dimensionMismatch(expected: dimension, got: q.count, index: i) }
            flat.append(contentsOf: q)
        }
        return try search(contiguous: flat, k: k, parameters: parameters, filter: filter)
    }

    /// Batch search over queries stored contiguously (row-major, `dimension` floats each).
    public func search(contiguous queries: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        guard k > 0 else { throw VDBError.invalidK(k) }
        guard queries.count % dimension == 0 else {
            throw VDBError.invalidArgument("query buffer of \(queries.count) floats is not a whole number of \(dimension)-d vectors")
        }
        let nq = queries.count / dimension
        if nq == 0 { return [] }
        var q = queries
        try prepare(&q, count: nq)
        let threads = parameters.threads <= 0 ? ProcessInfo.processInfo.activeProcessorCount : parameters.threads
        return try env.read { txn in
            let st = try state(txn)
            let tops: [[(score: Float, id: UInt64)]]
            if let idx = try indexForRead(txn, snapshotEpoch: st.epoch) {
                tops = try indexSearch(txn, idx, q, nq: nq, k: k, parameters: parameters, threads: threads, filter: filter)
            } else if nq == 1 || filter != nil {
                tops = try q.withUnsafeBufferPointer { qb in
                    try (0..<nq).map { try flatSearch(txn, st, qb.baseAddress! + $0 * dimension, k: k, filter: filter).sorted() }
                }
            } else {
                tops = try flatBatch(txn, st, q, nq: nq, k: k, threads: threads)
            }
            var hasMetadata = false
            try txn.scan(txn.dbis.metadata, prefix: prefix) { _, _ in hasMetadata = true; return false }
            return try tops.map { top in
                try top.map { c in
                    SearchHit(id: c.id, distance: kernel.reported(c.score),
                              metadata: hasMetadata ? try metadata(txn, c.id) ?? [:] : [:])
                }
            }
        }
    }

    // MARK: - exact, one query

    /// Exact top-k of one prepared query: SIMD distance kernel per block, C pre-selection
    /// against the heap threshold, heap push for the few survivors.
    func flatSearch(_ txn: ReadTxn, _ st: CollectionState, _ query: UnsafePointer<Float>, k: Int,
                    filter: SearchFilter?) throws -> TopK {
        var top = TopK(k: k)
        let B = slotsPerBlock, d = dimension
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: B)
        let picked = UnsafeMutablePointer<UInt32>.allocate(capacity: B)
        defer { scores.deallocate(); picked.deallocate() }
        let l2 = kernel == .l2
        try forEachBlock(txn, state: st) { _, n, ids, rows in
            if l2 {
                vdb_l2sq_batch(query, rows, n, d, scores)
            } else {
                vdb_ip_batch(query, rows, n, d, scores)
                vdb_scores_from_ip(scores, n, 0, nil, 0)
            }
            let m = vdb_select_le(scores, n, top.threshold, picked)
            for j in 0..<m {
                let o = Int(picked[j])
                let id = UInt64(littleEndian: ids[o])
                if id == emptySlotID { continue }
                if let filter, !filter(id, try metadata(txn, id) ?? [:]) { continue }
                top.push(score: scores[o], id: id)
            }
        }
        return top
    }

    // MARK: - exact, batch (BLAS)

    /// Views of every block of the snapshot, indexed by block number (nil for absent blocks),
    /// or nil if a block is not 8-byte aligned in the map (never seen; callers fall back).
    func blockViews(_ txn: ReadTxn, _ st: CollectionState) throws -> [BlockView?]? {
        let B = slotsPerBlock
        let nBlocks = (Int(st.highSlot) + B - 1) / B
        var views = [BlockView?](repeating: nil, count: nBlocks)
        var aligned = true
        try txn.scan(txn.dbis.blocks, prefix: prefix) { key, value in
            let b = Int(Keys.readBE32(key, at: 4))
            guard b < nBlocks, let base = value.baseAddress else { return true }
            guard value.count == blockBytes else { throw VDBError.corrupt("block \(b) of '\(name)' has a wrong size") }
            guard Int(bitPattern: base) % 8 == 0 else { aligned = false; return false }
            views[b] = BlockView(firstSlot: b * B, n: min(B, Int(st.highSlot) - b * B),
                                 ids: base.assumingMemoryBound(to: UInt64.self),
                                 rows: (base + B * 8).assumingMemoryBound(to: Float.self))
            return true
        }
        return aligned ? views : nil
    }


    /// Exact top-k for many queries: per thread a range of queries; per query tile and block,
    /// `cblas_sgemm` computes all inner products, turned into scores (squared L2 from norms for
    /// l2), pre-selected against each query's heap. The best `k + 10` candidates per query are
    /// then re-scored with the exact SIMD kernel, so results and distances match single-query search.
    func flatBatch(_ txn: ReadTxn, _ st: CollectionState, _ queries: [Float], nq: Int, k: Int,
                   threads: Int) throws -> [[(score: Float, id: UInt64)]] {
        guard let views = try blockViews(txn, st) else {
            return try queries.withUnsafeBufferPointer { qb in
                try (0..<nq).map { try flatSearch(txn, st, qb.baseAddress! + $0 * dimension, k: k, filter: nil).sorted() }
            }
        }
        let B = slotsPerBlock, d = dimension
        let l2 = kernel == .l2
        let kernel = self.kernel
        // Squared row norms (l2 only), in slot order; cached per collection epoch.
        let xnorms: [Float] = l2 ? rowNorms(epoch: st.epoch) {
            var norms = [Float](repeating: 0, count: views.count * B)
            norms.withUnsafeMutableBufferPointer { xn in
                for v in views.compactMap({ $0 }) { vdb_norm_sq_batch(v.rows, v.n, d, xn.baseAddress! + v.firstSlot) }
            }
            return norms
        } : []
        var qnorms = [Float](repeating: 0, count: nq)
        queries.withUnsafeBufferPointer { qb in
            qnorms.withUnsafeMutableBufferPointer { qn in vdb_norm_sq_batch(qb.baseAddress!, nq, d, qn.baseAddress!) }
        }
        // Candidates kept per query for exact re-scoring: a margin of 10 covers the float32
        // rounding of the norm formula many times over.
        let kk = k + 10
        let nThreads = max(1, min(threads, nq))
        let chunk = (nq + nThreads - 1) / nThreads
        // Panels: runs of consecutive blocks of about 1024 rows, so each sgemm is wide enough
        // to run near peak even when blocks hold few vectors (high dimensions).
        let panelRows = max(B, (1024 / B) * B)
        var panels: [Panel] = []
        var b = 0
        while b < views.count {
            guard let v = views[b] else { b += 1; continue }
            var n = v.n, e = b + 1
            while e < views.count, let w = views[e], n + w.n <= panelRows, w.firstSlot == v.firstSlot + n {
                n += w.n; e += 1
            }
            panels.append(Panel(firstSlot: v.firstSlot, n: n, blocks: b..<e))
            b = e
        }
        let needsGather = panels.contains { $0.blocks.count > 1 }
        // Query rows per sgemm: large tiles read (and pack) each panel fewer times; measured
        // 256 / 512 / 1024 on ann-dev, 1024 was a few percent faster (4 MiB result per thread).
        let tile = 1024
        var results = [[(score: Float, id: UInt64)]](repeating: [], count: nq)
        openblas_set_num_threads(1)  // vdb threads itself: one BLAS thread per vdb thread

        results.withUnsafeMutableBufferPointer { out in
            queries.withUnsafeBufferPointer { qb in
                xnorms.withUnsafeBufferPointer { xn in
                    qnorms.withUnsafeBufferPointer { qn in
                        let shared = UnsafeTransfer((out, qb, xn, qn, views, panels))
                        DispatchQueue.concurrentPerform(iterations: nThreads) { t in
                            let (out, qb, xn, qn, views, panels) = shared.value
                            let lo = t * chunk, hi = min(nq, lo + chunk)
                            if lo >= hi { return }
                            let c = UnsafeMutablePointer<Float>.allocate(capacity: tile * panelRows)
                            let picked = UnsafeMutablePointer<UInt32>.allocate(capacity: panelRows)
                            let pickedScores = UnsafeMutablePointer<Float>.allocate(capacity: panelRows)
                            let gatherRows = UnsafeMutablePointer<Float>.allocate(capacity: needsGather ? panelRows * d : 0)
                            let gatherIDs = UnsafeMutablePointer<UInt64>.allocate(capacity: needsGather ? panelRows : 0)
                            defer { c.deallocate(); picked.deallocate(); pickedScores.deallocate(); gatherRows.deallocate(); gatherIDs.deallocate() }
                            // Panels outer (each gathered once), query tiles inner; one heap per query.
                            var heaps = [TopK](repeating: TopK(k: kk), count: hi - lo)
                            for p in panels {
                                let rows: UnsafePointer<Float>, ids: UnsafePointer<UInt64>
                                if p.blocks.count == 1, let v = views[p.blocks.lowerBound] {
                                    rows = v.rows; ids = v.ids
                                } else {
                                    var off = 0
                                    for bi in p.blocks {
                                        guard let v = views[bi] else { continue }
                                        (gatherRows + off * d).update(from: v.rows, count: v.n * d)
                                        (gatherIDs + off).update(from: v.ids, count: v.n)
                                        off += v.n
                                    }
                                    rows = UnsafePointer(gatherRows); ids = UnsafePointer(gatherIDs)
                                }
                                var q0 = lo
                                while q0 < hi {
                                    let m = min(tile, hi - q0)
                                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(p.n), Int32(d),
                                                1, qb.baseAddress! + q0 * d, Int32(d), rows, Int32(d), 0, c, Int32(p.n))
                                    for r in 0..<m {
                                        let h = q0 - lo + r
                                        let cnt = vdb_select_scores_from_ip(
                                            c + r * p.n, p.n, l2 ? qn[q0 + r] : 0, l2 ? xn.baseAddress! + p.firstSlot : nil,
                                            l2 ? 1 : 0, heaps[h].threshold, picked, pickedScores)
                                        for j in 0..<cnt {
                                            let o = Int(picked[j])
                                            if ids[o] == emptySlotID { continue }
                                            heaps[h].push(score: pickedScores[j], id: UInt64(p.firstSlot + o))
                                        }
                                    }
                                    q0 += m
                                }
                            }
                            // Exact re-scoring of the candidates.
                            for qi in lo..<hi {
                                var top = TopK(k: k)
                                let query = qb.baseAddress! + qi * d
                                for cand in heaps[qi - lo].sorted() {
                                    let slot = Int(cand.id)
                                    guard let v = views[slot / B] else { continue }
                                    let o = slot - v.firstSlot
                                    top.push(score: kernel.score(query, v.rows + o * d, dim: d),
                                             id: UInt64(littleEndian: v.ids[o]))
                                }
                                out[qi] = top.sorted()
                            }
                        }
                    }
                }
            }
        }
        return results
    }

    // MARK: - approximate index

    /// Runs the index (in parallel over queries when there is no filter), then maps slots to ids
    /// in this snapshot, skipping slots that are empty in it.
    func indexSearch(_ txn: ReadTxn, _ idx: any VectorIndex, _ queries: [Float], nq: Int, k: Int,
                     parameters: SearchParameters, threads: Int, filter: SearchFilter?) throws -> [[(score: Float, id: UInt64)]] {
        let B = UInt32(slotsPerBlock), d = dimension
        var blockCache: [UInt32: UnsafeRawBufferPointer] = [:]
        func id(ofSlot s: UInt32) throws -> UInt64? {
            let b = s / B
            let block: UnsafeRawBufferPointer
            if let cached = blockCache[b] {
                block = cached
            } else {
                guard let got = try txn.get(txn.dbis.blocks, Keys.block(cid, b)), got.count == blockBytes else { return nil }
                blockCache[b] = got
                block = got
            }
            let id = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: Int(s % B) * 8, as: UInt64.self))
            return id == emptySlotID ? nil : id
        }
        var raw = [[(score: Float, slot: UInt32)]](repeating: [], count: nq)
        // Exact vectors of this snapshot, for indexes that re-rank through `withVectors`.
        let st = try state(txn)
        let snapshot = try blockViews(txn, st).map { SnapshotVectors(collectionID: cid, views: $0, slotsPerBlock: Int(B), dimension: d) }
        if let filter {
            var failure: Error?
            let slotFilter: (UInt32) -> Bool = { s in
                do {
                    guard let id = try id(ofSlot: s) else { return false }
                    return filter(id, try self.metadata(txn, id) ?? [:])
                } catch { failure = error; return false }
            }
            try queries.withUnsafeBufferPointer { qb in
                for i in 0..<nq {
                    raw[i] = try SnapshotVectors.with(snapshot) {
                        try idx.search(query: qb.baseAddress! + i * d, k: k, parameters: parameters, filter: slotFilter)
                    }
                }
            }
            if let failure { throw failure }
        } else {
            let nThreads = max(1, min(threads, nq))
            let errors = UnsafeTransfer(NSLock())
            nonisolated(unsafe) var firstError: Error?
            raw.withUnsafeMutableBufferPointer { out in
                queries.withUnsafeBufferPointer { qb in
                    let shared = UnsafeTransfer((out, qb, snapshot))
                    DispatchQueue.concurrentPerform(iterations: nThreads) { t in
                        let (out, qb, snapshot) = shared.value
                        var i = t
                        while i < nq {
                            do {
                                out[i] = try SnapshotVectors.with(snapshot) {
                                    try idx.search(query: qb.baseAddress! + i * d, k: k, parameters: parameters, filter: nil)
                                }
                            } catch {
                                errors.value.lock(); if firstError == nil { firstError = error }; errors.value.unlock()
                            }
                            i += nThreads
                        }
                    }
                }
            }
            if let firstError { throw firstError }
        }
        return try raw.map { hits in
            var out: [(score: Float, id: UInt64)] = []
            out.reserveCapacity(hits.count)
            for h in hits { if let id = try id(ofSlot: h.slot) { out.append((h.score, id)) } }
            return out
        }
    }
}

// MARK: - exact vectors for re-ranking indexes

/// The block views of the read snapshot a search runs in, published per thread while an index
/// searches, so ``Collection/withVectors(slots:_:)`` reads that same snapshot without opening a
/// nested transaction.
final class SnapshotVectors: @unchecked Sendable {  // immutable; pointers valid while the search's read txn lives
    let collectionID: UInt32
    let views: [BlockView?]
    let slotsPerBlock: Int
    let dimension: Int

    init(collectionID: UInt32, views: [BlockView?], slotsPerBlock: Int, dimension: Int) {
        self.collectionID = collectionID
        self.views = views
        self.slotsPerBlock = slotsPerBlock
        self.dimension = dimension
    }

    func vector(slot: UInt32) -> UnsafePointer<Float>? {
        let s = Int(slot)
        let b = s / slotsPerBlock
        guard b < views.count, let v = views[b] else { return nil }
        let o = s - v.firstSlot
        guard o < v.n, v.ids[o] != emptySlotID else { return nil }
        return v.rows + o * dimension
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The snapshot published on this thread, if any.
    static var current: SnapshotVectors? {
        guard let p = pthread_getspecific(key) else { return nil }
        return Unmanaged<SnapshotVectors>.fromOpaque(p).takeUnretainedValue()
    }

    /// Runs `body` with `snapshot` published on this thread.
    static func with<T>(_ snapshot: SnapshotVectors?, _ body: () throws -> T) rethrows -> T {
        guard let snapshot else { return try body() }
        let old = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(snapshot).toOpaque())
        defer { pthread_setspecific(key, old) }
        return try withExtendedLifetime(snapshot) { try body() }
    }
}

extension Collection {
    /// Gives `body(i, vector)` the exact stored vector of each `slots[i]` (normalized for cosine),
    /// or nil for an empty slot. Pointers are valid only during `body`.
    ///
    /// Called by an index while it searches (re-ranking), it reads the snapshot of that search;
    /// called anywhere else, it reads the latest committed state in its own read transaction.
    /// Do not call it from an index's `build`/`add`/`remove` (inside a write transaction it would
    /// not see the uncommitted vectors; those calls receive the vectors directly).
    public func withVectors(slots: UnsafeBufferPointer<UInt32>,
                            _ body: (_ index: Int, _ vector: UnsafePointer<Float>?) throws -> Void) throws {
        if let snap = SnapshotVectors.current, snap.collectionID == cid {
            for (i, s) in slots.enumerated() { try body(i, snap.vector(slot: s)) }
            return
        }
        try env.read { txn in
            let st = try state(txn)
            let B = UInt32(slotsPerBlock), d = dimension
            var cache: [UInt32: UnsafeRawBufferPointer] = [:]
            for (i, s) in slots.enumerated() {
                let b = s / B
                var block = cache[b]
                if block == nil, let got = try txn.get(txn.dbis.blocks, Keys.block(cid, b)), got.count == blockBytes {
                    block = got
                    cache[b] = got
                }
                guard s < st.highSlot, let block, let base = block.baseAddress,
                      block.loadUnaligned(fromByteOffset: Int(s % B) * 8, as: UInt64.self) != emptySlotID else {
                    try body(i, nil)
                    continue
                }
                let row = base + slotsPerBlock * 8 + Int(s % B) * d * 4
                if Int(bitPattern: row) % 4 == 0 {
                    try body(i, UnsafePointer(row.assumingMemoryBound(to: Float.self)))
                } else {
                    var copy = [Float](repeating: 0, count: d)
                    copy.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: row, count: d * 4)) }
                    try copy.withUnsafeBufferPointer { try body(i, $0.baseAddress) }
                }
            }
        }
    }
}
