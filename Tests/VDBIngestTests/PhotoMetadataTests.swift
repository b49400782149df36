import Foundation
import Testing
import VDBCLIP
import VDBCore
@testable import VDBIngest
import VDBTestSupport

/// Ingest records EXIF metadata, declares it as indexed fields, and photo searches filter on it.
@Suite(.serialized) struct PhotoMetadataTests {
    static let exifFixtures = Repo.clipFixtures.appendingPathComponent("exif")

    @Test func ingestRecordsEXIFAndFiltersOnIt() throws {
        let model = try #require(IngestTests.model, "tiny CLIP fixture missing at \(Repo.tinyModel.path)")
        let photos = makeTempDir("vdb-exif-photos")
        let dbDir = makeTempDir("vdb-exif-db")
        defer { try? FileManager.default.removeItem(atPath: photos); try? FileManager.default.removeItem(atPath: dbDir) }
        let names = ["orientation6.jpg", "gps.jpg", "gps_south_west.jpg", "no_exif.jpg", "corrupt_exif.jpg",
                     "garbage_exif.jpg", "exif.png", "zero_date.jpg"]
        for n in names {
            try FileManager.default.copyItem(atPath: Self.exifFixtures.appendingPathComponent(n).path, toPath: photos + "/" + n)
        }
        // A known modification time for the files without a usable capture time.
        let mtime = Date(timeIntervalSince1970: 1_650_000_000)
        for n in names { try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: photos + "/" + n) }
        let db = try Database(path: dbDir)
        let summary = try Ingestor(database: db, model: model).run(paths: [photos], options: IngestOptions(collection: "p", threads: 1))
        #expect(summary.added == names.count && summary.failed.isEmpty)
        let c = try db.collection(named: "p")
        #expect(Set(try c.fields()) == Set(PhotoMetadata.fields))
        try c.verifyFieldIndex()
        var byName: [String: Metadata] = [:]
        try c.forEachMetadata { _, m in
            byName[((m["path"]?.stringValue ?? "") as NSString).lastPathComponent] = m
            return true
        }
        let rotated = try #require(byName["orientation6.jpg"])
        #expect(rotated["taken_at"] == "2024-06-01T10:30:00" && rotated["taken_at_source"] == "exif")
        #expect(rotated["taken_at_offset"] == "+02:00")
        #expect(rotated["camera"] == "Google Pixel 8" && rotated["make"] == "Google" && rotated["model"] == "Pixel 8")
        #expect(rotated["lens"] == "Pixel 8 back camera 6.9mm f/1.68" && rotated["orientation"] == 6)
        #expect(rotated["width"] == 16 && rotated["height"] == 24 && rotated["format"] == "jpeg")
        let paris = try #require(byName["gps.jpg"])
        #expect(abs((paris["gps_lat"]?.doubleValue ?? 0) - 48.85822) < 1e-4 && abs((paris["gps_lon"]?.doubleValue ?? 0) - 2.29450) < 1e-4)
        #expect(byName["exif.png"]?["taken_at"] == "2021-05-06T07:08:09" && byName["exif.png"]?["orientation"] == 3)
        let local = MetadataTime.format(1_650_000_000, offset: TimeZone.current.secondsFromGMT(for: mtime))
        for n in ["no_exif.jpg", "garbage_exif.jpg", "zero_date.jpg", "corrupt_exif.jpg", "gps_south_west.jpg"] {
            #expect(byName[n]?["taken_at_source"] == "mtime" && byName[n]?["taken_at"] == .string(local), "\(n)")
        }
        #expect(byName["corrupt_exif.jpg"]?["make"] == "Nikon")
        #expect(byName["no_exif.jpg"]?["camera"] == nil && byName["no_exif.jpg"]?["gps_lat"] == nil)

        // Filter on the indexed fields, sort by capture time.
        let since = try c.searchExplained(text: "a photo", model: model, k: 10, where: try Filter(where: ["taken_at>=2023-01-01", "taken_at_source=exif"]))
        #expect(Set(since.hits.compactMap { ($0.metadata["path"]?.stringValue as NSString?)?.lastPathComponent }) == ["orientation6.jpg", "gps.jpg"])
        #expect(since.plan.scannedKeys == ["taken_at_source"])
        let google = try c.searchExplained(text: "a photo", model: model, k: 10, where: try Filter(where: ["make=Google"]))
        #expect(google.hits.count == 1 && google.plan.scannedKeys.isEmpty)
        let south = try c.search(text: "a photo", model: model, k: 10, where: try Filter(where: ["gps_lat<0"]))
        #expect(south.count == 1)
        let byDate = HitOrder(field: "taken_at").sorted(try c.search(text: "a photo", model: model, k: 10, where: try Filter(where: ["taken_at_source=exif"])))
        #expect(byDate.compactMap { $0.metadata["taken_at"]?.stringValue } == ["2021-05-06T07:08:09", "2023-12-24T18:05:09", "2024-06-01T10:30:00"])

        // A collection made before ingest read EXIF gets the metadata on the next run, without re-embedding.
        let stripped: [UInt64: Metadata] = try {
            var out: [UInt64: Metadata] = [:]
            try c.forEachMetadata { id, m in
                out[id] = m.filter { !["taken_at", "taken_at_source", "taken_at_offset", "camera", "make", "model", "lens", "gps_lat", "gps_lon", "orientation"].contains($0.key) }
                return true
            }
            return out
        }()
        for (id, m) in stripped { try c.upsert([try #require(try c.get(id: id)).vector], ids: [id], metadata: [m]) }
        #expect(try c.search(text: "a photo", model: model, k: 10, where: try Filter(where: ["make=Google"])).isEmpty)
        let again = try Ingestor(database: db, model: model).run(paths: [photos], options: IngestOptions(collection: "p", threads: 1))
        #expect(again.added == 0 && again.updated == 0 && again.unchanged == names.count)
        #expect(try c.search(text: "a photo", model: model, k: 10, where: try Filter(where: ["make=Google"])).count == 1)
        try c.verifyFieldIndex()
    }
}
