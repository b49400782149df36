import Foundation
import Testing
import VDBTestSupport

/// The command line takes real input: `--db` anywhere, negative numbers, range errors, enum values.
@Suite struct ArgumentTests {
    /// A database with collection `c` (dimension 3, l2) holding ids 0, 1, 2.
    func threePoints(_ box: Sandbox) throws {
        try box.ok(["create", "c", "--dim", "3", "--db", box.db])
        let file = try box.fvecs("p.fvecs", [[0.5, 0.5, 0.5], [-0.41, 0.2, -0.9], [-0.4, 0.2, 0.1]])
        try box.ok(["import", "c", file, "--db", box.db])
    }

    func indexBuilt(_ box: Sandbox) throws -> Bool {
        let r = try box.ok(["info", "c", "--json", "--db", box.db])
        return try decodeLines(Shape.CollectionInfo.self, r.stdout).first?.indexBuilt == true
    }

    @Test func dbIsAcceptedBeforeAndAfterEverySubcommandName() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let db = box.db
        // Top-level commands: before and after the name, both spellings.
        try box.ok(["--db", db, "create", "c", "--dim", "3"])
        try box.ok(["import", "--db=\(db)", "c", try box.fvecs("p.fvecs", randomVectors(50, 3, seed: 1))])
        try box.ok(["info", "c", "--db", db])
        // Nested `index build` / `index drop`: before `index`, between the names, after the leaf.
        let builds: [[String]] = [
            ["--db", db, "index", "build", "c", "--type", "hnsw"],
            ["index", "--db", db, "build", "c", "--type", "hnsw"],
            ["index", "build", "c", "--type", "hnsw", "--db", db],
            ["--db=\(db)", "index", "build", "c", "--type", "hnsw"],
            ["index", "--db=\(db)", "build", "--type", "hnsw", "c"],
            ["index", "build", "--db=\(db)", "c", "--type", "hnsw"],
        ]
        let drops: [[String]] = [["--db", db, "index", "drop", "c"], ["index", "--db", db, "drop", "c"], ["index", "drop", "c", "--db=\(db)"]]
        for (i, build) in builds.enumerated() {
            try box.ok(build + ["--quiet"])
            #expect(try indexBuilt(box), "\(build)")
            try box.ok(drops[i % drops.count])
            #expect(try !indexBuilt(box), "\(drops[i % drops.count])")
        }
        // Commands that use no database accept (and ignore) it too, so a script can always pass it.
        #expect(try box.run(["--db", db, "embed", "--text", "x", "--model", box.path("none")]).stderr.contains("none"))
        // `--db` without its value is an argument error.
        let bad = try box.run(["index", "build", "c", "--db"])
        #expect(bad.status == 64 && bad.stderr.hasPrefix("error: Missing value for '--db"), "\(bad)")
        // Before names that stop short of a command, it is ignored: the parser says what is missing.
        let noLeaf = try box.run(["--db", db, "index", "bogus"])
        #expect(noLeaf.status == 64 && noLeaf.stderr.contains("bogus") && !noLeaf.stderr.contains("--db"), "\(noLeaf)")
        #expect(try box.ok(["--db", db, "help", "index", "build"]).stdout.contains("USAGE: vdb index build"))
    }

    @Test func negativeVectorsInBothSpellingsFindTheirNeighbour() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        try threePoints(box)
        for args in [["--vector", "-0.41,0.2,-0.9"], ["--vector=-0.41,0.2,-0.9"], ["-k", "1", "--vector", "-0.41, 0.2, -0.9"]] {
            let r = try box.ok(["search", "c", "-k", "1", "--json", "--db", box.db] + args)
            let hits = try #require(try decodeLines(Shape.Search.self, r.stdout).first).results
            #expect(hits.map(\.id) == [1], "\(args): \(r)")
            #expect(hits.first?.distance == 0)
        }
        let near = try box.ok(["search", "c", "--vector", "-0.39,0.2,0.1", "-k", "2", "--json", "--db", box.db])
        #expect(try decodeLines(Shape.Search.self, near.stdout).first?.results.map(\.id) == [2, 1])
    }

    @Test(arguments: [
        (["search", "c", "-k", "-1", "--vector", "1,2,3"], "-k must be >= 1 (got -1)"),
        (["search", "c", "-k", "0", "--vector", "1,2,3"], "-k must be >= 1 (got 0)"),
        (["search", "c", "--ef", "-3", "--vector", "1,2,3"], "--ef must be >= 1 (got -3)"),
        (["search", "c", "--nprobe", "-1", "--vector", "1,2,3"], "--nprobe must be >= 1 (got -1)"),
        (["search", "c", "--threads", "-2", "--vector", "1,2,3"], "--threads must be >= 0 (got -2)"),
        (["search", "c", "--vector", "1,abc,3"], "--vector: 'abc' (component 1) is not a finite number"),
        (["create", "d", "--dim", "-3"], "--dim must be >= 1 (got -3)"),
        (["create", "d", "--dim", "3", "--index", "hnsw", "--M", "-1"], "--M must be >= 2 (got -1)"),
        (["import", "c", "x.fvecs", "--batch-size", "0"], "--batch-size must be >= 1 (got 0)"),
        (["index", "build", "c", "--nlist", "-5"], "--nlist must be >= 1 (got -5)"),
        (["index", "build", "c", "--threads", "-1"], "--threads must be >= 0 (got -1)"),
        (["ingest", "photos", "--batch-size", "-1"], "--batch-size must be >= 1 (got -1)"),
        (["embed", "--text", "a", "--threads", "-4"], "--threads must be >= 0 (got -4)"),
        (["delete", "c", "--ids", "-1"], "--ids: '-1' is not a non-negative integer id"),
    ])
    func outOfRangeValuesNameTheFlagAndTheRange(args: [String], message: String) throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let r = try box.run(args + ["--db", box.db])
        #expect(r.status == 64, "\(args): \(r)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("error: \(message)") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r)")
        #expect(r.stderr.contains("--help"), "\(r)")
    }

    @Test func enumOptionsListTheirValues() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let metric = try box.run(["create", "x", "--dim", "3", "--metric", "foo", "--db", box.db])
        #expect(metric.status == 64 && metric.stderr.split(separator: "\n").count == 1, "\(metric)")
        #expect(metric.stderr.contains("'foo'") && ["'l2'", "'ip'", "'cosine'"].allSatisfy(metric.stderr.contains), "\(metric)")
        #expect(metric.stderr.contains("see 'vdb create --help'"), "\(metric)")
        let type = try box.run(["index", "build", "x", "--type", "btree", "--db", box.db])
        #expect(type.status == 64 && ["'flat'", "'ivf_flat'", "'ivf_sq8'", "'hnsw'"].allSatisfy(type.stderr.contains), "\(type)")
        #expect(type.stderr.contains("see 'vdb index build --help'"), "\(type)")
        let help = try box.ok(["create", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("values: l2, ip, cosine") && help.contains("values: flat, ivf_flat, ivf_sq8, hnsw"), "\(help)")
        // Names are case-insensitive and the dashed spelling of an index kind works.
        try box.ok(["create", "y", "--dim", "3", "--metric", "COSINE", "--index", "ivf-flat", "--db", box.db])
        let info = try box.ok(["info", "y", "--json", "--db", box.db])
        let y = try #require(try decodeLines(Shape.CollectionInfo.self, info.stdout).first)
        #expect(y.metric == "cosine" && y.index == "ivf_flat")
    }

    @Test func runtimeErrorsArePrintedOnceWithStatusOne() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        try threePoints(box)
        let cases: [([String], String)] = [
            (["search", "nope", "--vector", "1"], "no collection named 'nope'"),
            (["search", "c", "--vector", "1,2"], "--vector has 2 components but collection 'c' has dimension 3"),
            (["import", "c", box.path("missing.fvecs")], "missing.fvecs"),
            (["create", "c", "--dim", "3"], "'c'"),
            (["index", "build", "c"], "has no index type"),
            (["embed", "--text", "a", "--model", box.path("no-model")], box.path("no-model")),
            (["classify", box.path("none.jpg"), "--labels", "a,b"], "none.jpg"),
        ]
        for (args, fragment) in cases {
            let r = try box.run(args + ["--db", box.db])
            #expect(r.status == 1, "\(args): \(r)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r)")
            #expect(r.stderr.contains(fragment) && !r.stderr.contains("--help"), "\(args): \(r)")
        }
        let notDB = try box.run(["info", "--db", box.url.path])
        #expect(notDB.status == 1 && notDB.stderr.contains("not a vdb database"), "\(notDB)")
    }
}
