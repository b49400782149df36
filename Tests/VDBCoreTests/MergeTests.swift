import Foundation
import Testing
@testable import VDBCore

/// `Database.merge` and shared-centroid IVF: shards combine into what one database would hold.
@Suite struct MergeTests {
    static let d = 8

    /// `n` vectors with ids, split over `shards` databases by id (as `--shard` splits a folder),
    /// plus one database holding them all.
    func makeShards(_ tmp: TempDir, n: Int = 1200, shards: Int = 3, metric: Metric = .cosine, seed: UInt64 = 5)
        throws -> (single: Collection, shards: [Database], vectors: [[Float]], ids: [UInt64]) {
        let vectors = randomVectors(n, Self.d, seed: seed)
        let ids = (0..<n).map { UInt64($0) &* 0x9E37_79B9 &+ 11 }
        let metas: [Metadata?] = (0..<n).map { ["n": .int(Int64($0)), "tag": .string("t\($0 % 5)")] }
        let single = try Database(path: tmp.sub("single")).createCollection(name: "c", dimension: Self.d, metric: metric)
        try single.insert(vectors, ids: ids, metadata: metas)
        try single.setProperties(["model.fingerprint": "fp1"])
        var dbs: [Database] = []
        for s in 0..<shards {
            let db = try Database(path: tmp.sub("shard\(s)"))
            let c = try db.createCollection(name: "c", dimension: Self.d, metric: metric)
            let mine = (0..<n).filter { Int(ids[$0] % UInt64(shards)) == s }
            try c.insert(mine.map { vectors[$0] }, ids: mine.map { ids[$0] }, metadata: mine.map { metas[$0] })
            try c.setProperties(["model.fingerprint": "fp1", "shard": "\(s)"])
            dbs.append(db)
        }
        return (single, dbs, vectors, ids)
    }

    @Test func mergedCollectionHoldsTheSameAndSearchesTheSame() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let (single, shards, _, ids) = try makeShards(tmp)
        let out = try Database(path: tmp.sub("out"))
        var phases = Set<MergeProgress.Phase>()
        let summary = try out.merge(shards: shards, options: MergeOptions(batchSize: 100)) { phases.insert($0.phase) }
        #expect(summary.collections.map(\.name) == ["c"])
        #expect(summary.collections[0].count == ids.count && summary.collections[0].duplicates == 0)
        #expect(summary.collections[0].indexMerge == .none && phases == [.copying])
        let merged = try out.collection(named: "c")
        #expect(try merged.properties()["model.fingerprint"] == "fp1")
        // Same vectors (bit for bit: cosine vectors are not normalized a second time) and metadata.
        for id in ids.prefix(200) {
            let a = try #require(try single.get(id: id)), b = try #require(try merged.get(id: id))
            #expect(a.vector.map(\.bitPattern) == b.vector.map(\.bitPattern) && a.metadata == b.metadata)
        }
        // Same exact top-k, ids and distances.
        for q in randomVectors(20, Self.d, seed: 99) {
            let x = try single.search(q, k: 10), y = try merged.search(q, k: 10)
            #expect(x.map(\.id) == y.map(\.id) && x.map(\.distance) == y.map(\.distance))
        }
    }

    @Test func idsInSeveralShardsAreStoredOnceFromTheFirst() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let a = try Database(path: tmp.sub("a")), b = try Database(path: tmp.sub("b"))
        try a.createCollection(name: "c", dimension: 2, metric: .l2).insert([[1, 0], [2, 0]], ids: [1, 2], metadata: [["from": "a"], ["from": "a"]])
        try b.createCollection(name: "c", dimension: 2, metric: .l2).insert([[9, 9], [3, 0]], ids: [2, 3], metadata: [["from": "b"], ["from": "b"]])
        try b.createCollection(name: "c.captions", dimension: 2, metric: .l2).insert([[1, 1]], ids: [3])
        let out = try Database(path: tmp.sub("out"))
        let s = try out.merge(shards: [a, b], options: MergeOptions(collections: ["c"]))
        #expect(s.collections.map(\.name) == ["c", "c.captions"], "the captions companion comes along")
        #expect(s.collections[0].count == 3 && s.collections[0].duplicates == 1)
        #expect(s.collections[0].shards == [tmp.sub("a"), tmp.sub("b")])
        let c = try out.collection(named: "c")
        #expect(try c.get(id: 2)?.vector == [2, 0] && c.get(id: 2)?.metadata == ["from": "a"])
        #expect(try c.get(id: 3)?.metadata == ["from": "b"])
    }

    @Test func mismatchedShardsAreRefusedByName() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let a = try Database(path: tmp.sub("a"))
        try a.createCollection(name: "c", dimension: 4, metric: .cosine).setProperties(["clip.model.fingerprint": "one"])
        let dim = try Database(path: tmp.sub("dim"))
        try dim.createCollection(name: "c", dimension: 3, metric: .cosine)
        let metric = try Database(path: tmp.sub("metric"))
        try metric.createCollection(name: "c", dimension: 4, metric: .l2)
        let model = try Database(path: tmp.sub("model"))
        try model.createCollection(name: "c", dimension: 4, metric: .cosine).setProperties(["clip.model.fingerprint": "two"])
        func message(_ shards: [Database]) -> String {
            do { _ = try Database(path: tmp.sub("out-\(UUID())")).merge(shards: shards); return "" } catch { return "\(error)" }
        }
        #expect(message([a, dim]).contains("shard \(tmp.sub("dim")): collection 'c' has dimension 3"))
        #expect(message([a, metric]).contains("shard \(tmp.sub("metric")): collection 'c' uses metric l2"))
        let m = message([a, model])
        #expect(m.contains("shard \(tmp.sub("model"))") && m.contains("model two") && m.contains("same model"))
        #expect(message([a, a]) == "", "the same shard twice is allowed (every id is a duplicate)")
        #expect(message([]).contains("at least one shard"))
        // The output must not hold the collection already, nor be a shard.
        let out = try Database(path: tmp.sub("out"))
        _ = try out.merge(shards: [a])
        #expect(throws: VDBError.self) { try out.merge(shards: [a]) }
        #expect(throws: VDBError.self) { try a.merge(shards: [a]) }
    }

    /// The list each id is in, and its encoded entry, read from the collection's IVF core.
    func lists(_ c: Collection) throws -> [UInt64: (list: Int, entry: [UInt8])] {
        try c.withSnapshot { snap in
            let core = try #require(try snap.index() as? IVFIndexBase).core
            var byID: [UInt64: (Int, [UInt8])] = [:]
            var idOfSlot: [UInt32: UInt64] = [:]
            try snap.forEachSlot { slot, id in idOfSlot[slot] = id }
            for l in 0..<core.nlist {
                for (p, s) in core.listSlots[l].enumerated() {
                    byID[try #require(idOfSlot[s])] = (l, Array(core.listData[l].bytes[(p * core.entryBytes)..<((p + 1) * core.entryBytes)]))
                }
            }
            return byID
        }
    }

    @Test(arguments: [IndexKind.ivfFlat, .ivfSQ8])
    func sharedCentroidListsConcatenate(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let (single, shards, _, ids) = try makeShards(tmp, metric: .l2)
        let shardCollections = try shards.map { try $0.collection(named: "c") }
        let q = try IVFQuantizer.train(collections: shardCollections, kind: kind, nlist: 16, sample: 600, seed: 3)
        #expect(q.nlist == 16 && q.trainedOn == 600 && q.fingerprint == "fp1" && q.metric == .l2)
        // The file round trip is exact.
        try q.write(to: tmp.sub("c.ivfq"))
        let shared = try IVFQuantizer(contentsOf: tmp.sub("c.ivfq"))
        #expect(shared == q)
        let params = IndexParameters(nlist: shared.nlist, quantizer: shared)
        for c in shardCollections { try c.buildIndex(kind: kind, parameters: params) }
        try single.buildIndex(kind: kind, parameters: params)
        let reread = try Database(path: tmp.sub("single")).collection(named: "c").info()
        #expect(reread.parameters.quantizer == nil && reread.parameters.nlist == 16, "the catalog keeps nlist, not the quantizer")

        let out = try Database(path: tmp.sub("out"))
        let s = try out.merge(shards: shards)
        #expect(s.collections[0].indexMerge == .concatenated && s.collections[0].index == kind)
        let merged = try out.collection(named: "c")
        #expect(try merged.info().indexBuilt && merged.activeIndexKind == kind)
        // The installed index and its slot table show exactly the stored slots.
        try merged.checkIndexInvariants()
        // The same lists as a single build with the same centroids, entries byte for byte.
        let a = try lists(single), b = try lists(merged)
        #expect(a.count == ids.count && b.count == ids.count)
        for id in ids {
            let x = try #require(a[id]), y = try #require(b[id])
            #expect(x.list == y.list && x.entry == y.entry, "id \(id)")
        }
        // So the same results at the same nprobe.
        for query in randomVectors(20, Self.d, seed: 7) {
            let p = SearchParameters(nprobe: 3)
            #expect(try single.search(query, k: 10, parameters: p).map(\.id) == merged.search(query, k: 10, parameters: p).map(\.id))
        }
        // A fresh process-like reopen reads the installed records.
        let reopened = try Database(path: tmp.sub("out")).collection(named: "c")
        #expect(try reopened.info().indexMemoryBytes > 0)
        // Writes after the merge keep index and slot table in step with storage.
        try merged.insert([[Float](repeating: 0.5, count: Self.d)], ids: [1])
        #expect(try merged.delete(ids: Array(ids.prefix(50))) == 50)
        try merged.checkIndexInvariants()
        let afterWrites = try merged.search([Float](repeating: 0.5, count: Self.d), k: 1, parameters: SearchParameters(nprobe: 16))
        #expect(afterWrites.first?.id == 1)
    }

    @Test func differentCentroidsRetrainAndHNSWRebuilds() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let (_, shards, _, ids) = try makeShards(tmp, n: 600, shards: 2, metric: .l2)
        for (i, db) in shards.enumerated() {
            try db.collection(named: "c").buildIndex(kind: .ivfFlat, parameters: IndexParameters(nlist: 8, seed: UInt64(i)))
        }
        let s = try Database(path: tmp.sub("out")).merge(shards: shards)
        #expect(s.collections[0].indexMerge == .retrained && s.collections[0].count == ids.count)

        let htmp = TempDir(); defer { htmp.cleanup() }
        let (_, hshards, _, _) = try makeShards(htmp, n: 300, shards: 2, metric: .l2)
        for db in hshards { try db.collection(named: "c").buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 40)) }
        let out = try Database(path: tmp.sub("hout"))
        var indexing = false
        let h = try out.merge(shards: hshards) { if $0.phase == .indexing { indexing = true } }
        #expect(h.collections[0].indexMerge == .rebuilt && indexing)
        #expect(try out.collection(named: "c").activeIndexKind == .hnsw)
    }

    @Test func quantizerFilesAreChecked() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try FileManager.default.createDirectory(at: tmp.url, withIntermediateDirectories: true)
        let q = try IVFQuantizer(kind: .ivfSQ8, metric: .cosine, dimension: 2, centroids: [1, 0, 0, 1], vmin: [0, 0], vdiff: [1, 1], fingerprint: "m")
        try q.write(to: tmp.sub("q"))
        #expect(try IVFQuantizer(contentsOf: tmp.sub("q")) == q)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: tmp.sub("q")))
        bytes[bytes.count - 12] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: tmp.sub("bad")))
        #expect(throws: VDBError.badInput(path: tmp.sub("bad"), message: "not a vdb centroids file: checksum mismatch (truncated or damaged copy?)")) {
            _ = try IVFQuantizer(contentsOf: tmp.sub("bad"))
        }
        // A quantizer for another kind, dimension or metric is refused by the build.
        let c = try Database(path: tmp.sub("db")).createCollection(name: "c", dimension: 2, metric: .l2)
        try c.insert([[1, 0], [0, 1]])
        #expect(throws: VDBError.invalidArgument("the centroids were trained for ivf_sq8, not ivf_flat: build with --type ivf_sq8 or train again")) {
            try c.buildIndex(kind: .ivfFlat, parameters: IndexParameters(nlist: 2, quantizer: q))
        }
        #expect(throws: VDBError.self) { try c.buildIndex(kind: .ivfSQ8, parameters: IndexParameters(nlist: 2, quantizer: q)) }
    }
}
