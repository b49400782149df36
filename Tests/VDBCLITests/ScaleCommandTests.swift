import Foundation
import Testing

/// `vdb export`, `vdb import` of tables, `vdb index train` / `build --centroids`, `vdb merge` and
/// `vdb ingest --shard`, run as the binary.
@Suite struct ScaleCommandTests {
    @Test func exportImportTrainBuildAndMergeThroughTheBinary() throws {
        let box = try Sandbox("vdb-scale"); defer { box.cleanup() }
        let base = randomVectors(600, 8, seed: 4)
        for s in 0..<2 {
            let file = try box.fvecs("s\(s).fvecs", Array(base[(s * 300)..<((s + 1) * 300)]))
            try box.ok(["create", "v", "--dim", "8", "--metric", "l2", "--db", box.path("shard\(s)")])
            try box.ok(["import", "v", file, "--start-id", "\(s * 300)", "--db", box.path("shard\(s)")])
        }
        // Shared centroids, filled into both shards, concatenated by the merge.
        var r = try box.ok(["index", "train", "v", "--type", "ivf_sq8", "--nlist", "8", "--out", box.path("v.ivfq"), "--quiet",
                            "--from", box.path("shard0"), "--from", box.path("shard1")])
        #expect(r.stdout.contains("nlist=8") && r.stdout.contains("from 2 database(s)"), "\(r)")
        for s in 0..<2 {
            r = try box.ok(["index", "build", "v", "--centroids", box.path("v.ivfq"), "--db", box.path("shard\(s)"), "--quiet"])
            #expect(r.stdout.contains("from the centroids"), "\(r)")
        }
        r = try box.run(["index", "build", "v", "--centroids", box.path("v.ivfq"), "--type", "ivf_flat", "--db", box.path("shard0")])
        #expect(r.status == 1 && r.stderr.contains("holds ivf_sq8 centroids"), "\(r)")
        r = try box.run(["index", "train", "v", "--type", "hnsw", "--nlist", "8", "--out", box.path("x.ivfq"), "--db", box.path("shard0")])
        #expect(r.status == 64 && r.stderr.contains("--type must be ivf_flat or ivf_sq8"), "\(r)")
        r = try box.ok(["merge", box.path("out"), box.path("shard0"), box.path("shard1"), "--json"])
        #expect(try jsonKeys(r.stdout.dropLast()) == ["collections", "output", "seconds"])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let first = try #require((summary["collections"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["count", "duplicates", "index", "index_merge", "name", "seconds", "shards"])
        #expect(first["count"] as? Int == 600 && first["index_merge"] as? String == "concatenated", "\(summary)")
        r = try box.run(["merge", box.path("out"), box.path("shard0")])
        #expect(r.status == 1 && r.stderr.contains("already exists in"), "\(r)")
        r = try box.run(["merge", box.path("out2"), box.path("nothing")])
        #expect(r.status == 1 && r.stderr.contains("is not a vdb database"), "\(r)")
        r = try box.run(["merge", box.path("out2"), box.path("shard0"), "--batch-size", "0"])
        #expect(r.status == 64 && r.stderr.contains("--batch-size must be >= 1 (got 0)"), "\(r)")

        // Export and import back: same rows.
        r = try box.ok(["export", "v", box.path("v.arrows"), "--db", box.path("out"), "--batch-size", "100"])
        #expect(r.stdout.contains("exported 600 vectors"), "\(r)")
        r = try box.ok(["import", "copy", box.path("v.arrows"), "--db", box.path("copy")])
        #expect(r.stdout.contains("imported 600 vectors"), "\(r)")
        for (db, name) in [("out", "v"), ("copy", "copy")] {
            try box.ok(["export", name, box.path("\(db).jsonl"), "--db", box.path(db)])
        }
        let a = try String(contentsOfFile: box.path("out.jsonl"), encoding: .utf8).split(separator: "\n").sorted()
        let b = try String(contentsOfFile: box.path("copy.jsonl"), encoding: .utf8).split(separator: "\n").sorted()
        #expect(a.count == 600 && a == b)
        r = try box.ok(["export", "v", box.path("v.npy"), "--db", box.path("out"), "--json"])
        #expect(try jsonKeys(r.stdout.dropLast()) == ["bytes", "collection", "count", "files", "format", "seconds"])
        let exported = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(exported["count"] as? Int == 600 && (exported["files"] as? [String])?.count == 2, "\(exported)")
        r = try box.run(["export", "v", box.path("v.unknown"), "--db", box.path("out")])
        #expect(r.status == 64 && r.stderr.contains("pass --format"), "\(r)")
        r = try box.run(["export", "v", box.path("v.parquet"), "--db", box.path("out")], env: ["VDB_PYTHON": box.path("no-such-python")])
        #expect(r.status == 1 && r.stderr.contains("Parquet needs Python with pyarrow"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: box.path("v.parquet")))
        r = try box.run(["ingest", box.url.path, "--shard", "4/4", "--db", box.path("x")])
        #expect(r.status == 64 && r.stderr.contains("--shard"), "\(r)")
        r = try box.run(["ingest", "--db", box.path("x")])
        #expect(r.status == 64 && r.stderr.contains("--files LIST"), "\(r)")
    }
}
