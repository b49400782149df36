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
        let killed = try box.killMidway(["import", "big", file, "--batch-size", "\(batch)", "--db", box.db],
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
        // The database accepts more writes.
        try c.insert(contiguous: Array(base[count..<(count + 10)].joined()))
        #expect(try c.count() == count + 10)
        #expect(try c.search(base[count + 5], k: 1).first?.id == UInt64(count + 5))
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
