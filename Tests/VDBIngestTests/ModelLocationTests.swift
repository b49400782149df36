import Foundation
import Testing
import VDBCLIP
import VDBCore
@testable import VDBIngest
import VDBTestSupport

/// The model-selection policy: --model, then $VDB_MODEL, then the collection's model, then the bundled one.
@Suite struct ModelLocationTests {
    let bundled = URL(fileURLWithPath: "/bundled/demo-clip")

    @Test func explicitThenEnvironmentThenBundled() throws {
        let env = [ModelLocation.environmentVariable: "/env/model"]
        #expect(try ModelLocation.resolve(explicit: "/my/model", environment: env, bundled: bundled)
                == ModelLocation(directory: URL(fileURLWithPath: "/my/model"), source: .explicit))
        #expect(try ModelLocation.resolve(explicit: nil, environment: env, bundled: bundled)
                == ModelLocation(directory: URL(fileURLWithPath: "/env/model"), source: .environment))
        // Empty values count as not given.
        #expect(try ModelLocation.resolve(explicit: "", environment: [ModelLocation.environmentVariable: ""], bundled: bundled)
                == ModelLocation(directory: bundled, source: .bundled))
        let home = try ModelLocation.resolve(explicit: "~/m", environment: [:], bundled: nil)
        #expect(home.directory.path == (NSHomeDirectory() as NSString).appendingPathComponent("m"))
        #expect(throws: IngestError.noModel(bundled: ModelLocation.bundledRelativePath)) {
            try ModelLocation.resolve(explicit: nil, environment: [:], bundled: nil)
        }
    }

    @Test func aCollectionsModelComesAfterTheEnvironmentAndOnlyIfItStillExists() throws {
        let work = makeTempDir("vdb-model-location")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let modelCopy = URL(fileURLWithPath: work + "/model")
        try FileManager.default.copyItem(at: Repo.tinyModel, to: modelCopy)
        try copyFixtures([("rgb.png", "photos/a.png")], into: work)
        let db = try Database(path: work + "/db")
        let model = try CLIPModel.load(directory: modelCopy, threads: 1)
        _ = try Ingestor(database: db, model: model).run(paths: [work + "/photos"], options: IngestOptions(collection: "p", threads: 1))
        let photos = try db.collection(named: "p")

        let recorded = try ModelLocation.resolve(explicit: nil, environment: [:], collection: photos, bundled: bundled)
        #expect(recorded.source == .collection && recorded.directory.standardizedFileURL.path == modelCopy.standardizedFileURL.path, "\(recorded.directory.path) vs \(modelCopy.path)")
        #expect(try ModelLocation.resolve(explicit: nil, environment: [ModelLocation.environmentVariable: "/env/model"],
                                          collection: photos, bundled: bundled).source == .environment)
        #expect(try ModelLocation.resolve(explicit: "/x", environment: [:], collection: photos, bundled: bundled).source == .explicit)
        // The loaded model is the one that made the collection: a text search works with it.
        #expect(try photos.search(text: "a photo", model: recorded.load(threads: 1), k: 1).count == 1)

        try FileManager.default.removeItem(at: modelCopy)
        #expect(try ModelLocation.resolve(explicit: nil, environment: [:], collection: photos, bundled: bundled).source == .bundled)
    }

    @Test func theBundledModelIsFoundInThisCheckout() throws {
        let found = try #require(ModelLocation.bundledDirectory())
        #expect(found.standardizedFileURL == Repo.demoModel.standardizedFileURL)
    }
}
