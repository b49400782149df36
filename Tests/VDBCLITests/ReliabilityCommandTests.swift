import Foundation
import Testing
@testable import VDBCore
import VDBTestSupport

/// `vdb check`, `vdb backup`, `vdb info` over damage, and sizes from flags that are capped.
@Suite struct ReliabilityCommandTests {
    /// A database with collections "a" (with metadata and an IVF index) and "b".
    static func populated(_ box: Sandbox) throws {
        try box.ok(["create", "a", "--dim", "3", "--db", box.db])
        try box.ok(["import", "a", Repo.root.appendingPathComponent("Docs/examples/colors.jsonl").path, "--db", box.db])
        try box.ok(["index", "build", "a", "--type", "ivf_flat", "--nlist", "4", "--db", box.db])
        try box.ok(["create", "b", "--dim", "4", "--db", box.db])
        try box.ok(["import", "b", try box.fvecs("b.fvecs", randomVectors(30, 4, seed: 1)), "--db", box.db])
    }

    @Test func checkBackupAndRestore() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        try Self.populated(box)
        let check = try box.ok(["check", "--db", box.db])
        #expect(check.stdout.contains("a: ok (20 vectors in 1 blocks, 20 metadata records") && check.stdout.hasSuffix("check passed\n"), "\(check.stdout)")
        let json = try #require(try decodeLines(Shape.Check.self, try box.ok(["check", "b", "--json", "--db", box.db]).stdout).first)
        #expect(json.ok && json.formatVersion == 2 && json.collections.map(\.name) == ["b"] && json.collections[0].count == 30)
        // A backup is a database of its own that checks clean.
        let backup = try #require(try decodeLines(Shape.Backup.self, try box.ok(["backup", box.path("bk"), "--json", "--db", box.db]).stdout).first)
        #expect(backup.check.ok && backup.bytes > 0 && backup.path == box.path("bk"))
        #expect(try box.ok(["search", "a", "--vector", "1,0,0", "-k", "1", "--db", box.path("bk")]).stdout.contains("\"red\""))
        let again = try box.run(["backup", box.path("bk"), "--db", box.db])
        #expect(again.status == 1 && again.stderr.contains("is not empty"))
        // Restore: the backup's data.mdb in place of a damaged one.
        let data = box.path("db/data.mdb")
        #expect(truncate(data, 12288) == 0)
        let info = try box.run(["info", "--db", box.db])
        #expect(info.status == 1 && info.stderr.contains("is 12288 bytes but LMDB's metadata says") && info.stderr.contains("truncated"), "\(info.stderr)")
        try FileManager.default.removeItem(atPath: data)
        try FileManager.default.copyItem(atPath: box.path("bk/data.mdb"), toPath: data)
        #expect(try box.ok(["check", "--db", box.db]).stdout.hasSuffix("check passed\n"))
    }

    @Test func damageInOneCollectionIsReportedAndContained() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        try Self.populated(box)
        do {
            // A damaged state record of "a" (as a bad sector would leave it).
            let db = try Database(path: box.db)
            let a = try db.collection(named: "a")
            try db.env.write { txn in try txn.put(txn.dbis.state, a.prefix, [1, 2, 3]) }
        }
        let info = try box.run(["info", "--json", "--db", box.db])
        #expect(info.status == 1 && info.stderr.contains("1 collection(s) could not be read (a)"), "\(info.stderr)")
        let shape = try #require(try decodeLines(Shape.DatabaseInfo.self, info.stdout).first)
        #expect(shape.collections.map(\.name) == ["b"] && shape.unreadable?.map(\.name) == ["a"])
        #expect(try box.ok(["search", "b", "--vector", "1,0,0,0", "-k", "3", "--db", box.db]).stdout.split(separator: "\n").count == 4)
        let check = try box.run(["check", "--db", box.db])
        #expect(check.status == 1 && check.stdout.contains("a: FAILED") && check.stdout.contains("b: ok"), "\(check.stdout)")
        #expect(check.stderr.contains("check found 1 problem(s)"))
    }

    @Test func hugeKAndNprobeAreCappedAndSaidSo() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        try Self.populated(box)
        for k in ["4294967296", "9223372036854775807"] {
            let r = try box.ok(["search", "a", "--vector", "1,0,0", "-k", k, "--json", "--db", box.db])
            #expect(try decodeLines(Shape.Search.self, r.stdout).first?.results.count == 20)
        }
        let r = try box.ok(["search", "a", "--vector", "1,0,0", "-k", "3", "--nprobe", "1000000", "--db", box.db])
        #expect(r.stderr.contains("note: --nprobe 1000000 is more than the 4 lists of the index: every list is visited"))
    }
}
