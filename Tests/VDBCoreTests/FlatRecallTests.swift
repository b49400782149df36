import Foundation
import Testing
@testable import VDBCore

/// Exact search on the real ann-dev set (50k x 384 MiniLM vectors) against its ground truth.
@Suite(.serialized) struct FlatRecallTests {
    static func recallAt10(_ results: [[SearchHit]], _ gt: [[Int32]]) -> Double {
        var hit = 0
        for (r, g) in zip(results, gt) {
            let truth = Set(g.prefix(10).map { UInt64($0) })
            hit += r.prefix(10).filter { truth.contains($0.id) }.count
        }
        return Double(hit) / Double(10 * results.count)
    }

    @Test(arguments: [Metric.l2, .cosine])
    func flatRecallOnAnnDev(metric: Metric) throws {
        guard let dir = annDevDirectory() else {
            print("skipping flatRecallOnAnnDev: ann-dev not found (set VDB_ANN_DEV or put it at ../shared/data/ann-dev)")
            return
        }
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "dev", dimension: 384, metric: metric)
        let reader = try VectorFiles.open(dir.appendingPathComponent("base.fvecs").path)
        while let chunk = try reader.next(maxCount: 25_000) { try c.insert(contiguous: chunk.vectors) }
        #expect(try c.count() == 50_000)
        let queries = try VectorFiles.readAll(dir.appendingPathComponent("query.fvecs").path)
        let gt = try VectorFiles.readIvecs(dir.appendingPathComponent(metric == .l2 ? "gt_l2.ivecs" : "gt_ip.ivecs").path)
        #expect(queries.count == 1000 && gt.count == 1000)

        // Batch (BLAS) over all 1000 queries on 2 threads.
        let batch = try c.search(contiguous: queries.vectors, k: 10, parameters: SearchParameters(threads: 2))
        let recall = Self.recallAt10(batch, gt)
        #expect(recall >= 0.999, "recall@10 \(recall) for \(metric)")
        // Single-query path (SIMD kernels) on a subset: same answers, same distances.
        for qi in stride(from: 0, to: 1000, by: 50) {
            let q = Array(queries.vectors[(qi * 384)..<((qi + 1) * 384)])
            let single = try c.search(q, k: 10)
            #expect(single == batch[qi])
        }
        // Distances are ordered by the metric.
        for r in batch {
            let d = r.map(\.distance)
            #expect(metric == .l2 ? d == d.sorted() : d == d.sorted(by: >))
        }
        // Storage overhead on disk for the raw float32 data.
        let ratio = Double(db.bytesOnDisk) / Double(50_000 * 384 * 4)
        print("ann-dev \(metric): recall@10 \(recall), data.mdb / raw float32 = \(String(format: "%.3f", ratio))")
        #expect(ratio <= 1.15)
    }
}
