import Dispatch
import Foundation
import Synchronization
import Testing
@testable import VDBCore
import VDBSupport

/// What a write costs the searches running beside it. A write that fills fresh slots (an insert,
/// an upsert of new ids) must leave searches of older snapshots on the fast path: no check of
/// every candidate against the slot table, no re-scoring. Before, every such commit put each
/// search of an older snapshot, and each one it overlapped, on the slow path: under `vdb serve`'s
/// load test (10 upserts of 10 vectors a second) that was about 4% of the server's CPU.
@Suite struct ConcurrentInsertCostTests {
    /// The table's own view: a fresh fill during a read neither unsettles the read nor shows the
    /// new slot to it; a free or a reuse does unsettle it, and older readers then check slots.
    @Test func onlyFreesAndReusesUnsettleReaders() {
        let t = SlotTable(baseEpoch: 0)
        t.apply(epoch: 0, assigned: [(0, 100), (1, 101), (2, 102)], freed: [])

        // Epoch 1 fills fresh slots (one in a new chunk) while a reader of epoch 0 reads.
        let fresh = t.read(epoch: 0) { v -> (Bool, Bool, UInt64?) in
            t.apply(epoch: 1, assigned: [(3, 103), (UInt32(SlotTable.chunkSize + 5), 104)], freed: [])
            return (v.showsEveryLiveSlot, v.contains(3), v.id(of: 0))
        }
        #expect(fresh.stable)
        #expect(fresh.result.0 && !fresh.result.1 && fresh.result.2 == 100)
        let after = t.read(epoch: 0) { v in (v.showsEveryLiveSlot, v.id(of: 3), v.id(of: 1)) }
        #expect(after.stable && after.result.0 && after.result.1 == nil && after.result.2 == 101)
        #expect(t.read(epoch: 1) { $0.id(of: 3) }.result == 103)
        #expect(t.checkedReads.load(ordering: .relaxed) == 0 && t.racedReads.load(ordering: .relaxed) == 0)

        // Epoch 2 frees slot 1 during a read of epoch 1: the read is unsettled, and readers of
        // snapshots before 2 must check slots from now on (the index hides slot 1 from them).
        let freeing = t.read(epoch: 1) { _ in t.apply(epoch: 2, assigned: [], freed: [1]) }
        #expect(!freeing.stable)
        let older = t.read(epoch: 1) { v in (v.showsEveryLiveSlot, v.id(of: 1)) }
        #expect(older.stable && !older.result.0 && older.result.1 == 101)
        #expect(t.read(epoch: 2) { $0.showsEveryLiveSlot }.result)

        // Epoch 3 reuses slot 1, which a reader of epoch 1 holds under id 101: the table keeps
        // one version per slot, so that reader is unsettled (and re-reads its hits from its
        // snapshot's blocks).
        let reusing = t.read(epoch: 1) { _ in t.apply(epoch: 3, assigned: [(1, 105)], freed: []) }
        #expect(!reusing.stable)
        #expect(t.read(epoch: 3) { $0.id(of: 1) }.result == 105)
        #expect(t.checkedReads.load(ordering: .relaxed) == 2)
        #expect(t.racedReads.load(ordering: .relaxed) == 2)
    }

    static func vector(_ i: UInt64) -> [Float] { SnapshotTests.vector(i, d: 12) }

    /// Runs `body` on another thread and waits for it (a write beside an open read transaction).
    static func elsewhere(_ body: @escaping @Sendable () throws -> Void) throws {
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            do { try body() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let e = failure.withLock({ $0 }) { throw e }
    }

    /// A search of a snapshot older than committed inserts answers as before them, on the fast
    /// path, even when the new vectors are its nearest (they are dropped, and the query is
    /// searched again with the slot check); after a delete it checks slots and still sees the
    /// deleted vector.
    @Test func searchesOfOlderSnapshotsStayOnTheFastPathThroughInserts() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "fresh", dimension: 12, metric: .l2)
        try c.insert((0..<UInt64(300)).map { Self.vector($0) }, ids: Array(0..<UInt64(300)))
        try c.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 64, seed: 5, buildThreads: 1))
        let wide = SearchParameters(ef: 128)
        // Re-ranking 2k candidates, with 16 new vectors nearest to queries[0]: the index proposes
        // them among its 20, and re-ranking the snapshot's rows leaves 4.
        let reranked = SearchParameters(ef: 128, rerank: true, rerankFactor: 2)
        let crowdIDs = (3000..<UInt64(3015)).map { $0 }
        let crowd = crowdIDs.map { id in Self.vector(1000).map { $0 * (1 - 1e-4 * Float(id - 2999)) } }
        // Queries whose nearest stored vectors will be the inserted ones.
        let newIDs = (1000..<UInt64(1010)).map { $0 }
        let queries = newIDs.map { Self.vector($0).map { $0 * 1.0001 } }
        let before = try queries.map { try c.search($0, k: 10, parameters: wide) }
        let beforeReranked = try c.search(queries[0], k: 10, parameters: reranked)
        let table = try #require(c.cache.withLock { $0.live?.table })

        try db.read { snapshot in
            let r = try snapshot.collection(c)
            #expect(try r.search(batch: queries, k: 10, parameters: wide) == before)
            try Self.elsewhere { try c.insert(newIDs.map { Self.vector($0) }, ids: newIDs) }
            try Self.elsewhere { try c.upsert([Self.vector(2000)] + crowd, ids: [2000] + crowdIDs) }
            // The old snapshot: the same answers, without per-slot checks or re-scoring.
            #expect(try r.search(batch: queries, k: 10, parameters: wide) == before)
            #expect(try queries.map { try r.search($0, k: 10, parameters: wide) } == before)
            #expect(try r.search(queries[0], k: 10, parameters: reranked) == beforeReranked)
            #expect(table.checkedReads.load(ordering: .relaxed) == 0)
            #expect(table.racedReads.load(ordering: .relaxed) == 0)
        }
        // New snapshots find the new vectors first.
        let now = try queries.map { try c.search($0, k: 1, parameters: wide).first?.id }
        #expect(now == newIDs.map { Optional($0) })

        try db.read { snapshot in
            let r = try snapshot.collection(c)
            let hits = try r.search(queries[0], k: 3, parameters: wide)
            try Self.elsewhere { _ = try c.delete(ids: [hits[0].id]) }
            // After a delete the old snapshot checks slots, and still sees the deleted vector.
            #expect(try r.search(queries[0], k: 3, parameters: wide) == hits)
            #expect(table.checkedReads.load(ordering: .relaxed) > 0)
        }
        try c.checkIndexInvariants()
    }
}
