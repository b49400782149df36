import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VDBCLIP
import VDBCore
@testable import VDBServer

@Suite struct ImageRouteTests {
    @Test func originalsAndThumbnailsOfIngestedPhotos() async throws {
        let h = try Harness(withModel: true)
        let names = try h.ingestSamples(4)
        let photos = try h.db.collection(named: "photos")
        let page = try photos.scroll(limit: 10)
        var byName: [String: UInt64] = [:]
        for r in page.records { byName[((r.metadata["path"]?.stringValue ?? "") as NSString).lastPathComponent] = r.id }
        let id = try #require(byName[names[0]])
        let other = try #require(byName[names[1]])
        // Points whose metadata names files ingest did not record (or records with a wrong hash).
        try photos.upsert([[Float](repeating: 0.1, count: photos.dimension)], ids: [42], metadata: [["path": "/etc/passwd"]])
        try photos.upsert([[Float](repeating: 0.1, count: photos.dimension)], ids: [43],
                          metadata: [["path": "/etc/passwd", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"]])
        let dir = h.dir
        try await h.test { client in
            let original = try await client.call(.get, "/api/v1/collections/photos/points/\(id)/image")
            #expect(original.status == 200)
            #expect(original.bytes == (try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/photos/" + names[0])))))
            #expect(original.headers[.contentType] == "image/jpeg")

            let thumb = try await client.call(.get, "/api/v1/collections/photos/points/\(id)/thumbnail?size=64")
            #expect(thumb.status == 200)
            #expect(thumb.headers[.contentType] == "image/jpeg")
            let info = try ImageProbe.info(of: thumb.bytes)
            #expect(info.format == .jpeg)
            #expect(max(info.width, info.height) == 64)
            #expect(info.width * 3 == info.height * 4, "aspect kept: \(info.width)x\(info.height)")
            let cached = try await client.call(.get, "/api/v1/collections/photos/points/\(id)/thumbnail?size=64")
            #expect(cached.bytes == thumb.bytes)

            // Not recorded, forged metadata, unknown point, bad size.
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/42/image").status == 404)
            let forged = try await client.call(.get, "/api/v1/collections/photos/points/43/image")
            #expect(forged.status == 404)
            #expect(forged.errorMessage.contains("changed since it was ingested"))
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/43/thumbnail").status == 404)
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/99/image").status == 404)
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/\(id)/thumbnail?size=5").status == 422)
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/\(id)/thumbnail?size=big").status == 400)
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/..%2F..%2Fetc%2Fpasswd/image").status == 400)
            #expect(try await client.call(.get, "/api/v1/collections/photos/points/%2e%2e/image").status == 400)

            // A file changed after ingest is not served.
            try Data("not the photo".utf8).write(to: URL(fileURLWithPath: dir + "/photos/" + names[1]))
            let changed = try await client.call(.get, "/api/v1/collections/photos/points/\(other)/image")
            #expect(changed.status == 404)
        }
    }
}
