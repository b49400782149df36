import Foundation
import Testing
import VDBCLIP
import VDBCore
@testable import VDBIngest
import VDBTestSupport

/// Ingest and search run unchanged with a Chinese-CLIP checkpoint (the tiny random one from
/// Scripts/make_chinese_clip_fixtures.py): Chinese captions and queries, image-to-image search.
@Suite struct ChineseModelIngestTests {
    @Test func ingestAndSearchInChinese() throws {
        let model = try CLIPModel.load(directory: Repo.clipFixtures.appendingPathComponent("tiny-chinese-clip"), threads: 1)
        let photos = makeTempDir("vdb-zh-photos")
        let dbDir = makeTempDir("vdb-zh-db")
        defer { try? FileManager.default.removeItem(atPath: photos); try? FileManager.default.removeItem(atPath: dbDir) }
        try copyFixtures([("rgb.png", "a.png"), ("gray.jpg", "b.jpg"), ("rgb_444.jpg", "c.jpg")], into: photos)
        try "雪地上两只狗".write(toFile: photos + "/b.txt", atomically: true, encoding: .utf8)
        try "file,caption\nc.jpg,红色的圆：蓝色的方块\n".write(toFile: photos + "/captions.csv", atomically: true, encoding: .utf8)
        let db = try Database(path: dbDir)
        let summary = try Ingestor(database: db, model: model).run(paths: [photos], options: IngestOptions(collection: "photos-zh"))
        #expect(summary.added == 3 && summary.captions == 2 && summary.failed.isEmpty)

        // Text search ranks the images by the model's own cosine similarities.
        let collection = try db.collection(named: "photos-zh")
        let query = "一只猫"
        let hits = try collection.search(text: query, model: model, k: 3)
        #expect(hits.count == 3)
        let q = try model.embed(texts: [query])[0]
        let expected = try ["a.png", "b.jpg", "c.jpg"].map { name -> (String, Float) in
            let e = try model.embed(images: [.file(photos + "/" + name)])[0]
            return (name, CLIPModel.cosine(q, e))
        }.sorted { $0.1 > $1.1 }
        #expect(hits.map { ($0.metadata["path"]?.stringValue as NSString?)?.lastPathComponent } == expected.map(\.0))

        // A caption is found by its own words first; an image by itself.
        let captions = try db.collection(named: Ingestor.captionCollectionName(for: "photos-zh"))
        let top = try captions.search(text: "雪地上两只狗", model: model, k: 2).first
        #expect(top?.metadata["caption"]?.stringValue == "雪地上两只狗")
        #expect(abs((top?.distance ?? 0) - 1) < 1e-4)
        let same = try collection.search(image: photos + "/c.jpg", model: model, k: 1).first
        #expect((same?.metadata["path"]?.stringValue as NSString?)?.lastPathComponent == "c.jpg")
    }
}
