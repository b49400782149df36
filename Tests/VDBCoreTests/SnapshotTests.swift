import CLMDB
import Foundation
import Synchronization
import Testing
@testable import VDBCore
import VDBSupport

/// What readers see of writes: only committed ones, all at once, in every index kind; a write
/// that fails (here: an injected commit failure) or is rolled back leaves searches, counts and
/// the in-memory index exactly as they were.
@Suite struct SnapshotTests {
    static let kinds: [IndexKind] = [.flat, .hnsw, .ivfFlat, .ivfSQ8]
    static let params = IndexParameters(nlist: 8, m: 8, efConstruction: 64, seed: 5, buildThreads: 2)
    /// Exhaustive search settings: every list, a wide graph search, exact re-ranking.
    static let wide = SearchParameters(nprobe: 64, ef: 256, rerank: true, rerankFactor: 4)

    /// The vector of `id` at `version` (upserts bump the version): a pure function, so any
    /// reader can check a hit.
    static func vector(_ id: UInt64, _ version: Int = 0, d: Int = 12) -> [Float] {
        (0..<d).map { j in Float(sin(Double(Int(id) * 31 + j * 7 + version * 1013) * 0.37)) }
    }

    func makeCollection(_ db: Database, _ kind: IndexKind, count: Int) throws -> Collection {
        let c = try db.createCollection(name: "s-\(kind)", dimension: 12, metric: .l2)
        try c.insert((0..<UInt64(count)).map { Self.vector($0) }, ids: Array(0..<UInt64(count)))
        if kind != .flat { try c.buildIndex(kind: kind, parameters: Self.params) }
        return c
    }

    /// Everything a reader can observe about the collection, from one snapshot.
    struct Observed: Equatable {
        var count: Int
        var hits: [[SearchHit]]
        var records: [VectorRecord?]
    }

    static func observe(_ c: Collection, queries: [[Float]], ids: [UInt64]) throws -> Observed {
        try c.env.read { txn in
            let scope = try c.readScope(txn)
            return Observed(count: try c.count(txn),
                            hits: try c.search(scope, contiguous: queries.flatMap { $0 }, k: 10, parameters: wide, filter: nil),
                            records: try ids.map { try c.get(txn, id: $0) })
        }
    }

    @Test(arguments: kinds)
    func injectedCommitFailureChangesNothing(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try makeCollection(db, kind, count: 300)
        let queries = (0..<6).map { Self.vector(UInt64(1000 + $0)) }
        let top = try c.search(queries[0], k: 10, parameters: Self.wide).map(\.id)
        let watched = top + [5, 299, 300, 5000]
        let before = try Self.observe(c, queries: queries, ids: watched)
        #expect(before.count == 300 && before.hits.allSatisfy { $0.count == 10 })

        // Right before each commit (the transaction fully written), look from another
        // transaction, then make the commit fail.
        let seenBeforeCommit = Mutex<[Observed]>([])
        db.env._beforeCommit.withLock { $0 = {
            if let o = try? Self.observe(c, queries: queries, ids: watched) { seenBeforeCommit.withLock { $0.append(o) } }
            return EIO
        } }
        let failures: [() throws -> Void] = [
            { try c.insert(queries.map { $0.map { $0 * 1.001 } }, ids: (5000..<5006).map(UInt64.init)) },  // new best hits
            { try c.delete(ids: top) },                                                                  // the best hits go
            { try c.upsert(top.map { Self.vector($0, 1) }, ids: top) },                                  // the best hits move
            { try db.write { txn in
                let w = try txn.collection(c)
                try w.insert([Self.vector(5001)], ids: [5001])
                try w.delete(ids: [5, 299])
                try w.upsert([Self.vector(top[0], 2)], ids: [top[0]])
            } },
            { try c.buildIndex(kind: kind == .hnsw ? .ivfFlat : .hnsw, parameters: Self.params) },
            { try c.dropIndex() },
        ]
        for (i, write) in failures.enumerated() {
            #expect(throws: VDBError.storage(operation: "mdb_txn_commit", code: EIO, message: String(cString: mdb_strerror(EIO))), "write \(i)") {
                try write()
            }
            #expect(try Self.observe(c, queries: queries, ids: watched) == before, "\(kind): after failed write \(i)")
            try c.checkIndexInvariants()
            #expect(c.activeIndexKind == (kind == .flat ? .flat : kind))
        }
        // Before each failed commit, readers saw the state before the write, not the write.
        #expect(seenBeforeCommit.withLock { $0.count } == failures.count)
        #expect(seenBeforeCommit.withLock { $0 }.allSatisfy { $0 == before })
        #expect(try c.info().count == 300)

        // The same writes commit once the failure is gone, and then everyone sees them.
        db.env._beforeCommit.withLock { $0 = nil }
        try c.delete(ids: top)
        try c.checkIndexInvariants()
        let after = try Self.observe(c, queries: queries, ids: watched)
        #expect(after.count == 290)
        #expect(after.hits[0].allSatisfy { !top.contains($0.id) })
        #expect(after.records.prefix(10).allSatisfy { $0 == nil })
    }

    /// Searches on other threads while one thread inserts, deletes, upserts and rolls back: every
    /// search returns k hits when the snapshot holds k, each hit is stored in that same snapshot
    /// with the reported distance, and nothing from a rolled-back write ever shows.
    @Test(arguments: [IndexKind.hnsw, .ivfFlat, .ivfSQ8, .flat])
    func searchesDuringWritesSeeOnlyCommittedState(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try makeCollection(db, kind, count: 400)
        // Each commit waits a moment after the transaction is written (index updated, commit not
        // done): the window in which a reader could see too much is wide open.
        db.env._beforeCommit.withLock { $0 = { usleep(2000); return 0 } }
        let rolledBack: UInt64 = 1_000_000
        // The next id the writer inserts: readers look for it, so a vector visible too early
        // would be their best hit.
        let upcoming = Atomic<UInt64>(400)
        struct Rollback: Error {}
        let done = Atomic<Bool>(false)
        let problems = Mutex<[String]>([])
        let searches = Atomic<Int>(0)
        let writes = Atomic<Int>(0)
        @Sendable func problem(_ s: String) { problems.withLock { if $0.count < 20 { $0.append(s) } } }

        DispatchQueue.concurrentPerform(iterations: 3) { t in
            if t == 0 {
                // The writer: a seeded sequence of writes for about 400 ms.
                var rng = SplitMix64(seed: 77)
                var live = Set((0..<UInt64(400)))
                var versions: [UInt64: Int] = [:]
                var next: UInt64 = 400
                let start = Date()
                var ops = 0
                while ops < 10 || Date().timeIntervalSince(start) < 0.4 {
                    ops += 1
                    do {
                        switch rng.next() % 5 {
                        case 0, 1:
                            let ids = (0..<5).map { next + UInt64($0) }
                            upcoming.store(next, ordering: .relaxed)
                            next += 5
                            try c.insert(ids.map { Self.vector($0) }, ids: ids)
                            live.formUnion(ids)
                        case 2:
                            let ids = live.sorted().shuffled(using: &rng).prefix(4)
                            try c.delete(ids: Array(ids))
                            live.subtract(ids)
                        case 3:
                            let ids = Array(live.sorted().shuffled(using: &rng).prefix(3))
                            for id in ids { versions[id, default: 0] += 1 }
                            try c.upsert(ids.map { Self.vector($0, versions[$0]!) }, ids: ids)
                        default:
                            // Rolled back: never visible, not even while it runs.
                            try? db.write { txn in
                                let w = try txn.collection(c)
                                try w.insert((0..<5).map { Self.vector(rolledBack + UInt64($0)) }, ids: (0..<5).map { rolledBack + UInt64($0) })
                                try w.delete(ids: Array(live.prefix(5)))
                                throw Rollback()
                            }
                        }
                        writes.add(1, ordering: .relaxed)
                    } catch {
                        problem("write: \(error)")
                    }
                }
                done.store(true, ordering: .releasing)
                return
            }
            // Readers.
            var i = 0
            while !done.load(ordering: .acquiring) || i < 20 {
                let target: UInt64 = switch i % 3 {
                case 0: upcoming.load(ordering: .relaxed) + UInt64(i % 5)
                case 1: rolledBack + UInt64(i % 5)
                default: UInt64(20_000 + t * 10_000 + i)
                }
                let q = Self.vector(target)
                i += 1
                do {
                    try db.read { snapshot in
                        let r = try snapshot.collection(c)
                        let n = try r.count()
                        let p = i % 2 == 0 ? Self.wide : SearchParameters(nprobe: 64, ef: 128)
                        let hits = try r.search(q, k: 10, parameters: p)
                        if hits.count != min(10, n) { problem("\(hits.count) hits with \(n) stored") }
                        for h in hits {
                            if h.id >= rolledBack { problem("rolled-back id \(h.id) returned") }
                            guard let rec = try r.get(id: h.id) else { problem("id \(h.id) is not in the snapshot"); continue }
                            let exact = zip(q, rec.vector).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                            // IVF_SQ8 without re-ranking reports distances on its codes.
                            let tolerance: Float = kind == .ivfSQ8 && !p.rerank ? 0.05 : 1e-3
                            if abs(exact - h.distance) > tolerance * max(1, exact) { problem("id \(h.id): distance \(h.distance), stored vector gives \(exact)") }
                        }
                        if Set(hits.map(\.id)).count != hits.count { problem("duplicate ids in \(hits.map(\.id))") }
                    }
                } catch {
                    problem("search: \(error)")
                }
                searches.add(1, ordering: .relaxed)
            }
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(kind): \(problems.withLock { $0 })")
        #expect(writes.load(ordering: .relaxed) >= 10 && searches.load(ordering: .relaxed) >= 40)
        try c.checkIndexInvariants()
        // Afterwards a wide search equals brute force over what is stored.
        let (ids, flat) = try c.allVectors()
        let stored = (0..<ids.count).map { Array(flat[($0 * 12)..<(($0 + 1) * 12)]) }
        let q = Self.vector(99_999)
        let expected = bruteForce(stored, ids: ids, q, k: 10, metric: .l2).map(\.0)
        #expect(try c.search(q, k: 10, parameters: Self.wide).map(\.id) == expected)
    }

    /// `db.write` commits changes to several collections atomically: all of them, or (on a
    /// throw or a failed commit) none; a reader never sees one without the other.
    @Test func writeTransactionsAreAtomicAcrossCollections() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let a = try makeCollection(db, .hnsw, count: 50)
        let b = try db.createCollection(name: "b", dimension: 12, metric: .l2)
        struct Stop: Error {}
        // A throw rolls back both collections.
        #expect(throws: Stop.self) {
            try db.write { txn in
                try txn.collection(a).insert([Self.vector(100)], ids: [100])
                try txn.collection(named: "b").insert([Self.vector(100)], ids: [100])
                // The transaction sees its own changes, index included.
                #expect(try txn.collection(a).count() == 51)
                #expect(try txn.collection(a).get(id: 100) != nil)
                #expect(try txn.collection(a).search(Self.vector(100), k: 1).first?.id == 100)
                throw Stop()
            }
        }
        #expect(try a.count() == 50 && b.count() == 0)
        #expect(try a.search(Self.vector(100), k: 1).first?.id != 100)
        try a.checkIndexInvariants()
        // A failed commit rolls back both.
        db.env._beforeCommit.withLock { $0 = { EIO } }
        #expect(throws: VDBError.self) {
            try db.write { txn in
                try txn.collection(a).insert([Self.vector(100)], ids: [100])
                try txn.collection(b).insert([Self.vector(100)], ids: [100])
            }
        }
        db.env._beforeCommit.withLock { $0 = nil }
        #expect(try a.count() == 50 && b.count() == 0)
        try a.checkIndexInvariants()
        // Views end with their closure.
        var escaped: CollectionWriter?
        try db.write { txn in escaped = try txn.collection(b) }
        #expect(throws: VDBError.transactionEnded) { try escaped?.insert([Self.vector(1)]) }
        var escapedReader: CollectionReader?
        try db.read { snapshot in escapedReader = try snapshot.collection(a) }
        #expect(throws: VDBError.transactionEnded) { try escapedReader?.count() }

        // Pairs committed together are seen together (commits slowed down, see above).
        db.env._beforeCommit.withLock { $0 = { usleep(500); return 0 } }
        let stop = Atomic<Bool>(false)
        let mismatches = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            if t == 0 {
                while reads.load(ordering: .relaxed) == 0 { usleep(100) }
                for i in 0..<40 {
                    let id = UInt64(1000 + i)
                    try? db.write { txn in
                        try txn.collection(a).insert([Self.vector(id)], ids: [id])
                        try txn.collection(b).insert([Self.vector(id)], ids: [id])
                    }
                }
                stop.store(true, ordering: .releasing)
            } else {
                while !stop.load(ordering: .acquiring) {
                    let (na, nb, hitA, hitB): (Int, Int, UInt64?, UInt64?) = (try? db.read { s in
                        let ra = try s.collection(a), rb = try s.collection(named: "b")
                        let q = Self.vector(UInt64(1000 + (try rb.count()) - 1))
                        return (try ra.count(), try rb.count(), try ra.search(q, k: 1).first?.id, try rb.search(q, k: 1).first?.id)
                    }) ?? (0, 0, nil, nil)
                    if na != nb + 50 || (nb > 0 && hitA != hitB) { mismatches.add(1, ordering: .relaxed) }
                    reads.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(mismatches.load(ordering: .relaxed) == 0)
        #expect(reads.load(ordering: .relaxed) > 10)
        #expect(try a.count() == 90 && b.count() == 40)
        try a.checkIndexInvariants()
    }

    /// `db.read` gives every read in it one snapshot, whatever commits meanwhile.
    @Test func readTransactionsShareOneSnapshot() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try makeCollection(db, .hnsw, count: 100)
        let q = Self.vector(42)
        try db.read { snapshot in
            let r = try snapshot.collection(named: c.name)
            let hits = try r.search(q, k: 5)
            // Another thread deletes the best hit and commits.
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                _ = try? c.delete(ids: [hits[0].id])
                done.signal()
            }
            done.wait()
            #expect(try c.count() == 99)                   // new reads see the delete
            #expect(try r.count() == 100)                  // this snapshot does not
            #expect(try r.search(q, k: 5) == hits)         // also through the index
            #expect(try r.get(id: hits[0].id) != nil)
            #expect(try r.info().count == 100)
            #expect(try snapshot.collectionNames() == [c.name])
        }
        #expect(try c.search(q, k: 5).first?.id != 42)
    }
}

/// HNSW keeps every live vector reachable. These vectors lie on one closed curve (a 1-D
/// manifold in 12 dimensions), where the neighbour heuristic's pruning leaves nodes and whole
/// islands without incoming links: before `connectUnreachable`, 1 to 18 of 400-600 nodes could
/// never be returned, so even an `ef` larger than the collection missed true neighbours.
@Suite struct HNSWConnectivityTests {
    @Test func everyLiveNodeStaysReachableThroughChurn() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "curve", dimension: 12, metric: .l2)
        try c.insert((0..<UInt64(400)).map { SnapshotTests.vector($0) }, ids: Array(0..<UInt64(400)))
        try c.buildIndex(kind: .hnsw, parameters: SnapshotTests.params)
        func unreachable() throws -> [UInt32] {
            try c.env.read { txn in
                let st = try c.state(txn)
                guard let index = try c.indexView(txn, epoch: st.epoch)?.live.index as? HNSWIndex else {
                    Issue.record("no HNSW index"); return []
                }
                return index.unreachableLiveSlots()
            }
        }
        func exact() throws -> Bool {
            let (ids, flat) = try c.allVectors()
            let stored = (0..<ids.count).map { Array(flat[($0 * 12)..<(($0 + 1) * 12)]) }
            for target in [99_999, 5, 77, 1234, 50_000] as [UInt64] {
                let q = SnapshotTests.vector(target)
                let expected = bruteForce(stored, ids: ids, q, k: 10, metric: .l2).map(\.0)
                let got = try c.search(q, k: 10, parameters: SearchParameters(ef: 1024)).map(\.id)
                if got != expected { Issue.record("query \(target): \(got), brute force \(expected)"); return false }
            }
            return true
        }
        #expect(try unreachable() == [], "after the build")
        #expect(try exact())
        var rng = SplitMix64(seed: 77)
        var live = Array(0..<UInt64(400))
        var next: UInt64 = 400
        for op in 1...90 {
            switch rng.next() % 4 {
            case 0, 1:
                let ids = (0..<5).map { next + UInt64($0) }
                next += 5
                try c.insert(ids.map { SnapshotTests.vector($0) }, ids: ids)
                live += ids
            case 2:
                live.shuffle(using: &rng)
                try c.delete(ids: Array(live.suffix(4)))
                live.removeLast(4)
            default:
                live.shuffle(using: &rng)
                let ids = Array(live.suffix(3))
                try c.upsert(ids.map { SnapshotTests.vector($0, op) }, ids: ids)
            }
            let u = try unreachable()
            if !u.isEmpty { Issue.record("after write \(op): slots \(u) unreachable"); break }
            if op % 30 == 0 { #expect(try exact(), "after write \(op)") }
        }
        try c.checkIndexInvariants()
    }
}
