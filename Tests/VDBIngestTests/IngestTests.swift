import Foundation
import Synchronization
import Testing
import VDBCLIP
import VDBCore
@testable import VDBIngest
import VDBSupport
import VDBTestSupport

/// Copies fixture images into `dir` under new names.
func copyFixtures(_ pairs: [(String, String)], into dir: String) throws {
    let fm = FileManager.default
    for (src, dst) in pairs {
        let target = dir + "/" + dst
        try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try fm.copyItem(atPath: Repo.images.appendingPathComponent(src).path, toPath: target)
    }
}

@Suite(.serialized) struct IngestTests {
    static let model: CLIPModel? = try? CLIPModel.load(directory: Repo.tinyModel, threads: 1)

    /// A folder with good images of every kind and every bad input of the issue.
    func makePhotoFolder() throws -> String {
        let root = makeTempDir("vdb-photos")
        try copyFixtures([
            ("rgb_420.jpg", "beach.jpg"), ("cmyk.jpg", "print/cmyk.jpg"), ("gray16.png", "scan16.png"),
            ("palette_trns.png", "icons/palette.png"), ("one_pixel.jpg", "tiny.jpg"), ("tall_17x900.png", "tall.png"),
            ("wide_900x17.jpg", "wide.jpg"), ("png_named.jpg", "really-a-png.jpg"), ("large_1920x1440.jpg", "big.jpg"),
            ("exif_orient6.jpg", "rotated.jpg"),
            ("empty.jpg", "zero.jpg"), ("text.jpg", "notes.jpg"), ("truncated.jpg", "cut.jpg"), ("corrupt.jpg", "broken.jpg"),
            ("rgb_444.jpg", ".hidden/secret.jpg"),
        ], into: root)
        try "a sunny beach".write(toFile: root + "/beach.txt", atomically: true, encoding: .utf8)
        try "file,caption\ncmyk.jpg,a printed page\n".write(toFile: root + "/print/captions.csv", atomically: true, encoding: .utf8)
        // Unreadable: a dangling link (root can read any permission-protected file).
        try FileManager.default.createSymbolicLink(atPath: root + "/gone.jpg", withDestinationPath: root + "/nowhere.jpg")
        return root
    }

    @Test func ingestCountsReasonsResumeChangesAndPrune() throws {
        let model = try #require(IngestTests.model, "tiny CLIP fixture missing at \(Repo.tinyModel.path)")
        let photos = try makePhotoFolder()
        let dbDir = makeTempDir("vdb-ingest-db")
        defer { try? FileManager.default.removeItem(atPath: photos); try? FileManager.default.removeItem(atPath: dbDir) }
        let db = try Database(path: dbDir)
        let ingestor = Ingestor(database: db, model: model)
        var reports: [IngestProgress] = []
        let s1 = try ingestor.run(paths: [photos], options: IngestOptions(collection: "photos", batchSize: 3, threads: 2)) {
            reports.append($0)
        }
        #expect(s1.added == 10)
        #expect(s1.unchanged == 0)
        #expect(Set(s1.skipped.map { ($0.path as NSString).lastPathComponent }) == ["zero.jpg", "notes.jpg"])
        #expect(s1.skipped.first { $0.path.hasSuffix("zero.jpg") }?.reason.contains("empty") == true)
        #expect(s1.skipped.first { $0.path.hasSuffix("notes.jpg") }?.reason.contains("text") == true)
        #expect(Set(s1.failed.map { ($0.path as NSString).lastPathComponent }) == ["cut.jpg", "broken.jpg", "gone.jpg"])
        #expect(s1.failed.first { $0.path.hasSuffix("gone.jpg") }?.reason.contains("broken symbolic link") == true)
        #expect(s1.captions == 2)
        // 14 files (caption files and hidden ones not counted) + the dangling link.
        #expect(reports.last?.processed == 15 && reports.last?.total == 15)
        let photosCollection = try db.collection(named: "photos")
        #expect(try photosCollection.count() == 10)

        // Metadata per image.
        let beachID = Ingestor.pathID(URL(fileURLWithPath: photos + "/beach.jpg").resolvingSymlinksInPath().path)
        let beach = try #require(try photosCollection.get(id: beachID))
        #expect(beach.metadata["caption"] == "a sunny beach")
        #expect(beach.metadata["width"] == .int(640) && beach.metadata["height"] == .int(480))
        #expect(beach.metadata["bytes"] == .int(23201))
        #expect(beach.metadata["sha256"]?.stringValue?.count == 64)
        let rotated = try #require(try photosCollection.get(id: Ingestor.pathID(URL(fileURLWithPath: photos + "/rotated.jpg").resolvingSymlinksInPath().path)))
        #expect(rotated.metadata["width"] == .int(240) && rotated.metadata["height"] == .int(320))  // EXIF 6 applied
        let captions = try db.collection(named: "photos.captions")
        #expect(try captions.count() == 2)
        #expect(try captions.get(id: beachID)?.metadata["caption"] == "a sunny beach")

        // A second run embeds nothing.
        let s2 = try ingestor.run(paths: [photos], options: IngestOptions(collection: "photos"))
        #expect(s2.added == 0 && s2.updated == 0 && s2.unchanged == 10 && s2.captions == 0)

        // A changed file is re-embedded; an edited caption updates only the caption.
        try FileManager.default.removeItem(atPath: photos + "/big.jpg")
        try copyFixtures([("photo_1024x768.jpg", "big.jpg")], into: photos)
        try "a stormy beach".write(toFile: photos + "/beach.txt", atomically: true, encoding: .utf8)
        let s3 = try ingestor.run(paths: [photos], options: IngestOptions(collection: "photos"))
        #expect(s3.updated == 1 && s3.added == 0 && s3.unchanged == 9 && s3.captions == 1)
        #expect(try photosCollection.get(id: beachID)?.metadata["caption"] == "a stormy beach")
        #expect(try captions.get(id: beachID)?.metadata["caption"] == "a stormy beach")
        #expect(try photosCollection.count() == 10)

        // --prune removes entries whose file is gone, in both collections.
        try FileManager.default.removeItem(atPath: photos + "/beach.jpg")
        let s4 = try ingestor.run(paths: [photos], options: IngestOptions(collection: "photos", prune: true))
        #expect(s4.pruned == 1)
        #expect(try photosCollection.count() == 9)
        #expect(try captions.get(id: beachID) == nil)

        // Hidden files only when asked.
        let s5 = try ingestor.run(paths: [photos], options: IngestOptions(collection: "photos", includeHidden: true))
        #expect(s5.added == 1)

        // Search by an image finds that image first.
        let hits = try photosCollection.search(image: photos + "/tall.png", model: model, k: 3)
        #expect(hits.first?.metadata["path"]?.stringValue?.hasSuffix("tall.png") == true)
        #expect(abs((hits.first?.distance ?? 0) - 1) < 1e-4)
    }

    @Test func anotherModelIsRefusedAndMissingFoldersThrow() throws {
        let model = try #require(IngestTests.model)
        let other = try CLIPModel.load(directory: Repo.otherModel, threads: 1)
        let photos = makeTempDir("vdb-photos")
        let dbDir = makeTempDir("vdb-ingest-db")
        defer { try? FileManager.default.removeItem(atPath: photos); try? FileManager.default.removeItem(atPath: dbDir) }
        try copyFixtures([("rgb.png", "a.png")], into: photos)
        let db = try Database(path: dbDir)
        _ = try Ingestor(database: db, model: model).run(paths: [photos], options: IngestOptions(collection: "p"))
        #expect(throws: IngestError.self) {
            try Ingestor(database: db, model: other).run(paths: [photos], options: IngestOptions(collection: "p"))
        }
        #expect(throws: IngestError.self) { try db.collection(named: "p").search(text: "a cat", model: other) }
        #expect(throws: IngestError.noUsablePaths([IngestIssue(path: "/no/such/folder", reason: "no such file or directory")])) {
            try Ingestor(database: db, model: model).run(paths: ["/no/such/folder"])
        }
        #expect(Ingestor.defaultCollectionName(for: "/home/me/My Photos/") == "My-Photos")
    }
}

@Suite struct IngestEventTests {
    @Test func asyncEventsEndWithTheSummary() async throws {
        let model = try #require(IngestTests.model)
        let photos = makeTempDir("vdb-events")
        let dbDir = makeTempDir("vdb-events-db")
        defer { try? FileManager.default.removeItem(atPath: photos); try? FileManager.default.removeItem(atPath: dbDir) }
        try copyFixtures([("rgb.png", "a.png"), ("gray.jpg", "b.jpg"), ("rgb_444.jpg", "c.jpg")], into: photos)
        let ingestor = Ingestor(database: try Database(path: dbDir), model: model)
        var progressEvents = 0
        var summary: IngestSummary?
        for try await event in ingestor.events(paths: [photos], options: IngestOptions(batchSize: 1)) {
            switch event {
            case .progress: progressEvents += 1
            case .finished(let s): summary = s
            }
        }
        #expect(progressEvents >= 3)
        #expect(summary?.added == 3)
        await #expect(throws: IngestError.self) {
            for try await _ in ingestor.events(paths: ["/no/such/dir"]) {}
        }
    }
}

/// The bundled demo model and sample photos: what the README's first command shows.
@Suite struct DemoModelTests {
    /// In float32 and in the opt-in bfloat16 (every demo query must still find its photo).
    @Test(arguments: CLIPPrecision.allCases)
    func textSearchFindsTheDescribedSampleFirst(precision: CLIPPrecision) throws {
        let model = try CLIPModel.load(directory: Repo.demoModel, precision: precision)
        let dbDir = makeTempDir("vdb-demo-db")
        defer { try? FileManager.default.removeItem(atPath: dbDir) }
        let db = try Database(path: dbDir)
        let summary = try Ingestor(database: db, model: model).run(paths: [Repo.samples.path])
        #expect(summary.added == 40 && summary.failed.isEmpty && summary.skipped.isEmpty)
        #expect(summary.captions == 17)  // 6 sidecars + 11 captions.csv rows
        let photos = try db.collection(named: summary.collection)
        func queries(_ file: String, lang: String) throws -> [(String, String)] {
            try String(contentsOf: Repo.root.appendingPathComponent("Samples/" + file), encoding: .utf8)
                .split(separator: "\n").compactMap { line -> (String, String)? in
                    guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                          let q = o["query"], let e = o["expected"], o["lang"] == lang else { return nil }
                    return (q, e)
                }
        }
        let english = try queries("demo-queries.jsonl", lang: "en")
        let chinese = try queries("demo-queries-zh.jsonl", lang: "zh")
        #expect(english.count >= 5)
        // The Chinese queries describe the same photos, and the bundled model (the bilingual
        // Chinese-CLIP-style demo model, Docs/demo-model.md) must answer both languages.
        #expect(chinese.map(\.1).sorted() == english.map(\.1).sorted())
        #expect(chinese.count == english.count)
        var bilingual = false
        if case .chineseCLIP = model.config.family { bilingual = true }
        #expect(bilingual, "the bundled demo model must be the bilingual Chinese-CLIP one")
        for (query, expected) in english + chinese {
            let top = try photos.search(text: query, model: model, k: 1).first
            #expect((top?.metadata["path"]?.stringValue as NSString?)?.lastPathComponent == expected, "\(query) (\(precision))")
        }
        // Captions are searchable too, and zero-shot colour classification works on a sample.
        let caption = try db.collection(named: summary.collection + ".captions")
        #expect(try caption.count() == 17)
        let probs = try model.classify(pixels: CLIPImageLoader.pixels(fromFile: Repo.samples.appendingPathComponent("red-circle-01.jpg").path,
                                                                     config: model.preprocess),
                                       labels: ["red", "green", "blue", "yellow"], template: "a photo of a {} shape")
        #expect(probs.firstIndex(of: probs.max() ?? 0) == 0)
    }

    /// An embedding is bit-identical while other threads run BLAS (exact batch searches here) and
    /// for any thread count: CLIP multiplies with its own GEMM, which sums every output in the
    /// same order however the columns are split. (Once the model set OpenBLAS's process-wide
    /// thread count and searches set 1, so embeddings changed in the last bits, racily.)
    @Test func embeddingsAreStableWhileSearchesUseBLAS() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Repo.samples.path)
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted().prefix(12)
        #expect(files.count == 12)
        let model = try CLIPModel.load(directory: Repo.demoModel, threads: 2)
        let pixels = try files.map { try CLIPImageLoader.pixels(fromFile: Repo.samples.appendingPathComponent($0).path, config: model.preprocess) }
        let texts = ["two small red triangles on a blue background", "a green circle", "three yellow squares"]
        let reference = (images: try model.embed(pixels: pixels), texts: try model.embed(texts: texts))

        let dbDir = makeTempDir("vdb-blas-db")
        defer { try? FileManager.default.removeItem(atPath: dbDir) }
        let db = try Database(path: dbDir)
        let vectors = try db.createCollection(name: "v", dimension: 64, metric: .l2)
        var rng = SplitMix64(seed: 7)
        let rows = (0..<3000).map { _ in (0..<64).map { _ in Float.random(in: -1...1, using: &rng) } }
        _ = try vectors.upsert(rows, ids: (0..<3000).map { UInt64($0) })
        final class Searcher: Sendable {
            let stop = Atomic<Bool>(false), searches = Atomic<Int>(0), done = Atomic<Bool>(false)
        }
        let state = Searcher()
        let queries = Array(rows.prefix(300))
        Thread {
            while !state.stop.load(ordering: .relaxed) {
                _ = try? vectors.search(batch: queries, k: 10)
                state.searches.add(1, ordering: .relaxed)
            }
            state.done.store(true, ordering: .releasing)
        }.start()
        while state.searches.load(ordering: .relaxed) == 0 { Thread.sleep(forTimeInterval: 0.005) }
        for round in 0..<4 {
            let images = try model.embed(pixels: pixels), text = try model.embed(texts: texts)
            #expect(images == reference.images && text == reference.texts, "round \(round): embeddings changed")
        }
        state.stop.store(true, ordering: .relaxed)
        while !state.done.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.005) }

        for threads in [1, 3] {
            let other = try CLIPModel.load(directory: Repo.demoModel, threads: threads)
            #expect(try other.embed(pixels: pixels) == reference.images, "\(threads) threads")
            #expect(try other.embed(texts: texts) == reference.texts, "\(threads) threads")
        }
    }
}
