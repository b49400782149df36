import Foundation
import Testing
@testable import VDBCore

@Suite struct StorageTests {
    @Test(arguments: [Metric.l2, .ip, .cosine])
    func flatSearchMatchesBruteForce(metric: Metric) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let d = 24
        let base = randomVectors(700, d, seed: 1)  // > 2 blocks at this dimension? no: many slots per block
        let c = try db.createCollection(name: "c", dimension: d, metric: metric)
        let ids = try c.insert(base)
        #expect(ids == (0..<700).map(UInt64.init))
        #expect(try c.count() == 700)
        let queries = randomVectors(20, d, seed: 2)
        let batch = try c.search(batch: queries, k: 7, parameters: SearchParameters(threads: 2))
        for (qi, q) in queries.enumerated() {
            let hits = try c.search(q, k: 7)
            let expected = bruteForce(base, ids: ids, q, k: 7, metric: metric)
            #expect(hits.map(\.id) == expected.map(\.0))
            for (h, e) in zip(hits, expected) { #expect(abs(Double(h.distance) - e.1) < 1e-4 * max(1, abs(e.1))) }
            #expect(batch[qi] == hits)
        }
    }

    @Test func blocksSpanManySlotsAndSlotsAreReused() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let d = 300  // 8 + 1200 bytes per row: ~216 slots per 64-page block
        let c = try db.createCollection(name: "big", dimension: d, metric: .l2)
        let base = randomVectors(1000, d, seed: 3)
        // Several batches, so partial blocks are rewritten.
        for start in stride(from: 0, to: 1000, by: 300) {
            try c.insert(Array(base[start..<min(1000, start + 300)]))
        }
        #expect(try c.count() == 1000)
        #expect(try c.info().slotsPerBlock > 1)
        // Row norms cached for batch search must follow writes: make id 1 long, search (fills the
        // cache), shrink it back, search again.
        try c.upsert([base[1].map { $0 * 10 }], ids: [1])
        #expect(try c.search(batch: [base[1].map { $0 * 10 }, base[2]], k: 1).map { $0.first?.id } == [1, 2])
        try c.upsert([base[1]], ids: [1])
        let back = try c.search(batch: [base[1], base[2]], k: 1)
        #expect(back.map { $0.first?.id } == [1, 2] && back[0].first?.distance == 0)
        let deleted = try c.delete(ids: Array(stride(from: 0, to: 1000, by: 3)).map(UInt64.init) + [5_000_000])
        #expect(deleted == 334)
        #expect(try c.count() == 666)
        #expect(try c.get(id: 0) == nil)
        #expect(try c.contains(ids: [0, 1, 2, 3, 4]) == [false, true, true, false, true])
        #expect(try c.get(id: 1)?.vector == base[1])
        let q = base[3]  // a deleted vector: it must not come back
        let hits = try c.search(q, k: 5)
        #expect(!hits.contains { $0.id % 3 == 0 })
        // Batch search (sgemm over panels of several blocks, with holes) equals single-query search.
        let qs = randomVectors(9, d, seed: 9) + [base[4], base[998]]
        let batch = try c.search(batch: qs, k: 12, parameters: SearchParameters(threads: 2))
        for (i, q) in qs.enumerated() { #expect(batch[i] == (try c.search(q, k: 12))) }
        #expect(batch[9].first?.id == 4 && batch[10].first?.id == 998)
        // New vectors reuse freed slots: the slot high-water mark does not move.
        let before = try db.env.read { try c.state($0).highSlot }
        let newIDs = try c.insert(randomVectors(334, d, seed: 4))
        #expect(newIDs.first == 1000)
        let after = try db.env.read { try c.state($0).highSlot }
        #expect(before == after)
        #expect(try c.count() == 1000)
        let again = try c.search(try #require(try c.get(id: 1200)).vector, k: 1)
        #expect(again.first?.id == 1200)
        #expect(again.first?.distance == 0)
    }

    @Test func metadataUpsertAndIds() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "m", dimension: 3, metric: .l2)
        let meta: Metadata = ["file": "a.jpg", "size": 1234, "score": 0.5, "ok": true, "ü": "naïve ✓"]
        try c.insert([[1, 0, 0], [0, 1, 0]], ids: [10, 20], metadata: [meta, nil])
        #expect(try c.get(id: 10)?.metadata == meta)
        #expect(try c.get(id: 20)?.metadata == [:])
        let hit = try c.search([1, 0, 0.1], k: 1)[0]
        #expect(hit.id == 10 && hit.metadata == meta)
        // Auto ids continue after the largest id.
        #expect(try c.insert([[0, 0, 1]]) == [21])
        // Upsert replaces the vector and the metadata, keeps the count.
        try c.upsert([[5, 5, 5], [7, 7, 7]], ids: [10, 99], metadata: [["v": 2], nil])
        #expect(try c.count() == 4)
        #expect(try c.get(id: 10)?.vector == [5, 5, 5])
        #expect(try c.get(id: 10)?.metadata == ["v": 2])
        #expect(try c.search([7, 7, 7], k: 1)[0].id == 99)
        // Filter during search.
        let filtered = try c.search([1, 0, 0], k: 3) { id, m in m["v"] == nil && id != 20 }
        #expect(!filtered.contains { $0.id == 10 || $0.id == 20 })
        #expect(filtered.count == 2)
    }

    @Test func tiesGoToSmallerID() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "t", dimension: 2, metric: .l2)
        try c.insert([[1, 1], [1, 1], [1, 1], [0, 0]], ids: [9, 3, 7, 1])
        #expect(try c.search([1, 1], k: 2).map(\.id) == [3, 7])
        // k larger than the collection: every vector, best first; empty collection: no hits.
        #expect(try c.search([0, 0], k: 100).map(\.id) == [1, 3, 7, 9])
        #expect(try c.search(batch: [[0, 0], [1, 1]], k: 100).map { $0.map(\.id) } == [[1, 3, 7, 9], [3, 7, 9, 1]])
        let empty = try db.createCollection(name: "empty", dimension: 2, metric: .ip)
        #expect(try empty.search([1, 0], k: 5).isEmpty)
        #expect(try empty.search(batch: [[1, 0], [0, 1]], k: 5) == [[], []])
        #expect(try c.search(batch: [[1, 1], [1, 1]], k: 2, parameters: SearchParameters(threads: 2)).map { $0.map(\.id) } == [[3, 7], [3, 7]])
    }

    @Test func reopenAndDrop() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let base = randomVectors(50, 8, seed: 5)
        do {
            let db = try Database(path: tmp.path)
            try db.createCollection(name: "a", dimension: 8, metric: .cosine).insert(base)
            try db.createCollection(name: "b", dimension: 4, metric: .ip)
        }
        let db = try Database(path: tmp.path)
        #expect(try db.collectionNames() == ["a", "b"])
        let a = try db.collection(named: "a")
        #expect(a.metric == .cosine && a.dimension == 8)
        #expect(try a.count() == 50)
        #expect(try a.search(base[7], k: 1)[0].id == 7)
        try db.dropCollection(named: "a")
        #expect(throws: VDBError.collectionNotFound("a")) { try a.count() }
        #expect(throws: VDBError.collectionNotFound("a")) { try a.get(id: 1) }
        #expect(throws: VDBError.collectionNotFound("a")) { try a.insert([base[0]]) }
        #expect(throws: VDBError.collectionNotFound("a")) { try a.search(base[0], k: 1) }
        #expect(throws: VDBError.collectionNotFound("a")) { try db.collection(named: "a") }
        let a2 = try db.createCollection(name: "a", dimension: 2, metric: .l2)
        #expect(try a2.count() == 0)
        #expect(try db.collections().map(\.name) == ["a", "b"])
    }

    @Test func mapGrowsByItself() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path, initialMapSize: 1 << 20)
        let c = try db.createCollection(name: "g", dimension: 256, metric: .l2)
        let v = randomVectors(1000, 256, seed: 6)
        for i in stride(from: 0, to: 1000, by: 250) { try c.insert(Array(v[i..<(i + 250)])) }
        #expect(try c.count() == 1000)
        #expect(db.mapSize > 1 << 20)
        #expect(try c.get(id: 999)?.vector == v[999])
    }
}

@Suite struct ErrorTests {
    @Test func badInputsGetTheirErrors() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "e", dimension: 3, metric: .cosine)
        #expect(throws: VDBError.dimensionMismatch(expected: 3, got: 2, index: 1)) { try c.insert([[1, 2, 3], [1, 2]]) }
        #expect(throws: VDBError.nonFiniteComponent(index: 1, component: 2)) { try c.insert([[1, 2, 3], [1, 2, .nan]]) }
        #expect(throws: VDBError.nonFiniteComponent(index: nil, component: 0)) { try c.insert([[.infinity, 2, 3]]) }
        #expect(throws: VDBError.zeroVector(index: nil)) { try c.insert([[0, 0, 0]]) }
        #expect(try c.count() == 0)  // nothing half-written
        try c.insert([[1, 2, 3]], ids: [4])
        #expect(throws: VDBError.duplicateID(4)) { try c.insert([[1, 1, 1], [1, 2, 3]], ids: [5, 4]) }
        #expect(try c.count() == 1)  // the whole call failed
        #expect(throws: VDBError.repeatedID(6)) { try c.insert([[1, 1, 1], [1, 2, 3]], ids: [6, 6]) }
        #expect(throws: VDBError.invalidK(0)) { try c.search([1, 2, 3], k: 0) }
        #expect(throws: VDBError.invalidK(-3)) { try c.search(batch: [[1, 2, 3]], k: -3) }
        #expect(throws: VDBError.dimensionMismatch(expected: 3, got: 4, index: nil)) { try c.search([1, 2, 3, 4], k: 1) }
        #expect(throws: VDBError.nonFiniteComponent(index: nil, component: 1)) { try c.search([1, .nan, 3], k: 1) }
        #expect(throws: VDBError.collectionNotFound("nope")) { try db.collection(named: "nope") }
        #expect(throws: VDBError.collectionExists("e")) { try db.createCollection(name: "e", dimension: 3, metric: .l2) }
        #expect(throws: VDBError.invalidCollectionName("a b")) { try db.createCollection(name: "a b", dimension: 3, metric: .l2) }
        #expect(throws: VDBError.invalidCollectionName("")) { try db.createCollection(name: "", dimension: 3, metric: .l2) }
        #expect(throws: VDBError.invalidArgument("dimension must be between 1 and 65536 (got 0)")) {
            try db.createCollection(name: "z", dimension: 0, metric: .l2)
        }
        #expect(throws: VDBError.collectionNotFound("nope")) { try db.dropCollection(named: "nope") }
    }

    @Test func notADatabaseAndIncompatibleFormat() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        // A non-empty directory without data.mdb.
        try FileManager.default.createDirectory(atPath: tmp.sub("photos"), withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: tmp.sub("photos/readme.txt")))
        #expect { try Database(path: tmp.sub("photos")) } throws: { e in
            guard case VDBError.notADatabase = e else { return false }
            return "\(e)".contains("not a vdb database")
        }
        // A regular file.
        #expect { try Database(path: tmp.sub("photos/readme.txt")) } throws: { e in
            if case VDBError.notADatabase = e { return true } else { return false }
        }
        // A data.mdb that is not LMDB.
        try FileManager.default.createDirectory(atPath: tmp.sub("junk"), withIntermediateDirectories: true)
        try Data(repeating: 7, count: 16384).write(to: URL(fileURLWithPath: tmp.sub("junk/data.mdb")))
        #expect { try Database(path: tmp.sub("junk")) } throws: { e in
            if case VDBError.notADatabase = e { return true } else { return false }
        }
        // Another format version.
        do {
            let db = try Database(path: tmp.sub("old"))
            try db._setFormatVersion(99)
        }
        #expect(throws: VDBError.incompatibleFormat(path: tmp.sub("old"), found: 99, supported: 2)) {
            try Database(path: tmp.sub("old"))
        }
    }
}
