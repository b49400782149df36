import Foundation
import Testing
@testable import VDBCore

/// `vdb export`, `vdb import` of tables, `vdb index train` / `build --centroids` and `vdb merge`,
/// run as the binary.
@Suite struct ScaleCommandTests {
    @Test func exportImportTrainBuildAndMergeThroughTheBinary() throws {
        let vdb = try #require(vdbExecutable(), "the vdb executable was not found next to the test bundle (swift build first)")
        let tmp = TempDir(); defer { tmp.cleanup() }
        try FileManager.default.createDirectory(at: tmp.url, withIntermediateDirectories: true)
        let base = randomVectors(600, 8, seed: 4)
        for s in 0..<2 {
            try writeFvecs(tmp.sub("s\(s).fvecs"), Array(base[(s * 300)..<((s + 1) * 300)]))
            var r = try run(vdb, ["create", "v", "--dim", "8", "--metric", "l2", "--db", tmp.sub("shard\(s)")])
            #expect(r.0 == 0, "\(r.2)")
            r = try run(vdb, ["import", "v", tmp.sub("s\(s).fvecs"), "--start-id", "\(s * 300)", "--db", tmp.sub("shard\(s)")])
            #expect(r.0 == 0, "\(r.2)")
        }
        // Shared centroids, filled into both shards, concatenated by the merge.
        var r = try run(vdb, ["index", "train", "v", "--type", "ivf_sq8", "--nlist", "8", "--out", tmp.sub("v.ivfq"), "--quiet",
                              "--from", tmp.sub("shard0"), "--from", tmp.sub("shard1")])
        #expect(r.0 == 0 && r.1.contains("nlist=8") && r.1.contains("from 2 database(s)"), "\(r.1) \(r.2)")
        for s in 0..<2 {
            r = try run(vdb, ["index", "build", "v", "--centroids", tmp.sub("v.ivfq"), "--db", tmp.sub("shard\(s)"), "--quiet"])
            #expect(r.0 == 0 && r.1.contains("from the centroids"), "\(r.1) \(r.2)")
        }
        r = try run(vdb, ["index", "build", "v", "--centroids", tmp.sub("v.ivfq"), "--type", "ivf_flat", "--db", tmp.sub("shard0")])
        #expect(r.0 == 1 && r.2.contains("holds ivf_sq8 centroids"), "\(r.2)")
        r = try run(vdb, ["merge", tmp.sub("out"), tmp.sub("shard0"), tmp.sub("shard1"), "--json"])
        #expect(r.0 == 0, "\(r.2)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.1.utf8)) as? [String: Any])
        let first = try #require((summary["collections"] as? [[String: Any]])?.first)
        #expect(first["count"] as? Int == 600 && first["index_merge"] as? String == "concatenated")
        r = try run(vdb, ["merge", tmp.sub("out"), tmp.sub("shard0")])
        #expect(r.0 == 1 && r.2.contains("already exists in"), "\(r.2)")
        r = try run(vdb, ["merge", tmp.sub("out2"), tmp.sub("nothing")])
        #expect(r.0 == 1 && r.2.contains("is not a vdb database"), "\(r.2)")

        // Export and import back: same rows.
        r = try run(vdb, ["export", "v", tmp.sub("v.arrows"), "--db", tmp.sub("out"), "--batch-size", "100"])
        #expect(r.0 == 0 && r.1.contains("exported 600 vectors"), "\(r.1) \(r.2)")
        r = try run(vdb, ["import", "copy", tmp.sub("v.arrows"), "--db", tmp.sub("copy")])
        #expect(r.0 == 0 && r.1.contains("imported 600 vectors"), "\(r.1) \(r.2)")
        for (db, name) in [("out", "v"), ("copy", "copy")] {
            r = try run(vdb, ["export", name, tmp.sub("\(db).jsonl"), "--db", tmp.sub(db)])
            #expect(r.0 == 0, "\(r.2)")
        }
        let a = try String(contentsOfFile: tmp.sub("out.jsonl"), encoding: .utf8).split(separator: "\n").sorted()
        let b = try String(contentsOfFile: tmp.sub("copy.jsonl"), encoding: .utf8).split(separator: "\n").sorted()
        #expect(a.count == 600 && a == b)
        r = try run(vdb, ["export", "v", tmp.sub("v.unknown"), "--db", tmp.sub("out")])
        #expect(r.0 != 0 && r.2.contains("pass --format"), "\(r.2)")
        r = try run(vdb, ["export", "v", tmp.sub("v.parquet"), "--db", tmp.sub("out")], env: ["VDB_PYTHON": tmp.sub("no-such-python")])
        #expect(r.0 == 1 && r.2.contains("Parquet needs Python with pyarrow"), "\(r.2)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("v.parquet")))
        r = try run(vdb, ["ingest", tmp.url.path, "--shard", "4/4", "--db", tmp.sub("x")])
        #expect(r.0 != 0 && r.2.contains("--shard"), "\(r.2)")
    }
}
