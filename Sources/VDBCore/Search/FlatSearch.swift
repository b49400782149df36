// Exact (FLAT) search: one query with the SIMD kernels, many with GEMM panels (vdb's packed GEMM on
// AVX-512, cblas_sgemm elsewhere).

import CVDBKernels
import Dispatch
import Foundation
import VDBSupport

/// L2 norm of a row.
@inline(__always)
func vdbNorm(_ p: UnsafePointer<Float>, _ d: Int) -> Float { vdb_norm_sq(p, d).squareRoot() }

/// The rows one sgemm scores: a run of consecutive blocks (slots `firstSlot ..< firstSlot + n`),
/// or, in a filtered search, the `selected` slots gathered from any blocks (`n` of them).
struct Panel {
    var firstSlot: Int
    var n: Int
    var blocks: Range<Int>
    var selected: [UInt32]? = nil
}

/// One block of a read snapshot, viewed in place in the memory map.
struct BlockView {
    var firstSlot: Int
    var n: Int
    var ids: UnsafePointer<UInt64>
    var rows: UnsafePointer<Float>
}

extension Collection {
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
            try verifyBlock(UInt32(b), value)
            guard Int(bitPattern: base) % 8 == 0 else { aligned = false; return false }
            views[b] = BlockView(firstSlot: b * B, n: min(B, Int(st.highSlot) - b * B),
                                 ids: base.assumingMemoryBound(to: UInt64.self),
                                 rows: (base + B * 8).assumingMemoryBound(to: Float.self))
            return true
        }
        return aligned ? views : nil
    }


    /// The squared row norms of the snapshot with `epoch`, computed by `compute` unless cached
    /// (nil epoch: a write transaction's own view, never cached).
    func rowNorms(epoch: UInt64?, _ compute: () -> [Float]) -> [Float] {
        guard let epoch else { return compute() }
        if let c = normCache.withLock({ $0 }), c.epoch == epoch { return c.norms }
        let norms = compute()
        normCache.withLock { cached in
            if cached.map({ $0.epoch < epoch }) ?? true { cached = (epoch, norms) }
        }
        return norms
    }

    /// Exact top-k for many queries: per thread a range of queries; per query tile and block,
    /// a GEMM (`RowProducts`) computes all inner products, turned into scores (squared L2 from norms for
    /// l2), pre-selected against each query's heap. The best `k + 10` candidates per query are
    /// then re-scored with the exact SIMD kernel, so results and distances match single-query search.
    func flatBatch(_ txn: ReadTxn, _ st: CollectionState, cacheEpoch: UInt64?, _ queries: [Float], nq: Int, k: Int,
                   threads: Int) throws -> [[(score: Float, id: UInt64)]] {
        guard let views = try blockViews(txn, st) else {
            return try queries.withUnsafeBufferPointer { qb in
                try (0..<nq).map { try flatSearch(txn, st, qb.baseAddress! + $0 * dimension, k: k, filter: nil).sorted() }
            }
        }
        return flatBatch(views: views, cacheEpoch: cacheEpoch, queries, nq: nq, k: k, threads: threads, matches: nil)
    }

    /// ``flatBatch(_:_:cacheEpoch:_:nq:k:threads:)`` on `views`, among the slots of `matches`
    /// when given (a filtered exact search): each thread gathers the matching rows into panels
    /// once, so the sgemm scores only matches, whatever their share.
    func flatBatch(views: [BlockView?], cacheEpoch: UInt64?, _ queries: [Float], nq: Int, k: Int,
                   threads: Int, matches: SlotBitset?) -> [[(score: Float, id: UInt64)]] {
        let B = slotsPerBlock, d = dimension
        let l2 = kernel == .l2
        let kernel = self.kernel
        // Squared row norms (l2 only), in slot order; cached per collection epoch.
        let xnorms: [Float] = l2 ? rowNorms(epoch: cacheEpoch) {
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
        if let matches {
            var selected: [UInt32] = []
            for case let v? in views {
                for o in 0..<v.n where v.ids[o] != emptySlotID && matches.contains(UInt32(v.firstSlot + o)) {
                    selected.append(UInt32(v.firstSlot + o))
                    if selected.count == panelRows {
                        panels.append(Panel(firstSlot: 0, n: selected.count, blocks: 0..<0, selected: selected))
                        selected.removeAll(keepingCapacity: true)
                    }
                }
            }
            if !selected.isEmpty { panels.append(Panel(firstSlot: 0, n: selected.count, blocks: 0..<0, selected: selected)) }
        }
        var b = 0
        while matches == nil, b < views.count {
            guard let v = views[b] else { b += 1; continue }
            var n = v.n, e = b + 1
            while e < views.count, let w = views[e], n + w.n <= panelRows, w.firstSlot == v.firstSlot + n {
                n += w.n; e += 1
            }
            panels.append(Panel(firstSlot: v.firstSlot, n: n, blocks: b..<e))
            b = e
        }
        let needsGather = panels.contains { $0.blocks.count > 1 || $0.selected != nil }
        // Query rows per sgemm: large tiles read (and pack) each panel fewer times; measured
        // 256 / 512 / 1024 on ann-dev, 1024 was a few percent faster (4 MiB result per thread).
        let tile = 1024
        var results = [[(score: Float, id: UInt64)]](repeating: [], count: nq)
        vdb_blas_single_thread()  // vdb threads itself: one BLAS thread per vdb thread

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
                            let gatherNorms = UnsafeMutablePointer<Float>.allocate(capacity: matches != nil && l2 ? panelRows : 0)
                            // each panel loaded (packed on AVX-512) once, then multiplied by every query tile
                            let products = RowProducts(maxRows: panelRows, dimension: d)
                            defer {
                                c.deallocate(); picked.deallocate(); pickedScores.deallocate(); gatherRows.deallocate(); gatherIDs.deallocate()
                                gatherNorms.deallocate()
                            }
                            // Panels outer (each gathered once), query tiles inner; one heap per query.
                            var heaps = [TopK](repeating: TopK(k: kk), count: hi - lo)
                            for p in panels {
                                let rows: UnsafePointer<Float>, ids: UnsafePointer<UInt64>
                                var norms = l2 ? xn.baseAddress! + p.firstSlot : nil
                                if let selected = p.selected {
                                    // Matches only, gathered; `ids` holds their slots.
                                    for (i, slot) in selected.enumerated() {
                                        guard let v = views[Int(slot) / B] else { continue }
                                        (gatherRows + i * d).update(from: v.rows + (Int(slot) - v.firstSlot) * d, count: d)
                                        gatherIDs[i] = UInt64(slot)
                                        if l2 { gatherNorms[i] = xn[Int(slot)] }
                                    }
                                    rows = UnsafePointer(gatherRows); ids = UnsafePointer(gatherIDs)
                                    if l2 { norms = UnsafePointer(gatherNorms) }
                                } else if p.blocks.count == 1, let v = views[p.blocks.lowerBound] {
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
                                products.load(rows, count: p.n)
                                var q0 = lo
                                while q0 < hi {
                                    let m = min(tile, hi - q0)
                                    products.multiply(qb.baseAddress! + q0 * d, count: m, into: c)
                                    for r in 0..<m {
                                        let h = q0 - lo + r
                                        let cnt = vdb_select_scores_from_ip(
                                            c + r * p.n, p.n, l2 ? qn[q0 + r] : 0, norms,
                                            l2 ? 1 : 0, heaps[h].threshold, picked, pickedScores)
                                        for j in 0..<cnt {
                                            let o = Int(picked[j])
                                            if p.selected != nil {
                                                heaps[h].push(score: pickedScores[j], id: ids[o])
                                                continue
                                            }
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
}
