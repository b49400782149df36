import Foundation
import Testing
@testable import VDBCore

/// The real indexes through the storage engine: build, search, insert/upsert/delete through the
/// index (invariants checked after each), reopen from LMDB without a rebuild, re-ranking from the
/// search's snapshot.
@Suite struct IndexCollectionTests {
    @Test(arguments: [IndexKind.hnsw, .ivfFlat, .ivfSQ8])
    func indexThroughCollection(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let d = 16
        let base = randomVectors(1200, d, seed: 21)
        let params = IndexParameters(nlist: 16, m: 8, efConstruction: 64, seed: 3, buildThreads: 1)
        // nprobe = nlist (exact lists) / large ef; IVF_SQ8 re-ranks with the stored vectors.
        let sp = SearchParameters(nprobe: 16, ef: 64, rerank: kind == .ivfSQ8)
        let moved = base[700].map { -$0 }  // id 700 gets a new vector
        var live = base
        live[700] = moved
        func check(_ c: Collection, _ removed: Set<UInt64>) throws {
            let ids = (0..<1200).map(UInt64.init).filter { !removed.contains($0) }
            let vectors = ids.map { live[Int($0)] }
            for qi in [5, 500, 700, 1100] {
                let hits = try c.search(live[qi], k: 5, parameters: sp)
                let exact = bruteForce(vectors, ids: ids, live[qi], k: 5, metric: .cosine)
                #expect(hits.map(\.id) == exact.map(\.0), "\(kind) query \(qi)")
                // Reported distances are exact cosine similarities (IVF_SQ8 through re-ranking).
                for (h, e) in zip(hits, exact) { #expect(abs(Double(h.distance) - e.1) < 1e-4, "\(kind) query \(qi)") }
            }
            #expect(try c.search(live[0], k: 10, parameters: sp).allSatisfy { !removed.contains($0.id) })
        }
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "v", dimension: d, metric: .cosine, index: kind, parameters: params)
            try c.insert(Array(base[0..<1000]))
            try c.buildIndex(kind: kind, parameters: params)
            try c.checkIndexInvariants()
            #expect(c.activeIndexKind == kind)
            try c.insert(Array(base[1000...]))              // added through the index
            try c.checkIndexInvariants()
            #expect(try c.delete(ids: [0, 1, 2]) == 3)      // removed through the index
            try c.checkIndexInvariants()
            try c.upsert([moved], ids: [700])               // moved to a new slot
            try c.checkIndexInvariants()
            let info = try c.info()
            #expect(info.count == 1197 && info.indexBuilt && info.indexMemoryBytes > 0)
            try check(c, [0, 1, 2])
        }
        // Reopen: the index is loaded from its records and the stored vectors, not rebuilt.
        let db = try Database(path: tmp.path)
        let c = try db.collection(named: "v")
        #expect(c.activeIndexKind == kind)
        try check(c, [0, 1, 2])
        try c.checkIndexInvariants()
        // Parameter errors reach the caller as typed errors.
        if kind != .hnsw {
            #expect(throws: VDBError.self) { try c.search(base[0], k: 10, parameters: SearchParameters(nprobe: 0, ef: 5)) }
        }
    }
}
