import Foundation
import Testing
import VDBTestSupport

/// `vdb bench` run as a binary (the executable SwiftPM builds next to this test bundle) on tiny
/// seeded synthetic data: the JSON lines it prints, and its range errors.
@Suite struct BenchCommandProcessTests {
    /// The JSON objects of `vdb bench --json` output, one per line.
    func records(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "not a JSON object: \($0)")
        }
    }

    @Test func flatIsExactAndHNSWReportsRecallInRange() throws {
        let vdb = try #require(vdbExecutable(), "the vdb executable was not found next to the test bundle (swift build first)")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }

        // Synthetic data generated in-process by the command.
        var r = try run(vdb, ["bench", "--synthetic", "400:8:4", "--synthetic-queries", "20", "--index", "flat",
                              "--latency-queries", "5", "--threads", "0", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        var lines = try records(r.stdout)
        #expect(lines.count == 1)
        #expect(lines.first?["recall"] as? Double == 1.0)
        #expect(lines.first?["index"] as? String == "flat")
        // --threads 0 means all cores, reported resolved.
        #expect(lines.first?["threads"] as? Int == ProcessInfo.processInfo.activeProcessorCount)

        // A dataset folder written by `vdb bench synth`, --db before the subcommand, HNSW sweep.
        r = try run(vdb, ["bench", "synth", "--out", tmp + "/data", "--n", "300", "--dim", "8", "--queries", "15",
                          "--gt-k", "10", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["base.fvecs", "query.fvecs", "gt_l2.ivecs", "gt_ip.ivecs"] {
            #expect(FileManager.default.fileExists(atPath: tmp + "/data/" + f), "\(f)")
        }
        r = try run(vdb, ["--db", tmp + "/db", "bench", "--dataset", tmp + "/data", "--metric", "cosine", "--index", "hnsw",
                          "--M", "8", "--ef-construction", "32", "--ef", "4,64", "--latency-queries", "3",
                          "--results-dir", tmp + "/ids", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        lines = try records(r.stdout)
        #expect(lines.count == 2)
        for line in lines {
            let recall = try #require(line["recall"] as? Double, "recall missing in \(line)")
            #expect((0.0 ... 1.0).contains(recall))
            #expect(line["k"] as? Int == 10 && line["threads"] as? Int == 1)
            #expect((line["qps"] as? Double ?? 0) > 0 && (line["bytes"] as? Int ?? 0) > 0)
            let file = try #require(line["results_file"] as? String)
            #expect(FileManager.default.fileExists(atPath: tmp + "/ids/" + file))
        }
        #expect((lines.map { $0["params"] as? [String: Int] }) == [["M": 8, "efConstruction": 32, "ef": 4],
                                                                     ["M": 8, "efConstruction": 32, "ef": 64]])
        // The kept database holds the collection (--db before the subcommand reached `bench run`).
        #expect(FileManager.default.fileExists(atPath: tmp + "/db"))

        // The table form names the index and the data.
        r = try run(vdb, ["bench", "run", "--synthetic", "100:4", "--synthetic-queries", "5", "--latency-queries", "2"])
        #expect(r.status == 0 && r.stdout.contains("flat on 100 x 4 (l2), 5 queries") && r.stdout.contains("recall"), "\(r)")
    }

    @Test func rangeAndValueErrorsNameTheFlag() throws {
        let vdb = try #require(vdbExecutable(), "the vdb executable was not found next to the test bundle (swift build first)")
        let data = ["--synthetic", "50:4", "--synthetic-queries", "3"]
        let cases: [([String], String)] = [
            (data + ["-k", "0"], "-k must be >= 1 (got 0)"),
            (data + ["-k", "-1"], "-k must be >= 1 (got -1)"),
            (data + ["--threads", "-2"], "--threads must be >= 0 (got -2)"),
            (data + ["--runs", "0"], "--runs must be >= 1 (got 0)"),
            (data + ["--ef", "16,0"], "--ef values must be >= 1, got 0"),
            (data + ["--nprobe", "1,x"], "--nprobe wants comma-separated integers >= 1"),
            (data + ["--M", "1"], "--M must be >= 2 (got 1)"),
            (data + ["--metric", "hamming"], "--metric"),
            (data + ["--index", "lsh"], "--index"),
            (["--limit-queries", "0", "--synthetic", "50:4"], "--limit-queries must be >= 1 (got 0)"),
            ([], "give --base and --queries, --dataset DIR, or --synthetic N:D[:clusters]"),
            (["synth", "--out", "/tmp/x", "--n", "0", "--dim", "4"], "--n must be >= 1 (got 0)"),
            (["synth", "--out", "/tmp/x", "--n", "5", "--dim", "4", "--metrics", "l1"], "--metrics takes l2 and/or ip"),
        ]
        for (args, expected) in cases {
            let r = try run(vdb, ["bench"] + args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        // The enum flags list their choices in the help.
        let help = try run(vdb, ["bench", "run", "--help"])
        #expect(help.stdout.contains("ivf_sq8") && help.stdout.contains("cosine") && help.stdout.contains("0 = all cores"))
    }
}

/// Runs a process to completion.
func run(_ exe: URL, _ args: [String]) throws -> ProcessOutput { try runProcess(exe, args) }
