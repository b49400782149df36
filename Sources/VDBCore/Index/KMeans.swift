// Seeded, deterministic k-means for the IVF coarse quantizer (after Faiss `Clustering`).

import COpenBLAS
import CVDBKernels
import Foundation
import VDBSupport

/// Lloyd's k-means (10 iterations, as Faiss uses for IVF) with Faiss-style choices: training on a random sample of at most
/// `maxPointsPerCentroid * k` points, initialisation with k distinct random sample points, the
/// assignment step as one `cblas_sgemm` per block with precomputed centroid norms, and empty
/// clusters repaired by splitting a large cluster (chosen with probability proportional to its size).
/// For inner product the centroids are re-normalized after each update (spherical k-means), and
/// points go to the centroid of largest inner product.
struct KMeans {
    let dimension: Int
    let k: Int
    var iterations = 10
    var maxPointsPerCentroid = 256
    var spherical = false
    var seed: UInt64 = 42

    /// Rows per sgemm block in the assignment step.
    static let block = 2048

    /// Trains on `n` vectors (row-major) and returns `k * dimension` centroids.
    func train(_ x: UnsafePointer<Float>, n: Int, progress: ((Double) -> Void)? = nil) -> [Float] {
        let d = dimension
        var rng = SplitMix64(seed: seed)
        // Sample without replacement (partial Fisher-Yates), deterministic for a seed.
        let sampleSize = min(n, maxPointsPerCentroid * k)
        var sample = [Float](repeating: 0, count: sampleSize * d)
        if sampleSize == n {
            sample.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: x, count: n * d) }
        } else {
            var perm = Array(0..<n)
            for i in 0..<sampleSize {
                let j = i + Int(rng.next() % UInt64(n - i))
                perm.swapAt(i, j)
            }
            let chosen = perm[0..<sampleSize].sorted()
            sample.withUnsafeMutableBufferPointer { s in
                for (r, i) in chosen.enumerated() { (s.baseAddress! + r * d).update(from: x + i * d, count: d) }
            }
        }
        let m = sampleSize
        // Initialise with k distinct sample points.
        var centroids = [Float](repeating: 0, count: k * d)
        do {
            var perm = Array(0..<m)
            for i in 0..<k {
                let j = i + Int(rng.next() % UInt64(m - i))
                perm.swapAt(i, j)
            }
            sample.withUnsafeBufferPointer { s in
                centroids.withUnsafeMutableBufferPointer { c in
                    for i in 0..<k { (c.baseAddress! + i * d).update(from: s.baseAddress! + perm[i] * d, count: d) }
                }
            }
            if spherical { Self.normalizeRows(&centroids, d: d) }
        }
        var assign = [Int32](repeating: 0, count: m)
        var sums = [Double](repeating: 0, count: k * d)
        var sizes = [Int](repeating: 0, count: k)
        for iter in 0..<iterations {
            sample.withUnsafeBufferPointer { s in
                assign.withUnsafeMutableBufferPointer { a in
                    Self.assign(s.baseAddress!, n: m, d: d, centroids: centroids, k: k, ip: spherical, out: a.baseAddress!)
                }
            }
            // Update: mean of the assigned points (double accumulation).
            for i in 0..<sums.count { sums[i] = 0 }
            for i in 0..<k { sizes[i] = 0 }
            sample.withUnsafeBufferPointer { s in
                sums.withUnsafeMutableBufferPointer { sm in
                    for i in 0..<m {
                        let c = Int(assign[i])
                        sizes[c] += 1
                        let row = s.baseAddress! + i * d
                        let acc = sm.baseAddress! + c * d
                        for j in 0..<d { acc[j] += Double(row[j]) }
                    }
                }
            }
            for c in 0..<k where sizes[c] > 0 {
                let inv = 1.0 / Double(sizes[c])
                for j in 0..<d { centroids[c * d + j] = Float(sums[c * d + j] * inv) }
            }
            Self.splitEmptyClusters(&centroids, sizes: &sizes, d: d, n: m, rng: &rng)
            if spherical { Self.normalizeRows(&centroids, d: d) }
            progress?(Double(iter + 1) / Double(iterations))
        }
        return centroids
    }

    /// Faiss's repair: an empty cluster takes half of a cluster chosen with probability
    /// proportional to (size - 1), both centroids nudged apart by a relative 1/1024.
    static func splitEmptyClusters(_ centroids: inout [Float], sizes: inout [Int], d: Int, n: Int, rng: inout SplitMix64) {
        let k = sizes.count
        guard n > k else { return }
        let eps: Float = 1.0 / 1024.0
        for ci in 0..<k where sizes[ci] == 0 {
            var cj = 0
            while true {
                let r = Double(rng.next() >> 11) / Double(1 << 53)
                let p = r * Double(n - k)
                var acc = 0.0
                cj = k - 1
                for c in 0..<k {
                    acc += Double(max(0, sizes[c] - 1))
                    if acc > p { cj = c; break }
                }
                if sizes[cj] > 1 { break }
            }
            for j in 0..<d {
                let v = centroids[cj * d + j]
                if j % 2 == 0 {
                    centroids[ci * d + j] = v * (1 + eps)
                    centroids[cj * d + j] = v * (1 - eps)
                } else {
                    centroids[ci * d + j] = v * (1 - eps)
                    centroids[cj * d + j] = v * (1 + eps)
                }
            }
            sizes[ci] = sizes[cj] / 2
            sizes[cj] -= sizes[ci]
        }
    }

    static func normalizeRows(_ x: inout [Float], d: Int) {
        x.withUnsafeMutableBufferPointer { b in
            for r in 0..<(b.count / d) {
                let p = b.baseAddress! + r * d
                let nrm = vdb_norm_sq(p, d).squareRoot()
                if nrm > 0 { for j in 0..<d { p[j] /= nrm } }
            }
        }
    }

    /// Nearest centroid of each of `n` rows: smallest L2 (|c|^2 - 2 x.c) or, with `ip`, largest x.c.
    /// One single-threaded `cblas_sgemm` per block of `block` rows, the blocks spread over the
    /// cores (vdb's BLAS policy, `vdb_blas.h`). Every block is the same call whatever the thread
    /// count, so the assignment is too.
    static func assign(_ x: UnsafePointer<Float>, n: Int, d: Int, centroids: [Float], k: Int, ip: Bool,
                       out: UnsafeMutablePointer<Int32>) {
        guard n > 0 else { return }
        var norms = [Float](repeating: 0, count: k)
        centroids.withUnsafeBufferPointer { c in
            if !ip { vdb_norm_sq_batch(c.baseAddress!, k, d, &norms) }
        }
        vdb_blas_single_thread()
        let blocks = (n + block - 1) / block
        let threads = min(blocks, ProcessInfo.processInfo.activeProcessorCount)
        centroids.withUnsafeBufferPointer { c in
            norms.withUnsafeBufferPointer { nb in
                let shared = UnsafeTransfer((x, c.baseAddress!, nb.baseAddress!, out))
                parallelRanges(blocks, threads: threads) { b0, b1 in
                    let (x, c, nb, out) = shared.value
                    let dots = UnsafeMutablePointer<Float>.allocate(capacity: min(block, n) * k)
                    defer { dots.deallocate() }
                    for blockIndex in b0..<b1 {
                        let start = blockIndex * block, rows = min(block, n - start)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(k), Int32(d),
                                    1.0, x + start * d, Int32(d), c, Int32(d), 0.0, dots, Int32(k))
                        for r in 0..<rows {
                            let row = dots + r * k
                            var best = 0
                            var bestScore = Float.infinity
                            if ip {
                                for j in 0..<k where -row[j] < bestScore { bestScore = -row[j]; best = j }
                            } else {
                                for j in 0..<k {
                                    let s = nb[j] - 2 * row[j]
                                    if s < bestScore { bestScore = s; best = j }
                                }
                            }
                            out[start + r] = Int32(best)
                        }
                    }
                }
            }
        }
    }
}
