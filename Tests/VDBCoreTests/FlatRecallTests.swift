import Foundation
import Testing
@testable import VDBCore

/// Exact search on seeded synthetic embeddings-like data (clustered, 10k x 256, many blocks)
/// against brute-force ground truth: batch (BLAS) and single-query paths agree with it and with
/// each other, and the file stays close to the raw float32 size.
@Suite struct FlatRecallTests {
    static func recallAt10(_ results: [[SearchHit]], _ gt: [[UInt32]]) -> Double {
        var hit = 0
        for (r, g) in zip(results, gt) {
            let truth = Set(g.prefix(10).map { UInt64($0) })
            hit += r.prefix(10).filter { truth.contains($0.id) }.count
        }
        return Double(hit) / Double(10 * results.count)
    }

    @Test(arguments: [Metric.l2, .cosine])
    func flatRecallOnSyntheticData(metric: Metric) throws {
        let n = 10_000, d = 256, nq = 200
        let data = IndexTestSet(dim: d, clusters: 40, seed: 99, base: n, queries: nq)
        let kernel = metric.kernel
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "dev", dimension: d, metric: metric)
        try c.insert(contiguous: Array(data.baseL2[0..<(n / 2 * d)]))
        try c.insert(contiguous: Array(data.baseL2[(n / 2 * d)...]))
        #expect(try c.count() == n)
        // Ground truth: cosine collections store normalized vectors (ids are row numbers).
        let gt = data.groundTruth(kernel)

        // Batch (BLAS) over all queries on 2 threads.
        let batch = try c.search(contiguous: data.queriesL2, k: 10, parameters: SearchParameters(threads: 2))
        let recall = Self.recallAt10(batch, gt)
        #expect(recall >= 0.999, "recall@10 \(recall) for \(metric)")
        // Single-query path (SIMD kernels) on a subset: same answers, same distances.
        for qi in stride(from: 0, to: nq, by: 10) {
            let q = Array(data.queriesL2[(qi * d)..<((qi + 1) * d)])
            #expect(try c.search(q, k: 10) == batch[qi])
        }
        // Distances are ordered by the metric.
        for r in batch {
            let dist = r.map(\.distance)
            #expect(metric == .l2 ? dist == dist.sorted() : dist == dist.sorted(by: >))
        }
        // Storage overhead on disk for the raw float32 data.
        let ratio = Double(db.bytesOnDisk) / Double(n * d * 4)
        #expect(ratio <= 1.15, "data.mdb / raw float32 = \(ratio)")
    }
}
