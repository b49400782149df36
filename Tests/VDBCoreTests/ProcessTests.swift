import Foundation
import Synchronization
import Testing
@testable import VDBCore
#if canImport(Glibc)
import Glibc
#endif

/// Searches on several threads while one thread inserts.
@Suite struct ConcurrencyTests {
    /// Vector of id `i`: a deterministic function of the id, so any reader can check a hit.
    static func vector(_ i: Int, _ d: Int) -> [Float] {
        (0..<d).map { j in Float(sin(Double(i * 31 + j * 7) * 0.37)) }
    }

    @Test func searchesDuringInsertsSeeConsistentSnapshots() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        // A small map, so it also has to grow while readers are active.
        let db = try Database(path: tmp.path, initialMapSize: 1 << 20)
        let d = 32
        let c = try db.createCollection(name: "live", dimension: d, metric: .l2)
        try c.insert((0..<500).map { Self.vector($0, d) })
        let batches = 40, perBatch = 100
        let problems = Mutex<[String]>([])
        let searches = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            if t == 0 {
                for b in 0..<batches {
                    let start = 500 + b * perBatch
                    do { try c.insert((start..<(start + perBatch)).map { Self.vector($0, d) }) } catch {
                        problems.withLock { $0.append("insert: \(error)") }
                    }
                }
                return
            }
            var i = 0
            while true {
                let total = (try? c.count()) ?? 0
                let q = Self.vector(10_000 + t * 1000 + i, d)
                do {
                    let hitsList = t == 3 ? try c.search(batch: [q, q], k: 10, parameters: SearchParameters(threads: 2))
                                          : [try c.search(q, k: 10)]
                    for hits in hitsList {
                        var bad: String?
                        if hits.count != 10 { bad = "got \(hits.count) hits" }
                        if hits.map(\.distance) != hits.map(\.distance).sorted() { bad = "hits not sorted" }
                        for h in hits {
                            let v = Self.vector(Int(h.id), d)
                            let exact = zip(q, v).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                            if abs(exact - h.distance) > 1e-3 * max(1, exact) { bad = "id \(h.id) distance \(h.distance) != \(exact)" }
                            if h.id >= UInt64(500 + batches * perBatch) { bad = "unknown id \(h.id)" }
                        }
                        if let bad { problems.withLock { $0.append(bad) } }
                    }
                } catch {
                    problems.withLock { $0.append("search: \(error)") }
                }
                searches.add(1, ordering: .relaxed)
                i += 1
                if total == 500 + batches * perBatch && i > 20 { break }
            }
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(5) })")
        #expect(searches.load(ordering: .relaxed) > 60)
        #expect(try c.count() == 500 + batches * perBatch)
        #expect(db.mapSize > 1 << 20)
        // After the writer is done, a search equals brute force over everything.
        let all = (0..<(500 + batches * perBatch)).map { Self.vector($0, d) }
        let q = Self.vector(99_999, d)
        #expect(try c.search(q, k: 10).map(\.id) == bruteForce(all, ids: (0..<all.count).map(UInt64.init), q, k: 10, metric: .l2).map(\.0))
    }
}
