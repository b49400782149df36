import Foundation
import Testing
import VDBTestSupport
import VDBCLIP
@testable import VDBCore
@testable import VDBIngest

/// Deterministic shards (`--shard I/N`, `--files`), and shards merged back into one collection.
@Suite(.serialized) struct ShardingTests {
    static let demo: CLIPModel? = try? CLIPModel.load(directory: Repo.demoModel, threads: 1)

    /// The images and caption files of the sample folder, as a walk of its real path reaches them.
    func sampleFiles() throws -> [String] {
        let root = Repo.samples.resolvingSymlinksInPath().path
        var files: [String] = []
        var walker = FolderWalker(roots: [root])
        while let listing = walker.next() { files += listing.files.map(\.path) }
        return files
    }

    @Test func shardSpecsParseAndCoverTheIDSpace() throws {
        let s = try ShardSpec(parsing: "2/8")
        #expect(s.index == 2 && s.count == 8 && s.description == "2/8")
        for bad in ["8/8", "-1/4", "1/0", "x", "1/2/3", "3/70000"] {
            #expect(throws: VDBError.self, "'\(bad)'") { _ = try ShardSpec(parsing: bad) }
        }
        #expect(ShardSpec.shard(of: 0, count: 5) == 0)
        #expect(ShardSpec.shard(of: 0x7fff_ffff_ffff_ffff, count: 5) == 4)
        #expect(ShardSpec.shard(of: 1 << 62, count: 2) == 1 && ShardSpec.shard(of: (1 << 62) - 1, count: 2) == 0)
        // Path ids spread evenly: 8000 paths over 4 shards, each within 10% of 2000.
        var sizes = [Int](repeating: 0, count: 4)
        for i in 0..<8000 { sizes[ShardSpec.shard(of: Ingestor.pathID("/photos/\(i).jpg"), count: 4)] += 1 }
        #expect(sizes.allSatisfy { abs($0 - 2000) < 200 }, "\(sizes)")
    }

    @Test func shardsPartitionTheInputTheSameWayEveryTime() throws {
        let files = try sampleFiles()
        #expect(files.count > 40)
        var seen: [String: Int] = [:]
        for i in 0..<4 {
            let shard = IngestSelection(shard: try ShardSpec(index: i, count: 4))
            for f in files where shard.admits(f) {
                #expect(seen[f] == nil, "\(f) is in two shards")
                seen[f] = i
            }
        }
        #expect(seen.count == files.count, "every file is in one shard")
        // The same assignment again, and independent of the other files.
        for f in files { #expect(try ShardSpec(index: seen[f]!, count: 4).contains(path: f)) }
    }

    @Test func fileListsResolvePathsAndReportMissingOnes() throws {
        let dir = makeTempDir("vdb-list")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try copyFixtures([("rgb_420.jpg", "a/one.jpg"), ("rgb_444.jpg", "a/b/two.jpg"), ("cmyk.jpg", "c/three.jpg")], into: dir)
        let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        let list = try IngestFileList(lines: ["# photos", "", dir + "/a/one.jpg", "  \(dir)/a/b/two.jpg  ", dir + "/c/three.jpg",
                                              dir + "/a/gone.jpg", dir + "/a"])
        #expect(list.files == [real + "/a/one.jpg", real + "/a/b/two.jpg", real + "/c/three.jpg"])
        #expect(list.roots == [real + "/a", real + "/c"], "folders inside another root are not walked twice")
        #expect(list.commonFolder == real)
        #expect(list.missing.map(\.path) == [dir + "/a/gone.jpg", dir + "/a"])
        #expect(list.missing[0].reason.contains("no such file") && list.missing[1].reason == "not a regular file")
        #expect(throws: IngestError.self) { _ = try IngestFileList(lines: ["# nothing"]) }
    }

    /// Every (id, vector bits, metadata) of a collection, sorted by id.
    func contents(_ c: Collection) throws -> [String] {
        let (ids, _) = try c.allVectors()
        return try ids.sorted().map { id in
            let r = try #require(try c.get(id: id))
            return "\(id) \(r.vector.map(\.bitPattern)) \(r.metadata.sorted { $0.key < $1.key })"
        }
    }

    @Test func fourShardsMergeIntoWhatOneIngestMakes() throws {
        let model = try #require(Self.demo, "demo model missing at \(Repo.demoModel.path)")
        let tmp = makeTempDir("vdb-shards")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        // One image per batch and one thread: embeddings do not depend on the batch (see Docs/scale-out.md).
        let base = IngestOptions(collection: "photos", batchSize: 1, threads: 1)
        let single = try Database(path: tmp + "/single")
        let all = try Ingestor(database: single, model: model).run(paths: [Repo.samples.path], options: base)
        #expect(all.added == 40 && all.captions > 0)
        var shards: [Database] = []
        var added = 0
        for i in 0..<4 {
            var options = base
            options.selection = IngestSelection(shard: try ShardSpec(index: i, count: 4))
            let db = try Database(path: tmp + "/shard\(i)")
            let s = try Ingestor(database: db, model: model).run(paths: [Repo.samples.path], options: options)
            added += s.added
            #expect(s.failed.isEmpty && s.skipped.isEmpty)
            shards.append(db)
        }
        #expect(added == 40, "the shards together ingest every image once")
        // A shard ingested again into a new database is the same (a killed task rerun elsewhere).
        var again = base
        again.selection = IngestSelection(shard: try ShardSpec(index: 1, count: 4))
        let rerun = try Database(path: tmp + "/rerun")
        _ = try Ingestor(database: rerun, model: model).run(paths: [Repo.samples.path], options: again)
        #expect(try contents(rerun.collection(named: "photos")) == contents(shards[1].collection(named: "photos")))

        let merged = try Database(path: tmp + "/merged")
        let summary = try merged.merge(shards: shards)
        #expect(summary.collections.map(\.name) == ["photos", "photos.captions"])
        for name in ["photos", "photos.captions"] {
            #expect(try contents(merged.collection(named: name)) == contents(single.collection(named: name)), "\(name)")
        }
        #expect(try merged.collection(named: "photos").property("clip.model.fingerprint") == model.fingerprint)
        // Searching the merged collection by text finds what the single one finds.
        let a = try single.collection(named: "photos").search(text: "two red circles", model: model, k: 5)
        let b = try merged.collection(named: "photos").search(text: "two red circles", model: model, k: 5)
        #expect(a.map(\.id) == b.map(\.id) && a.map(\.distance) == b.map(\.distance))

        // A file list takes exactly the listed files, under the ids a folder ingest gives them.
        let files = try sampleFiles().filter { $0.hasSuffix(".jpg") }.prefix(5)
        var listed = base
        let list = try IngestFileList(lines: Array(files))
        listed.selection = IngestSelection(files: list.files)
        let part = try Database(path: tmp + "/listed")
        let s = try Ingestor(database: part, model: model).run(paths: list.roots, options: listed)
        #expect(s.added == 5)
        let photos = try single.collection(named: "photos")
        for f in files { #expect(try part.collection(named: "photos").get(id: Ingestor.pathID(f))?.vector == photos.get(id: Ingestor.pathID(f))?.vector) }
    }
}
