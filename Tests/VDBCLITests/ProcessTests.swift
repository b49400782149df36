import Foundation
import Testing
import VDBCore
import VDBIngest
import VDBTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The binary and the library on the same database, across processes and kills.
@Suite struct ProcessTests {
    @Test func persistenceAcrossProcesses() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let base = randomVectors(2000, 16, seed: 21)
        let queries = randomVectors(5, 16, seed: 22)
        let baseFile = try box.fvecs("base.fvecs", base)
        let queryFile = try box.fvecs("q.fvecs", queries)
        // Process 1 writes.
        try box.ok(["create", "pts", "--dim", "16", "--metric", "l2", "--db", box.db])
        let imported = try box.ok(["--db", box.db, "import", "pts", baseFile, "--start-id", "100"])
        #expect(imported.stdout.contains("imported 2000 vectors"))
        // Process 2 reads, with the database from $VDB_DB.
        let r = try box.ok(["search", "pts", "-k", "5", "--queries", queryFile, "--json"], env: ["VDB_DB": box.db])
        let fromChild = try decodeLines(Shape.Search.self, r.stdout)
        // This process reads the same database: identical ids and distances.
        let db = try Database(path: box.db)
        let c = try db.collection(named: "pts")
        #expect(try c.count() == 2000)
        let here = try c.search(batch: queries, k: 5)
        #expect(fromChild.count == 5)
        for (a, b) in zip(fromChild, here) {
            #expect(a.results.map(\.id) == b.map(\.id))
            #expect(a.results.map(\.distance) == b.map(\.distance))
        }
        #expect(here[0].allSatisfy { $0.id >= 100 })
        // Writes from this process are seen by the next one.
        try c.delete(ids: [here[0][0].id])
        let info = try box.ok(["info", "pts", "--json", "--db", box.db])
        #expect(try decodeLines(Shape.CollectionInfo.self, info.stdout).first?.count == 1999)
    }

    @Test func killedImportLeavesWholeBatches() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let n = 100_000, d = 16, batch = 100  // 1000 transactions: the kill lands mid-import
        let base = randomVectors(n, d, seed: 31)
        let file = try box.fvecs("big.fvecs", base)
        try box.ok(["create", "big", "--dim", "\(d)", "--db", box.db])

        // Wait until a few batches are committed, then kill the importer without warning.
        let killed = try box.killMidway(["import", "big", file, "--resume", "--batch-size", "\(batch)", "--db", box.db],
                                        collection: "big", atLeast: 5 * batch)
        #expect(killed, "the import finished before it could be killed")

        let db = try Database(path: box.db)
        let c = try db.collection(named: "big")
        let count = try c.count()
        #expect(count % batch == 0, "count \(count) is not a whole number of \(batch)-vector batches")
        #expect(count >= 5 * batch && count < n)
        // Every committed vector is intact; nothing past the last committed batch exists.
        for id in [0, count / 2, count - 1] {
            #expect(try c.get(id: UInt64(id))?.vector == base[id])
        }
        #expect(try c.get(id: UInt64(count)) == nil)
        // A plain import of the same file is refused (it would import the committed rows again);
        // the same command continues after the last committed batch.
        let plain = try box.run(["import", "big", file, "--db", box.db])
        #expect(plain.status == 1 && plain.stderr.contains("rows 0..<\(count) of the file are committed"), "\(plain.stderr)")
        let resumed = try box.ok(["import", "big", file, "--resume", "--batch-size", "\(batch)", "--db", box.db])
        #expect(resumed.stdout.contains("imported \(n - count) vectors into 'big' (rows \(count)..<\(n);"), "\(resumed.stdout)")
        #expect(try c.count() == n)
        for id in [0, count - 1, count, n - 1] { #expect(try c.get(id: UInt64(id))?.vector == base[id]) }
        #expect(try db.check().ok)
        // The database accepts more writes.
        try c.insert(contiguous: Array(base[0..<10].joined()))
        #expect(try c.count() == n + 10)
    }

    /// An atomic import killed at any moment leaves nothing or everything.
    @Test func killedAtomicImportLeavesNothing() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let n = 100_000, d = 16
        let file = try box.fvecs("big.fvecs", randomVectors(n, d, seed: 32))
        try box.ok(["create", "big", "--dim", "\(d)", "--db", box.db])
        let child = Process()
        child.executableURL = box.vdb
        child.arguments = ["import", "big", file, "--db", box.db]
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        usleep(300_000)
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let count = try Database(path: box.db).collection(named: "big").count()
        #expect(count == 0 || count == n, "an atomic import left \(count) vectors")
        #expect(try Database(path: box.db).check().ok)
    }

    /// A bad row anywhere leaves the collection as it was, and the message names the row.
    @Test func badRowsStopTheImportBeforeAnythingIsWritten() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        var base = randomVectors(20_000, 8, seed: 33)
        base[15_000][3] = .nan
        let nan = try box.fvecs("nan.fvecs", base)
        try box.ok(["create", "c", "--dim", "8", "--metric", "cosine", "--db", box.db])
        try box.ok(["import", "c", try box.fvecs("first.fvecs", Array(base[0..<5])), "--db", box.db])
        for extra in [[], ["--resume", "--batch-size", "1000"]] {
            let r = try box.run(["import", "c", nan, "--db", box.db] + extra)
            #expect(r.status == 1)
            #expect(r.stderr.contains("row 15000: vector has a NaN or infinite value at component 3; nothing was imported (the collection is unchanged)"), "\(r.stderr)")
        }
        // A record of another dimension in the middle of an fvecs file.
        var raw = try Data(contentsOf: URL(fileURLWithPath: try box.fvecs("dim.fvecs", Array(base[0..<12_000]))))
        raw.replaceSubrange((11_000 * 36)..<(11_000 * 36 + 4), with: withUnsafeBytes(of: Int32(7).littleEndian) { Data($0) })
        try raw.write(to: URL(fileURLWithPath: box.path("dim.fvecs")))
        let dim = try box.run(["import", "c", box.path("dim.fvecs"), "--db", box.db])
        #expect(dim.stderr.contains("record 11000 has dimension 7, expected 8; nothing was imported"), "\(dim.stderr)")
        // JSONL: a wrong dimension, bad ids, a repeated id, a zero vector.
        let good = (0..<30).map { #"{"id": \#($0 + 100), "vector": [1, 2, 3, 4, 5, 6, 7, 8]}"# }
        func with(_ i: Int, _ line: String) -> String { good.enumerated().map { $0.offset == i ? line : $0.element }.joined(separator: "\n") }
        for (text, want) in [(with(20, #"{"id": 20, "vector": [1, 2, 3, 4, 5, 6, 7]}"#), "line 21: vector has 7 components, expected 8"),
                             (with(20, #"{"id": -5, "vector": [1]}"#), #"line 21: "id" must be a non-negative integer, got -5"#),
                             (with(20, #"{"id": 1.5, "vector": [1]}"#), #"line 21: "id" must be a non-negative integer, got 1.5"#),
                             (with(20, good[21]), "rows 20 and 21: both have id 121"),
                             (with(24, #"{"id": 7, "vector": [0, 0, 0, 0, 0, 0, 0, 0]}"#), "row 24: vector is all zeros and cannot be normalized for cosine"),
                             (with(3, #"{"id": 2, "vector": [1, 2, 3, 4, 5, 6, 7, 8]}"#), "row 3: id 2 already exists in 'c'")] {
            try text.write(toFile: box.path("bad.jsonl"), atomically: true, encoding: .utf8)
            let r = try box.run(["import", "c", box.path("bad.jsonl"), "--db", box.db])
            #expect(r.status == 1 && r.stderr.contains(want) && r.stderr.contains("nothing was imported"), "\(want): \(r.stderr)")
        }
        #expect(try Database(path: box.db).collection(named: "c").count() == 5)
    }

    /// Kill `vdb ingest` with SIGKILL in the middle, run it again: nothing duplicated, nothing missing.
    @Test func killedIngestResumesWithoutDuplicatesOrLoss() throws {
        let box = try Sandbox("vdb-kill"); defer { box.cleanup() }
        let photos = box.path("photos")
        let n = 120
        for i in 0..<n {
            let target = photos + String(format: "/d%02d/img%03d.jpg", i % 7, i)
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Repo.images.appendingPathComponent("large_1920x1440.jpg").path, toPath: target)
        }
        let args = ["ingest", photos, "--collection", "k", "--model", Repo.tinyModel.path, "--batch-size", "4",
                    "--threads", "1", "--db", box.db]
        let child = Process()
        child.executableURL = box.vdb
        child.arguments = args
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        var seen = 0
        let deadline = Date().addingTimeInterval(60)
        while seen < 12 && Date() < deadline && child.isRunning {
            seen = (try? Database(path: box.db).collection(named: "k").count()) ?? 0
            usleep(1000)
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal, "the ingest finished before it could be killed")
        let partial = try Database(path: box.db).collection(named: "k").count()
        #expect(partial >= 12 && partial < n && partial % 4 == 0, "committed \(partial): whole batches of 4 expected")

        let again = try box.ok(args + ["--json"])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let summary = try decoder.decode(IngestSummary.self, from: Data(again.stdout.utf8))
        #expect(summary.unchanged == partial && summary.added == n - partial && summary.failed.isEmpty)

        let c = try Database(path: box.db).collection(named: "k")
        #expect(try c.count() == n)
        var paths = Set<String>()
        try c.forEachMetadata { _, m in
            if let p = m["path"]?.stringValue { paths.insert((p as NSString).lastPathComponent) }
            return true
        }
        #expect(paths == Set((0..<n).map { String(format: "img%03d.jpg", $0) }))
    }
}
