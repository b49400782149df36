import Foundation
import Testing
@testable import VDBCore

/// Sizes from flags and requests are capped or refused before anything is allocated for them.
@Suite struct HostileInputTests {
    @Test(arguments: [IndexKind.flat, .hnsw, .ivfFlat])
    func hugeKIsCappedAtTheCollectionSize(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
        #expect(try c.search([0, 0, 0, 0], k: Int.max).isEmpty)
        let base = randomVectors(30, 4, seed: 1)
        try c.insert(base)
        if kind != .flat { try c.buildIndex(kind: kind, parameters: IndexParameters(nlist: 4, m: 4, efConstruction: 16, buildThreads: 1)) }
        let exact = bruteForce(base, ids: (0..<30).map(UInt64.init), base[3], k: 30, metric: .l2).map(\.0)
        for k in [30, 31, 4_294_967_296, Int.max] {
            let wide = SearchParameters(nprobe: Int.max, ef: Int.max, rerank: true, rerankFactor: Int.max)
            for p in [SearchParameters(nprobe: 4), wide] {
                let hits = try c.search(base[3], k: k, parameters: p)
                #expect(hits.count == 30)
                if kind == .flat || p == wide { #expect(hits.map(\.id) == exact) }
            }
            #expect(try c.search(batch: [base[3], base[4]], k: k).map(\.count) == [30, 30])
            #expect(try c.search(base[3], k: k, filter: { id, _ in id < 5 }).map(\.id).sorted() == [0, 1, 2, 3, 4])
        }
        try c.delete(ids: Array(0..<30))
        #expect(try c.search(base[3], k: Int.max).isEmpty)
    }

    @Test func cosineVectorsNearTheFloatLimitsNormalize() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let c = try Database(path: tmp.path).createCollection(name: "c", dimension: 3, metric: .cosine)
        try c.insert([[3e38, 3e38, 0], [1e-30, 0, -1e-30], [-3.4e38, 1, 0], [Float.leastNonzeroMagnitude, 0, 0]], ids: [1, 2, 3, 4])
        let s = Float(0.5).squareRoot()
        for (id, want) in [(UInt64(1), [s, s, 0]), (2, [s, 0, -s]), (3, [-1, 0, 0]), (4, [1, 0, 0])] {
            let v = try #require(try c.get(id: id)).vector
            for j in 0..<3 { #expect(abs(v[j] - Float(want[j])) < 1e-6, "id \(id): \(v)") }
        }
        #expect(try c.search([2e38, 2e38, 0], k: 1).first?.id == 1)
        #expect(throws: VDBError.zeroVector(index: nil)) { try c.insert([[0, 0, 0]]) }
    }

    @Test func diskFullSaysTheWriteWasRolledBack() {
        let e = VDBError.diskFull(path: "/db")
        #expect(e.description == "no space left on the device holding /db; this write was rolled back (nothing of it was stored)")
        #expect(!e.description.contains("unchanged"))
    }
}
