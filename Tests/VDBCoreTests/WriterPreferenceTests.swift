import Foundation
import Synchronization
import Testing
@testable import VDBCore
import VDBSupport

/// Index locks prefer writers (`RWLock`): searches with filter closures, one of which searches
/// the same collection again from inside the filter (under the index's read lock), run while a
/// writer upserts. Everything finishes (no deadlock), every search answers correctly, and the
/// writer gets all its batches through.
@Suite struct WriterPreferenceTests {
    static let params = IndexParameters(nlist: 8, m: 8, efConstruction: 64, seed: 9, buildThreads: 1)

    static func vector(_ id: UInt64, _ version: Int = 0) -> [Float] {
        (0..<12).map { j in Float(sin(Double(Int(id) * 29 + j * 5 + version * 977) * 0.41)) }
    }

    /// What the threads share (escaping thread closures cannot capture `Atomic`s directly).
    final class State: Sendable {
        let writerDone = Atomic<Bool>(false)
        let written = Atomic<Int>(0)
        let searches = Atomic<Int>(0)
        let problems = Mutex<[String]>([])
    }

    @Test(arguments: [IndexKind.hnsw, .ivfFlat])
    func filteredSearchesAndUpsertsAllFinish(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "wp-\(kind)", dimension: 12, metric: .l2)
        try c.insert((0..<UInt64(300)).map { Self.vector($0) }, ids: Array(0..<UInt64(300)))
        try c.buildIndex(kind: kind, parameters: Self.params)
        let batches = 30
        let state = State()
        @Sendable func problem(_ s: String) { state.problems.withLock { if $0.count < 10 { $0.append(s) } } }
        let finished = DispatchSemaphore(value: 0)
        let wide = SearchParameters(nprobe: 8, ef: 64)

        // The writer: batches of 5 upserts, each replacing 3 stored vectors and adding 2.
        Thread {
            for b in 0..<batches {
                let ids = (0..<3).map { UInt64(b * 7 + $0 * 50) % 300 } + [UInt64(1000 + 2 * b), UInt64(1001 + 2 * b)]
                do {
                    try c.upsert(ids.map { Self.vector($0, b + 1) }, ids: ids)
                    state.written.add(1, ordering: .relaxed)
                } catch { problem("upsert \(b): \(error)") }
            }
            state.writerDone.store(true, ordering: .releasing)
            finished.signal()
        }.start()
        // Readers: even ids only; reader 0's filter also searches the collection again (a
        // nested read of the index lock it holds) for a few candidates of every search.
        for r in 0..<3 {
            Thread {
                var i = 0
                while !state.writerDone.load(ordering: .acquiring) || i < 10 {
                    let q = Self.vector(UInt64(i * 13 + r) % 300)
                    let nested: SearchFilter = { id, _ in
                        if id % 50 == 0 { _ = try? c.search(q, k: 1, parameters: wide) }
                        return id % 2 == 0
                    }
                    let even: SearchFilter = { id, _ in id % 2 == 0 }
                    let filter = r == 0 ? nested : even
                    do {
                        let hits = try c.search(q, k: 5, parameters: wide, filter: filter)
                        if hits.count != 5 { problem("reader \(r): \(hits.count) hits") }
                        if let odd = hits.first(where: { $0.id % 2 != 0 }) { problem("reader \(r): odd id \(odd.id)") }
                        state.searches.add(1, ordering: .relaxed)
                    } catch { problem("reader \(r): \(error)") }
                    i += 1
                }
                finished.signal()
            }.start()
        }
        for _ in 0..<4 {
            guard finished.wait(timeout: .now() + 60) == .success else {
                Issue.record("deadlock: a search or the writer did not finish within 60 s")
                return
            }
        }
        #expect(state.problems.withLock { $0 } == [])
        #expect(state.written.load(ordering: .relaxed) == batches)
        #expect(state.searches.load(ordering: .relaxed) >= 30)
        #expect(try c.count() == 300 + 2 * batches)
        try c.checkIndexInvariants()
    }

    /// A thread inside the LMDB resize gate enters it again (a transaction nested in another, as
    /// when a search filter reads its collection) even while a resizer waits for the gate: the
    /// resizer waits for that thread's outer transaction, so making it wait would deadlock.
    @Test func aNestedTransactionPassesAWaitingResizer() {
        let gate = ResizeGate()
        let state = State()
        let inside = DispatchSemaphore(value: 0), nest = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            gate.enterShared()
            inside.signal()
            nest.wait()
            gate.enterShared()  // nested
            gate.leaveShared()
            state.written.add(1, ordering: .relaxed)
            gate.leaveShared()
            done.signal()
        }.start()
        inside.wait()
        Thread {
            gate.exclusive { state.searches.store(state.written.load(ordering: .relaxed), ordering: .relaxed) }
            done.signal()
        }.start()
        let deadline = Date().addingTimeInterval(5)
        while !gate.exclusiveIsWaiting && Date() < deadline { usleep(1000) }
        #expect(gate.exclusiveIsWaiting, "the resizer never waited")
        nest.signal()
        for _ in 0..<2 { #expect(done.wait(timeout: .now() + 10) == .success, "deadlock: nested entry behind a waiting resizer") }
        // The resizer ran after the nested transaction and its outer one ended.
        #expect(state.searches.load(ordering: .relaxed) == 1)
    }
}
