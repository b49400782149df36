import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VDBServer

@Suite struct SearchRouteTests {
    @Test func vectorSearchScoreDistanceOffsetAndFilters() async throws {
        try await Harness().test { client in
            try await seed(client, "l2", dim: 2, metric: "l2", vectors: (0..<10).map { [Float($0), 0] },
                           metadata: (0..<10).map { #"{"n": \#($0), "format": "\#($0 < 5 ? "png" : "jpeg")"}"# })
            let r = try await client.call(.post, "/api/v1/collections/l2/search", json: #"{"vector": [0, 0], "k": 3, "with_vector": true}"#)
            #expect(r.status == 200)
            #expect(r.resultIDs == [1, 2, 3])
            // l2: distance is the squared distance (smaller is closer), score its negation (higher is better).
            #expect(r.results.map { $0["distance"] as? Double } == [0, 1, 4])
            #expect(r.results.map { $0["score"] as? Double } == [-0.0, -1, -4])
            #expect(r.results[1]["vector"] as? [Double] == [1, 0])
            #expect(r.json?["took_ms"] as? Double != nil)

            let paged = try await client.call(.post, "/api/v1/collections/l2/search", json: #"{"vector": [0, 0], "k": 3, "offset": 3}"#)
            #expect(paged.resultIDs == [4, 5, 6])

            // The three filter forms.
            let text = try await client.call(.post, "/api/v1/collections/l2/search", json: #"{"vector": [0, 0], "k": 2, "filter": "format=jpeg"}"#)
            #expect(text.resultIDs == [6, 7])
            let list = try await client.call(.post, "/api/v1/collections/l2/search",
                                             json: #"{"vector": [0, 0], "k": 5, "filter": ["format=jpeg", "n>=8"]}"#)
            #expect(list.resultIDs == [9, 10])
            let object = try await client.call(.post, "/api/v1/collections/l2/search", json: """
                {"vector": [0, 0], "k": 5, "filter": {"must": [{"key": "format", "match": {"value": "png"}}, {"key": "n", "range": {"gt": 1, "lte": 3}}],
                 "must_not": [{"key": "n", "match": {"value": 3}}]}}
                """)
            #expect(object.resultIDs == [3])

            // ip: score and distance are both the inner product.
            try await seed(client, "ip", dim: 2, metric: "ip", vectors: [[1, 0], [2, 0]])
            let ip = try await client.call(.post, "/api/v1/collections/ip/search", json: #"{"vector": [1, 0], "k": 2}"#)
            #expect(ip.resultIDs == [2, 1])
            #expect(ip.results.map { $0["score"] as? Double } == [2, 1])
            #expect(ip.results.map { $0["distance"] as? Double } == [2, 1])
        }
    }

    @Test func findSimilarLeavesOutThePoint() async throws {
        try await Harness().test { client in
            try await seed(client, "c", dim: 2, metric: "l2", vectors: (0..<5).map { [Float($0), 0] })
            let r = try await client.call(.post, "/api/v1/collections/c/search", json: #"{"id": 3, "k": 2}"#)
            #expect(r.status == 200)
            #expect(Set(r.resultIDs) == [2, 4])
            let missing = try await client.call(.post, "/api/v1/collections/c/search", json: #"{"id": 77, "k": 2}"#)
            #expect(missing.status == 404)
        }
    }

    /// A batch answers each search as `/search` would, in request order, whatever the grouping.
    @Test func batchSearchEqualsSingleSearches() async throws {
        try await Harness().test { client in
            try await seed(client, "l2", dim: 2, metric: "l2", vectors: (0..<10).map { [Float($0), 0] },
                           metadata: (0..<10).map { #"{"n": \#($0), "format": "\#($0 < 5 ? "png" : "jpeg")"}"# })
            let searches = [
                #"{"vector": [0, 0], "k": 3}"#,
                #"{"vector": [9, 0], "k": 2, "filter": "format=png"}"#,
                #"{"vector": [5, 0], "k": 3}"#,
                #"{"vector": [0, 0], "k": 2, "offset": 1, "with_vector": true}"#,
                #"{"vector": [9, 0], "k": 2, "filter": {"must": [{"key": "n", "range": {"lt": 3}}]}, "params": {"ef": 20}}"#,
            ]
            let r = try await client.call(.post, "/api/v1/collections/l2/search/batch", json: #"{"searches": ["# + searches.joined(separator: ",") + "]}")
            #expect(r.status == 200, "\(r.text)")
            let lists = try #require(r.json?["results"] as? [[[String: Any]]])
            #expect(lists.count == searches.count)
            for (i, body) in searches.enumerated() {
                let single = try await client.call(.post, "/api/v1/collections/l2/search", json: body)
                #expect(lists[i].map { $0["id"] as? Int } == single.results.map { $0["id"] as? Int }, "search \(i)")
                #expect(lists[i].map { $0["distance"] as? Double } == single.results.map { $0["distance"] as? Double })
            }
            #expect(lists[0].map { $0["id"] as? Int } == [1, 2, 3])
            #expect(lists[3].first?["vector"] as? [Double] == [1, 0])
            #expect(r.json?["took_ms"] as? Double != nil)

            func status(_ body: String) async throws -> (Int, String?) {
                let r = try await client.call(.post, "/api/v1/collections/l2/search/batch", json: body)
                return (r.status, r.errorCode)
            }
            #expect(try await status(#"{"searches": []}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"searches": [{"text": "a red circle"}]}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"searches": [{"vector": [0, 0]}, {"vector": [0, 0], "k": 0}]}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"searches": [{"vector": [0, 0]}, {"vector": [0, 0, 0]}]}"#) == (400, "bad_vector"))
            #expect(try await status(#"{"searches": [{"vector": [0, 0]}, {"vector": [0, "x"]}]}"#) == (400, "bad_json"))
            #expect(try await status(#"{"searches": {"vector": [0, 0]}}"#) == (400, "bad_json"))
            #expect(try await status(#"{"vector": [0, 0]}"#) == (400, "bad_json"))
            #expect(try await status(#"{"searches": [{"vector": [0, 0], "filter": "width>big"}]}"#) == (422, "invalid_filter"))
            let named = try await client.call(.post, "/api/v1/collections/l2/search/batch",
                                              json: #"{"searches": [{"vector": [0, 0]}, {"vector": [0, 0, 0]}]}"#)
            #expect(named.text.contains("searches[1]"), "\(named.text)")
        }
    }

    @Test func invalidSearchesAreRefused() async throws {
        try await Harness().test { client in
            try await seed(client, "c", dim: 2, metric: "l2", vectors: [[0, 0], [1, 1]])
            func status(_ body: String) async throws -> (Int, String?) {
                let r = try await client.call(.post, "/api/v1/collections/c/search", json: body)
                return (r.status, r.errorCode)
            }
            #expect(try await status(#"{"k": 2}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"vector": [0, 0], "id": 1}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"vector": [0, 0], "k": 0}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"vector": [0, 0], "k": 5000, "offset": 6000}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"vector": [0, 0], "offset": -1}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"vector": [0, 0], "params": {"ef": 0}}"#) == (422, "invalid_argument"))
            #expect(try await status(#"{"vector": [0, 0], "filter": "width"}"#) == (422, "invalid_filter"))
            #expect(try await status(#"{"vector": [0, 0], "filter": "width>big"}"#) == (422, "invalid_filter"))
            #expect(try await status(#"{"vector": [0, 0], "filter": {"mus": []}}"#) == (422, "invalid_filter"))
            #expect(try await status(#"{"vector": [0, 0], "filter": {"must": [{"key": "a"}]}}"#) == (422, "invalid_filter"))
            #expect(try await status(#"{"vector": [0, 0], "filter": 7}"#) == (422, "invalid_filter"))
            #expect(try await status(#"{"vector": [0, 0, 0]}"#) == (400, "bad_vector"))
            #expect(try await status(#"{"vector": [0, "x"]}"#) == (400, "bad_json"))
            #expect(try await status(#"{"vector": [0, 0]"#) == (400, "bad_json"))
            #expect(try await status(#"{"text": "a red circle"}"#) == (422, "no_model"))
            let unknown = try await client.call(.post, "/api/v1/collections/zzz/search", json: #"{"vector": [0, 0]}"#)
            #expect(unknown.status == 404)
        }
    }

    @Test func textAndImageSearchWithTheDemoModel() async throws {
        let h = try Harness(withModel: true)
        let names = try h.ingestSamples()
        let dir = h.dir
        try await h.test { client in
            // A demo query (Samples/demo-queries.jsonl) and its expected photo.
            let r = try await client.call(.post, "/api/v1/collections/photos/search", json: #"{"text": "a red circle", "k": 3}"#)
            #expect(r.status == 200)
            let paths = r.results.compactMap { ($0["metadata"] as? [String: Any])?["path"] as? String }
            #expect(paths.first == dir + "/photos/red-circle-01.jpg", "\(paths)")

            // Upload each of two photos: raw bytes, then multipart; each finds itself first.
            let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/photos/" + names[1])))
            let byBytes = try await client.call(.post, "/api/v1/collections/photos/search/image?k=2", bytes: raw,
                                                headers: [.contentType: "image/jpeg"])
            #expect(byBytes.status == 200, "\(byBytes.text)")
            #expect((byBytes.results.first?["metadata"] as? [String: Any])?["path"] as? String == dir + "/photos/" + names[1])
            let png = try #require(names.first { $0.hasSuffix(".png") })
            let pngBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/photos/" + png)))
            let boundary = "XyZ123"
            var multipart = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            multipart += pngBytes + Array("\r\n--\(boundary)--\r\n".utf8)
            let byForm = try await client.call(.post, "/api/v1/collections/photos/search/image?k=1&filter=format%3Dpng", bytes: multipart,
                                               headers: [.contentType: "multipart/form-data; boundary=\(boundary)"])
            #expect(byForm.status == 200, "\(byForm.text)")
            #expect((byForm.results.first?["metadata"] as? [String: Any])?["path"] as? String == dir + "/photos/" + png)

            // Not an image: 415; an image search on a collection of another dimension: 422.
            let notImage = try await client.call(.post, "/api/v1/collections/photos/search/image", bytes: Array("hello".utf8))
            #expect(notImage.status == 415)
            #expect(notImage.errorCode == "not_an_image")
            let empty = try await client.call(.post, "/api/v1/collections/photos/search/image")
            #expect(empty.status == 415)
            try await seed(client, "small", dim: 2, metric: "cosine", vectors: [[1, 0]])
            let mismatch = try await client.call(.post, "/api/v1/collections/small/search", json: #"{"text": "a red circle"}"#)
            #expect(mismatch.status == 422)
            #expect(mismatch.errorCode == "model_mismatch")
            #expect(try await client.call(.post, "/api/v1/collections/photos/search", json: #"{"text": "  "}"#).status == 422)
        }
    }
}
