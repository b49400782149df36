import COpenBLAS
import CVDBKernels
import Dispatch
import VDBCore
import VDBSupport

/// Exact k-nearest-neighbour ground truth by brute force, for benchmarks run without a `--gt` file.
///
/// Distances come in blocks from `cblas_sgemm` (queries x base), a per-query heap keeps a few more
/// candidates than asked, and those candidates are re-scored one by one in double precision and
/// sorted by (distance, id), so float rounding in the matrix product cannot reorder near-ties and
/// ties go to the smaller id, as in the reference ground truth files.
enum BenchGroundTruth {
    /// The exact `k` nearest base rows (0-based ids) of every query, nearest first.
    ///
    /// - Parameters:
    ///   - metric: `.l2` ranks by squared Euclidean distance, `.ip` by largest inner product.
    ///     For cosine, pass `.ip` and normalized vectors (see ``BenchVectors/normalized()``).
    ///   - threads: BLAS threads and threads used to select candidates (0 = all cores).
    package static func compute(base: BenchVectors, queries: BenchVectors, k: Int, metric: KernelMetric,
                               threads: Int = 0) throws(BenchError) -> BenchNeighborRows {
        guard base.dimension == queries.dimension else {
            throw .mismatch("base vectors have dimension \(base.dimension) but queries have \(queries.dimension)")
        }
        guard k > 0 else { throw .invalidArgument("k must be positive, got \(k)") }
        guard base.count >= k else { throw .invalidArgument("k = \(k) is larger than the \(base.count) base vectors") }
        let d = base.dimension, nb = base.count, nq = queries.count
        let candidates = min(nb, 2 * k + 16)
        // More workers than queries in a block would only idle; the cap also keeps Int32 exact.
        let workers = min(resolvedThreads(threads), 256)
        vdb_blas_single_thread()  // the workers split each product by columns

        let qBlock = 256, bBlock = 8192
        var norms = [Float](repeating: 0, count: metric == .l2 ? nb : 0)
        if metric == .l2 {
            base.data.withUnsafeBufferPointer { b in
                norms.withUnsafeMutableBufferPointer { n in benchNormsSquared(b.baseAddress!, nb, d, n.baseAddress!) }
            }
        }
        var result = [Int32](repeating: 0, count: nq * k)
        var scores = [Float](repeating: 0, count: qBlock * bBlock)
        base.data.withUnsafeBufferPointer { bPtr in
        queries.data.withUnsafeBufferPointer { qPtr in
        norms.withUnsafeBufferPointer { nPtr in
        scores.withUnsafeMutableBufferPointer { sPtr in
        result.withUnsafeMutableBufferPointer { outPtr in
            let B = bPtr.baseAddress!, Q = qPtr.baseAddress!, S = sPtr.baseAddress!, out = outPtr.baseAddress!
            // An empty array may still have a base address: decide by metric, not by nil.
            let N = metric == .l2 ? nPtr.baseAddress : nil
            for q0 in stride(from: 0, to: nq, by: qBlock) {
                let mq = min(qBlock, nq - q0)
                let heaps = BenchHeapBox(count: mq, k: candidates)
                for b0 in stride(from: 0, to: nb, by: bBlock) {
                    let mb = min(bBlock, nb - b0)
                    // S[i, j] = q_i . b_j  (alpha -2 for l2: S = -2 q.b, to which |b|^2 is added below)
                    let sAddr = UnsafeTransfer(S), nAddr = UnsafeTransfer(N)
                    let qRows = UnsafeTransfer(UnsafeMutablePointer(mutating: Q + q0 * d))
                    let bRows = UnsafeTransfer(UnsafeMutablePointer(mutating: B + b0 * d))
                    parallelRanges(mb, threads: workers, minPerThread: 512) { c0, c1 in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(mq), Int32(c1 - c0), Int32(d),
                                    metric == .l2 ? -2 : -1, qRows.value, Int32(d), bRows.value + c0 * d, Int32(d), 0,
                                    sAddr.value + c0, Int32(mb))
                    }
                    parallelRanges(mq, threads: workers) { lo, hi in
                        for i in lo ..< hi {
                            let row = sAddr.value + i * mb
                            heaps.withHeap(i) { top in
                                if let n = nAddr.value {
                                    for j in 0 ..< mb {
                                        let s = row[j] + n[b0 + j]
                                        if s <= top.threshold { top.push(score: s, id: UInt64(b0 + j)) }
                                    }
                                } else {
                                    for j in 0 ..< mb {
                                        let s = row[j]
                                        if s <= top.threshold { top.push(score: s, id: UInt64(b0 + j)) }
                                    }
                                }
                            }
                        }
                    }
                }
                // Exact re-ranking of the candidates in double precision.
                let outAddr = UnsafeTransfer(out), bAddr = UnsafeTransfer(B), qAddr = UnsafeTransfer(Q)
                parallelRanges(mq, threads: workers) { lo, hi in
                    for i in lo ..< hi {
                        let q = qAddr.value + (q0 + i) * d
                        var exact = heaps.withHeap(i) { top in top.sorted() }.map { c -> (Double, Int) in
                            let b = bAddr.value + Int(c.id) * d
                            var s = 0.0
                            if metric == .l2 {
                                for t in 0 ..< d { let x = Double(q[t]) - Double(b[t]); s += x * x }
                            } else {
                                for t in 0 ..< d { s -= Double(q[t]) * Double(b[t]) }
                            }
                            return (s, Int(c.id))
                        }
                        exact.sort { $0 < $1 }
                        for r in 0 ..< k { outAddr.value[(q0 + i) * k + r] = Int32(exact[r].1) }
                    }
                }
            }
        }}}}}
        return try BenchNeighborRows(width: k, ids: result)
    }
}

/// Squared norms of `n` rows of `d` floats.
@inline(__always)
func benchNormsSquared(_ base: UnsafePointer<Float>, _ n: Int, _ d: Int, _ out: UnsafeMutablePointer<Float>) {
    vdb_norm_sq_batch(base, n, d, out)
}

/// One `TopK` per query of a block, each touched by exactly one worker at a time.
final class BenchHeapBox: @unchecked Sendable {
    private let heaps: UnsafeMutablePointer<TopK>
    private let count: Int
    init(count: Int, k: Int) {
        self.count = count
        heaps = .allocate(capacity: count)
        heaps.initialize(repeating: TopK(k: k), count: count)
    }
    deinit {
        heaps.deinitialize(count: count)
        heaps.deallocate()
    }
    /// Runs `body` on heap `i`; callers never touch the same `i` from two threads at once.
    @inline(__always)
    func withHeap<R>(_ i: Int, _ body: (inout TopK) -> R) -> R { body(&heaps[i]) }
}
