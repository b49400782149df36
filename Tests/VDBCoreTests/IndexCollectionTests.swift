import Foundation
import Testing
@testable import VDBCore

/// The real indexes through the storage engine: build, search, insert/delete through the index,
/// reopen from LMDB without a rebuild, SQ8 re-ranking from the search's snapshot.
@Suite struct IndexCollectionTests {
    @Test(arguments: [IndexKind.hnsw, .ivfFlat, .ivfSQ8])
    func indexThroughCollection(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let d = 16
        let base = randomVectors(1200, d, seed: 21)
        let params = IndexParameters(nlist: 16, m: 8, efConstruction: 64, seed: 3, buildThreads: 1)
        let sp = SearchParameters(nprobe: 16, ef: 64, rerank: kind == .ivfSQ8)
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "v", dimension: d, metric: .cosine, index: kind, parameters: params)
            try c.insert(Array(base[0..<1000]))
            try c.buildIndex(kind: kind, parameters: params)
            #expect(c.activeIndexKind == kind)
            try c.insert(Array(base[1000...]))              // added through the index
            #expect(try c.delete(ids: [0, 1, 2]) == 3)      // removed through the index
            let info = try c.info()
            #expect(info.count == 1197 && info.indexBuilt && info.indexMemoryBytes > 0)
            // nprobe = nlist (exact lists) / large ef: the index answers like brute force.
            for qi in [5, 500, 1100] {
                let hits = try c.search(base[qi], k: 5, parameters: sp)
                let exact = bruteForce(Array(base[3...]), ids: (3..<1200).map(UInt64.init), base[qi], k: 5, metric: .cosine)
                #expect(hits.map(\.id) == exact.map(\.0), "\(kind) query \(qi)")
                if kind != .ivfSQ8 || sp.rerank {
                    // Reported distances are exact cosine similarities.
                    #expect(abs(Double(hits[0].distance) - exact[0].1) < 1e-4)
                }
            }
            #expect(try c.search(base[0], k: 10, parameters: sp).allSatisfy { $0.id > 2 })
        }
        // Reopen: the index is loaded from its records, not rebuilt.
        let db = try Database(path: tmp.path)
        let c = try db.collection(named: "v")
        #expect(c.activeIndexKind == kind)
        let hits = try c.search(base[1199], k: 3, parameters: sp)
        #expect(hits.first?.id == 1199)
        #expect(try c.search(base[1], k: 10, parameters: sp).allSatisfy { $0.id > 2 })
        // Parameter errors reach the caller as typed index errors.
        #expect(throws: IndexError.self) {
            try c.search(base[0], k: 10, parameters: SearchParameters(nprobe: 0, ef: 5))
        }
    }
}
