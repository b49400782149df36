import Foundation
import Testing
import VDBCLIP
import VDBIngest
import VDBTestSupport

/// `index build`, `embed`, `classify`, `ingest` and photo search, run as the binary with `--json`.
@Suite struct CommandTests {
    @Test(arguments: ["hnsw", "ivf_flat"])
    func indexBuildThenSearchFindsEveryProbe(kind: String) throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let base = randomVectors(300, 8, seed: 7)
        try box.ok(["create", "c", "--dim", "8", "--db", box.db])
        try box.ok(["import", "c", try box.fvecs("base.fvecs", base), "--db", box.db])
        let build = try box.ok(["index", "build", "c", "--type", kind, "--M", "8", "--ef-construction", "40", "--nlist", "4",
                                "--seed", "3", "--threads", "1", "--json", "--db", box.db])
        #expect(try jsonKeys(build.stdout.dropLast()) == ["collection", "count", "index", "index_memory_bytes", "parameters", "seconds"])
        let built = try #require(try decodeLines(Shape.IndexBuild.self, build.stdout).first)
        #expect(built.collection == "c" && built.index == kind && built.count == 300)
        #expect(built.parameters.seed == 3 && built.parameters.buildThreads == 1)
        #expect(kind == "hnsw" ? built.parameters.m == 8 && built.parameters.efConstruction == 40 : built.parameters.nlist == 4)
        #expect(built.indexMemoryBytes > 0 && built.seconds >= 0)

        let info = try #require(try decodeLines(Shape.CollectionInfo.self, try box.ok(["info", "c", "--json", "--db", box.db]).stdout).first)
        #expect(info.index == kind && info.indexBuilt && info.count == 300 && info.indexMemoryBytes > 0)

        // Stored vectors as queries: each finds itself first at distance 0 (all lists / a wide beam).
        let probes = [0, 17, 150, 299]
        let queries = try box.fvecs("q.fvecs", probes.map { base[$0] })
        let r = try box.ok(["search", "c", "-k", "3", "--queries", queries, "--nprobe", "4", "--ef", "100", "--threads", "2", "--json", "--db", box.db])
        let lines = try decodeLines(Shape.Search.self, r.stdout)
        #expect(lines.map(\.query) == [0, 1, 2, 3])
        for (line, probe) in zip(lines, probes) {
            #expect(line.results.count == 3)
            #expect(line.results.first?.id == UInt64(probe) && line.results.first?.distance == 0, "\(line.results)")
            #expect(line.results.map(\.distance) == line.results.map(\.distance).sorted())
        }
        // The whole database as JSON.
        let all = try #require(try decodeLines(Shape.DatabaseInfo.self, try box.ok(["info", "--json", "--db", box.db]).stdout).first)
        #expect(all.collections.map(\.name) == ["c"] && all.bytesOnDisk > 0 && !all.path.isEmpty)
    }

    @Test func embedPrintsTheLibrarysEmbeddings() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let image = Repo.samples.appendingPathComponent("red-circle-01.jpg").path
        // No --model: the bundled demo model.
        let r = try box.ok(["embed", "--text", "a red circle", "--text", "two blue squares", "--image", image, "--threads", "1", "--json"])
        #expect(try r.lines.map(jsonKeys) == Array(repeating: ["embedding"], count: 3))
        let printed = try decodeLines(Shape.Embedding.self, r.stdout).map(\.embedding)
        let model = try CLIPModel.load(directory: Repo.demoModel, threads: 1)
        let expected = try model.embed(texts: ["a red circle", "two blue squares"])
            + model.embed(pixels: [CLIPImageLoader.pixels(fromFile: image, config: model.preprocess)])
        #expect(printed.map(\.count) == [128, 128, 128])
        for (p, e) in zip(printed, expected) {
            #expect(zip(p, e).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
        }
        // The plain form is the same numbers as a list per line.
        let plain = try box.ok(["embed", "--text", "a red circle", "--threads", "1"])
        #expect(plain.lines.count == 1 && plain.stdout.hasPrefix("[") && plain.stdout.split(separator: ",").count == 128)
    }

    @Test func classifyPutsTheRightColourFirst() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let image = Repo.samples.appendingPathComponent("red-circle-01.jpg").path
        let labels = ["green", "red", "blue", "yellow"]
        let r = try box.ok(["classify", image, "--labels", labels.joined(separator: ","), "--template", "a photo of a {} shape",
                            "--model", Repo.demoModel.path, "--json"])
        #expect(try jsonKeys(r.stdout.dropLast()) == ["image", "labels", "probabilities"])
        let c = try #require(try decodeLines(Shape.Classification.self, r.stdout).first)
        #expect(c.image == image && c.labels == labels)
        #expect(abs(c.probabilities.reduce(0, +) - 1) < 1e-4)
        #expect(c.probabilities.firstIndex(of: c.probabilities.max() ?? 0) == 1, "\(c.probabilities)")
        let table = try box.ok(["classify", image, "--labels", labels.joined(separator: ","), "--template", "a photo of a {} shape"])
        #expect(table.lines.first?.hasPrefix("red\t") == true, "\(table)")
    }

    @Test func ingestThenSearchByTextUsesTheCollectionsModel() throws {
        let box = try Sandbox(); defer { box.cleanup() }
        let photos = box.path("photos")
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        for name in ["red-circle-01.jpg", "blue-squares-01.png", "yellow-star-01.jpg"] {
            try FileManager.default.copyItem(atPath: Repo.samples.appendingPathComponent(name).path, toPath: photos + "/" + name)
        }
        let r = try box.ok(["ingest", photos, "--collection", "shots", "--model", Repo.demoModel.path, "--batch-size", "2", "--json", "--db", box.db])
        #expect(try jsonKeys(r.stdout.dropLast()) == ["added", "captions", "collection", "count", "failed", "images_per_second",
                                                     "model", "pruned", "seconds", "skipped", "unchanged", "updated"])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let summary = try decoder.decode(IngestSummary.self, from: Data(r.stdout.utf8))
        #expect(summary.collection == "shots" && summary.added == 3 && summary.count == 3 && summary.failed.isEmpty)

        // No --model and no $VDB_MODEL: the model recorded by the ingest.
        for (query, expected) in [("a red circle", "red-circle-01.jpg"), ("a yellow star on a black background", "yellow-star-01.jpg")] {
            let s = try box.ok(["search", "shots", "--text", query, "-k", "3", "--json", "--db", box.db])
            let hits = try #require(try decodeLines(Shape.Search.self, s.stdout).first).results
            #expect(hits.count == 3)
            #expect(hits.first?.metadata["path"].map { if case .string(let p) = $0 { p.hasSuffix(expected) } else { false } } == true, "\(query): \(hits)")
            #expect(hits.first?.metadata["width"].map { if case .int = $0 { true } else { false } } == true)
        }
        // $VDB_MODEL outranks the collection's record (and here names no model).
        let env = try box.run(["search", "shots", "--text", "a red circle", "--db", box.db], env: ["VDB_MODEL": box.path("elsewhere")])
        #expect(env.status == 1 && env.stderr.contains(box.path("elsewhere")), "\(env)")
        // --captions on a collection without captions is a one-line error.
        let captions = try box.run(["search", "shots", "--text", "a red circle", "--captions", "--db", box.db])
        #expect(captions.status == 1 && captions.stderr.contains("has no captions"), "\(captions)")
    }
}
