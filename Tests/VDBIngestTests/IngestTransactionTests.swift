import CLMDB
import Foundation
import Synchronization
import Testing
import VDBCLIP
@testable import VDBCore
@testable import VDBIngest
import VDBTestSupport

/// An image and its caption are committed in one transaction: a batch whose commit fails leaves
/// neither, and the next run stores both.
@Suite struct IngestTransactionTests {
    @Test func imageAndCaptionCommitTogether() throws {
        let model = try #require(IngestTests.model, "tiny CLIP fixture missing at \(Repo.tinyModel.path)")
        let photos = makeTempDir("vdb-txn-photos")
        let dbDir = makeTempDir("vdb-txn-db")
        defer { try? FileManager.default.removeItem(atPath: photos); try? FileManager.default.removeItem(atPath: dbDir) }
        try copyFixtures([("rgb.png", "a.png")], into: photos)
        try "the first one".write(toFile: photos + "/a.txt", atomically: true, encoding: .utf8)
        let db = try Database(path: dbDir)
        let ingestor = Ingestor(database: db, model: model)
        let options = IngestOptions(collection: "p", batchSize: 8, threads: 1)
        #expect(try ingestor.run(paths: [photos], options: options).captions == 1)
        let images = try db.collection(named: "p")
        let captions = try db.collection(named: "p.captions")

        func id(_ name: String) -> UInt64 { Ingestor.pathID(URL(fileURLWithPath: photos + "/" + name).resolvingSymlinksInPath().path) }
        /// Whether each image is stored exactly when its caption is.
        func together(_ names: [String]) throws -> Bool {
            try names.allSatisfy { try images.contains(id: id($0)) == captions.contains(id: id($0)) }
        }
        /// Fails the `n`-th commit of the next run (counting from 1).
        func failCommit(_ n: Int) {
            let count = Mutex(0)
            db.env._beforeCommit.withLock { $0 = { count.withLock { $0 += 1; return $0 } == n ? EIO : 0 } }
        }

        try copyFixtures([("gray.jpg", "b.jpg"), ("rgb_444.jpg", "c.jpg")], into: photos)
        try "the second one".write(toFile: photos + "/b.txt", atomically: true, encoding: .utf8)
        try "the third one".write(toFile: photos + "/c.txt", atomically: true, encoding: .utf8)
        // The batch (two images, two captions) fails at its commit: nothing of it is stored.
        failCommit(1)
        #expect(throws: VDBError.self) { try ingestor.run(paths: [photos], options: options) }
        #expect(try images.count() == 1 && captions.count() == 1)
        #expect(try together(["a.png", "b.jpg", "c.jpg"]))
        // A failure at any later commit cannot separate an image from its caption either.
        failCommit(2)
        _ = try? ingestor.run(paths: [photos], options: options)
        db.env._beforeCommit.withLock { $0 = nil }
        #expect(try together(["a.png", "b.jpg", "c.jpg"]))

        let again = try ingestor.run(paths: [photos], options: options)
        #expect(try images.count() == 3 && captions.count() == 3)
        #expect(again.failed.isEmpty)
        for name in ["b.jpg", "c.jpg"] {
            let caption = try #require(try captions.get(id: id(name))).metadata["caption"]?.stringValue
            #expect(try images.get(id: id(name))?.metadata["caption"]?.stringValue == caption)
        }
    }
}
