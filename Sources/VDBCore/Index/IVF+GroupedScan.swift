// IVF_FLAT batches scanned list by list: every list that some queries of the batch probe is read
// once and scored against all of those queries with one matrix product (`RowProducts`: queries x
// entries),
// instead of once per query with a vector-at-a-time kernel.
//
// A single query's scan of IVF_FLAT lists is bound by memory bandwidth: ann-dev with 1,024 lists
// and nprobe 64 reads 4.8 MB of floats per query for 2.4 MFLOP of arithmetic. When a batch probes
// each list several times on average (nq x nprobe / lists probed), reading each list once and
// multiplying it by the matrix of its queries turns that into cache-resident GEMM work. Results
// are the same entries as the per-query scan; scores differ only by float rounding (the GEMM sums
// in another order and L2 is |q|^2 + |x|^2 - 2 q.x, clamped at 0).
//
// IVF_SQ8 keeps the per-query scan: decoding a list's codes to floats once per block and
// multiplying them was measured slower on ann-dev (nlist 1024, nprobe 32-64: 0.75-0.9x; equal at
// 128), since 8-bit codes are already a quarter of the bytes and the int16 kernel is fast.

import CVDBKernels
import VDBSupport

extension IVFCore {
    /// Grouped scanning pays off from this many queries per probed list on average.
    static let groupedScanMinQueriesPerList = 3
    /// A long list is scored in tiles of this many entries, so the score buffer stays at most
    /// block size x tile floats (512 x 2048 x 4 bytes = 4 MiB) whatever the list lengths.
    static let groupedScanTileEntries = 2048

    /// The `nprobe` closest lists of each query, from its row of coarse scores, as a
    /// compressed list -> queries map (queries in increasing order within a list).
    struct ProbeGroups {
        /// `queries[offsets[l] ..< offsets[l + 1]]` probe list `l`.
        var offsets: [Int]
        var queries: [UInt32]
        /// Lists probed by at least one query.
        var listsProbed: Int

        /// Average number of queries reading a probed list.
        var queriesPerList: Double { listsProbed == 0 ? 0 : Double(queries.count) / Double(listsProbed) }
    }

    /// Groups the probes of `nq` queries whose coarse scores are the rows of `coarse`
    /// (`nq` x `nlist`, lower is closer). Read lock held.
    func probeGroups(coarse: UnsafePointer<Float>, queryCount nq: Int, nprobe: Int) -> ProbeGroups {
        precondition(nprobe >= 1 && nprobe <= nlist, "nprobe \(nprobe) outside 1...\(nlist)")
        var probes = [UInt32](repeating: 0, count: nq * nprobe)
        var counts = [Int](repeating: 0, count: nlist + 1)
        let heap = UnsafeMutablePointer<UInt64>.allocate(capacity: nprobe)
        defer { heap.deallocate() }
        for i in 0..<nq {
            for p in 0..<Self.nearest(nprobe, of: coarse + i * nlist, count: nlist, into: heap) {
                let l = unpackSlot(heap[p])
                probes[i * nprobe + p] = l
                counts[Int(l) + 1] += 1
            }
        }
        var listsProbed = 0
        for l in 0..<nlist where counts[l + 1] > 0 { listsProbed += 1 }
        for l in 0..<nlist { counts[l + 1] += counts[l] }
        var fill = counts
        var queries = [UInt32](repeating: 0, count: counts[nlist])
        for i in 0..<nq {
            for p in 0..<nprobe {
                let l = Int(probes[i * nprobe + p])
                queries[fill[l]] = UInt32(i)
                fill[l] += 1
            }
        }
        return ProbeGroups(offsets: counts, queries: queries, listsProbed: listsProbed)
    }

    /// The best `k` admitted entries of each query's probed lists, best first, scanning each
    /// probed list once for all its queries. `rows` holds the queries (`nq` x `dimension`).
    /// IVF_FLAT only. Read lock held; runs BLAS on the calling thread.
    func groupedFlatScan(rows: UnsafePointer<Float>, queryCount nq: Int, groups: ProbeGroups, k: Int,
                         admit: (UInt32) -> Bool) -> [[(score: Float, slot: UInt32)]] {
        precondition(codec == .flat, "grouped scanning reads float lists")
        let d = dimension, l2 = metric == .l2
        let tile = Self.groupedScanTileEntries
        var maxQueries = 0, maxEntries = 0
        for l in 0..<nlist where groups.offsets[l + 1] > groups.offsets[l] {
            maxQueries = max(maxQueries, groups.offsets[l + 1] - groups.offsets[l])
            maxEntries = max(maxEntries, min(tile, listSlots[l].count))
        }
        let heapStore = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, nq * k))
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxQueries * d))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxQueries * maxEntries))
        let entryNorms = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxEntries))
        let queryNorms = UnsafeMutablePointer<Float>.allocate(capacity: max(1, nq))
        let picked = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, maxEntries))
        let products = RowProducts(maxRows: maxEntries, dimension: d)
        let pickedScores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxEntries))
        defer {
            heapStore.deallocate(); gathered.deallocate(); scores.deallocate()
            entryNorms.deallocate(); queryNorms.deallocate(); picked.deallocate(); pickedScores.deallocate()
        }
        if l2 { vdb_norm_sq_batch(rows, nq, d, queryNorms) }
        var heaps = (0..<nq).map { MaxHeap(heapStore + $0 * k) }
        for l in 0..<nlist {
            let first = groups.offsets[l], m = groups.offsets[l + 1] - first
            let n = listSlots[l].count
            if m == 0 || n == 0 { continue }
            for j in 0..<m { (gathered + j * d).update(from: rows + Int(groups.queries[first + j]) * d, count: d) }
            for start in stride(from: 0, to: n, by: tile) {
                let width = min(tile, n - start)
                listData[l].withUnsafeBytes { raw in
                    let entries = raw.baseAddress!.assumingMemoryBound(to: Float.self) + start * d
                    // inner products Q X^T; the selection below turns them into distances
                    products.load(entries, count: width)
                    products.multiply(gathered, count: m, into: scores)
                    if l2 { vdb_norm_sq_batch(entries, width, d, entryNorms) }
                }
                listSlots[l].withUnsafeBufferPointer { all in
                    let slots = all.baseAddress! + start
                    for j in 0..<m {
                        let qi = Int(groups.queries[first + j])
                        let row = scores + j * width
                        var top = heaps[qi]
                        // SIMD pre-selection against the heap's bound (|q|^2 + |x|^2 - 2 q.x for L2,
                        // -q.x for inner product), then exact offers of the few that pass.
                        let bound = top.count < k ? Float.infinity : unpackScore(top.top)
                        let cnt = vdb_select_scores_from_ip(row, width, l2 ? queryNorms[qi] : 0, l2 ? entryNorms : nil,
                                                            l2 ? 1 : 0, bound, picked, pickedScores)
                        for t in 0..<cnt {
                            let dist = l2 ? max(0, pickedScores[t]) : pickedScores[t]
                            top.offer(packScore(dist, slots[Int(picked[t])]), k: k, admit: admit)
                        }
                        heaps[qi] = top
                    }
                }
            }
        }
        return (0..<nq).map { heaps[$0].drainSorted() }
    }
}
