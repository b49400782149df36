import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VDBServer

@Suite struct PointRouteTests {
    @Test func upsertGetDeleteAndScroll() async throws {
        try await Harness().test { client in
            try await seed(client, "c", dim: 2, metric: "l2",
                           vectors: (0..<7).map { [Float($0), 0] },
                           metadata: (0..<7).map { #"{"n": \#($0), "kind": "\#($0 % 2 == 0 ? "even" : "odd")"}"# })
            let one = try await client.call(.get, "/api/v1/collections/c/points/3")
            #expect(one.status == 200)
            #expect((one.json?["metadata"] as? [String: Any])?["n"] as? Int == 2)
            #expect(one.json?["vector"] == nil)
            let withVector = try await client.call(.get, "/api/v1/collections/c/points/3?with_vector=true")
            #expect(withVector.json?["vector"] as? [Double] == [2, 0])

            // Replace by id; ids may be strings (JavaScript cannot hold every 64-bit integer).
            let replaced = try await client.call(.put, "/api/v1/collections/c/points",
                                                 json: #"{"points": [{"id": "3", "vector": [9, 9], "metadata": {"n": 99}}]}"#)
            #expect(replaced.status == 200)
            #expect(replaced.json?["count"] as? Int == 7)
            let after = try await client.call(.get, "/api/v1/collections/c/points/3?with_vector=true")
            #expect(after.json?["vector"] as? [Double] == [9, 9])

            // A batch without ids is inserted with new ids.
            let auto = try await client.call(.put, "/api/v1/collections/c/points", json: #"{"points": [{"vector": [1, 1]}]}"#)
            #expect(auto.status == 200)
            #expect((auto.json?["ids"] as? [NSNumber])?.map(\.uint64Value) == [8])

            // Scroll in id order, 3 at a time.
            var seen: [UInt64] = []
            var offset = "null"
            for _ in 0..<5 {
                let page = try await client.call(.post, "/api/v1/collections/c/points/scroll", json: #"{"limit": 3, "offset": \#(offset)}"#)
                #expect(page.status == 200)
                seen += (page.json?["points"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.uint64Value }
                guard let next = page.json?["next_page_offset"] as? NSNumber else { break }
                offset = next.stringValue
            }
            #expect(seen == Array(1...8))
            // Even n were ids 1, 3, 5, 7; id 3 was replaced by metadata without "kind".
            let filtered = try await client.call(.post, "/api/v1/collections/c/points/scroll", json: #"{"limit": 10, "filter": "kind=even"}"#)
            #expect((filtered.json?["points"] as? [[String: Any]])?.compactMap { ($0["id"] as? NSNumber)?.intValue } == [1, 5, 7])

            let deleted = try await client.call(.post, "/api/v1/collections/c/points/delete", json: #"{"ids": [1, 2, 999]}"#)
            #expect(deleted.json?["deleted"] as? Int == 2)
            #expect(deleted.json?["count"] as? Int == 6)
            #expect(try await client.call(.get, "/api/v1/collections/c/points/1").status == 404)
        }
    }

    @Test func aBadBatchChangesNothing() async throws {
        try await Harness().test { client in
            try await seed(client, "c", dim: 3, metric: "cosine", vectors: [[1, 0, 0]])
            // One vector of the wrong dimension: 400, and the good point of the batch is not stored.
            let wrongDim = try await client.call(.put, "/api/v1/collections/c/points",
                                                 json: #"{"points": [{"id": 10, "vector": [1, 2, 3]}, {"id": 11, "vector": [1, 2]}]}"#)
            #expect(wrongDim.status == 400)
            #expect(wrongDim.errorCode == "bad_vector")
            #expect(wrongDim.errorMessage.contains("expected 3, got 2"))
            let zero = try await client.call(.put, "/api/v1/collections/c/points", json: #"{"points": [{"id": 12, "vector": [0, 0, 0]}]}"#)
            #expect(zero.status == 400)
            let mixed = try await client.call(.put, "/api/v1/collections/c/points",
                                              json: #"{"points": [{"id": 13, "vector": [1, 2, 3]}, {"vector": [1, 2, 3]}]}"#)
            #expect(mixed.status == 422)
            let repeated = try await client.call(.put, "/api/v1/collections/c/points",
                                                 json: #"{"points": [{"id": 14, "vector": [1, 2, 3]}, {"id": 14, "vector": [1, 2, 3]}]}"#)
            #expect(repeated.status == 422)
            let badID = try await client.call(.put, "/api/v1/collections/c/points", json: #"{"points": [{"id": -1, "vector": [1, 2, 3]}]}"#)
            #expect(badID.status == 400)
            let badMeta = try await client.call(.put, "/api/v1/collections/c/points",
                                                json: #"{"points": [{"id": 15, "vector": [1, 2, 3], "metadata": {"a": [1]}}]}"#)
            #expect(badMeta.status == 400)
            #expect(try await client.call(.put, "/api/v1/collections/c/points", json: #"{"points": []}"#).status == 422)
            let info = try await client.call(.get, "/api/v1/collections/c")
            #expect(info.json?["count"] as? Int == 1)
            // Unknown collection, bad id in the path, bad scroll limit.
            #expect(try await client.call(.put, "/api/v1/collections/nope/points", json: #"{"points": []}"#).status == 404)
            #expect(try await client.call(.get, "/api/v1/collections/c/points/abc").status == 400)
            #expect(try await client.call(.post, "/api/v1/collections/c/points/scroll", json: #"{"limit": 0}"#).status == 422)
            #expect(try await client.call(.post, "/api/v1/collections/c/points/delete", json: #"{"ids": "all"}"#).status == 400)
        }
    }
}
