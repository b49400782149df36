import Foundation
import Synchronization
import Testing
@testable import VDBCore
#if canImport(Glibc)
import Glibc
#endif

/// Tests that run the built `vdb` executable as a separate process.
@Suite struct ProcessTests {
    /// Parses `vdb search --json` output into (query, [(id, distance)]).
    func parseJSONLines(_ text: String) throws -> [[(UInt64, Float)]] {
        try text.split(separator: "\n").map { line in
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let results = try #require(obj["results"] as? [[String: Any]])
            return try results.map { r in
                let id = try #require(r["id"] as? NSNumber).uint64Value
                let d = try #require(r["distance"] as? NSNumber).floatValue
                return (id, d)
            }
        }
    }

    @Test func persistenceAcrossProcesses() throws {
        guard let vdb = vdbExecutable() else {
            Issue.record("the vdb executable was not found next to the test bundle (build with `swift build` first)")
            return
        }
        let tmp = TempDir(); defer { tmp.cleanup() }
        try FileManager.default.createDirectory(at: tmp.url, withIntermediateDirectories: true)
        let base = randomVectors(2000, 16, seed: 21)
        let queries = randomVectors(5, 16, seed: 22)
        try writeFvecs(tmp.sub("base.fvecs"), base)
        try writeFvecs(tmp.sub("q.fvecs"), queries)
        let dbDir = tmp.sub("db")
        // Process 1 writes.
        var r = try run(vdb, ["create", "pts", "--dim", "16", "--metric", "l2", "--db", dbDir])
        #expect(r.0 == 0, "\(r.2)")
        r = try run(vdb, ["--db", dbDir, "import", "pts", tmp.sub("base.fvecs"), "--start-id", "100"])
        #expect(r.0 == 0, "\(r.2)")
        #expect(r.1.contains("imported 2000 vectors"))
        // Process 2 reads.
        r = try run(vdb, ["search", "pts", "-k", "5", "--queries", tmp.sub("q.fvecs"), "--json"], env: ["VDB_DB": dbDir])
        #expect(r.0 == 0, "\(r.2)")
        let fromChild = try parseJSONLines(r.1)
        // This process reads the same database: identical ids and distances.
        let db = try Database(path: dbDir)
        let c = try db.collection(named: "pts")
        #expect(try c.count() == 2000)
        let here = try c.search(batch: queries, k: 5)
        #expect(fromChild.count == 5)
        for (a, b) in zip(fromChild, here) {
            #expect(a.map(\.0) == b.map(\.id))
            #expect(a.map(\.1) == b.map(\.distance))
        }
        #expect(here[0].allSatisfy { $0.id >= 100 })
        // Writes from this process are seen by the next one.
        try c.delete(ids: [here[0][0].id])
        r = try run(vdb, ["info", "pts", "--json", "--db", dbDir])
        #expect(r.1.contains("\"count\": 1999"))
        // CLI errors are one line on stderr with a non-zero status.
        for args in [["search", "pts", "-k", "0", "--vector", "1"], ["search", "nope", "-k", "1", "--vector", "1"],
                     ["create", "pts", "--dim", "16"], ["import", "pts", tmp.sub("missing.fvecs")],
                     ["search", "pts", "--vector", "1,2"], ["create", "x", "--dim", "3", "--metric", "hamming"]] {
            let e = try run(vdb, args + ["--db", dbDir])
            #expect(e.0 != 0, "\(args)")
            #expect(e.2.hasPrefix("error: ") && e.2.split(separator: "\n").count == 1, "\(args): \(e.2)")
        }
        let notDB = try run(vdb, ["info", "--db", tmp.url.path])
        #expect(notDB.0 != 0 && notDB.2.contains("not a vdb database"))
    }

    @Test func killedImportLeavesWholeBatches() throws {
        guard let vdb = vdbExecutable() else {
            Issue.record("the vdb executable was not found next to the test bundle (build with `swift build` first)")
            return
        }
        let tmp = TempDir(); defer { tmp.cleanup() }
        try FileManager.default.createDirectory(at: tmp.url, withIntermediateDirectories: true)
        let n = 100_000, d = 16, batch = 100  // 1000 transactions: the kill lands mid-import
        let base = randomVectors(n, d, seed: 31)
        try writeFvecs(tmp.sub("big.fvecs"), base)
        let dbDir = tmp.sub("db")
        #expect(try run(vdb, ["create", "big", "--dim", "\(d)", "--db", dbDir]).0 == 0)

        let child = Process()
        child.executableURL = vdb
        child.arguments = ["import", "big", tmp.sub("big.fvecs"), "--batch-size", "\(batch)", "--db", dbDir]
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        // Wait until a few batches are committed, then kill the importer without warning.
        var seen = 0
        let deadline = Date().addingTimeInterval(60)
        while seen < 5 * batch && Date() < deadline && child.isRunning {
            seen = (try? Database(path: dbDir).collection(named: "big").count()) ?? 0
            usleep(2000)
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal, "the import finished before it could be killed")

        let db = try Database(path: dbDir)
        let c = try db.collection(named: "big")
        let count = try c.count()
        #expect(count % batch == 0, "count \(count) is not a whole number of \(batch)-vector batches")
        #expect(count >= 5 * batch && count < n)
        // Every committed vector is intact; nothing past the last committed batch exists.
        for id in [0, count / 2, count - 1] {
            #expect(try c.get(id: UInt64(id))?.vector == base[id])
        }
        #expect(try c.get(id: UInt64(count)) == nil)
        // The database accepts more writes.
        try c.insert(contiguous: Array(base[count..<(count + 10)].joined()))
        #expect(try c.count() == count + 10)
        #expect(try c.search(base[count + 5], k: 1).first?.id == UInt64(count + 5))
    }
}

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
