import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VDBServer

@Suite struct CollectionRouteTests {
    @Test func createDescribeListAndDrop() async throws {
        try await Harness().test { client in
            let empty = try await client.call(.get, "/api/v1/collections")
            #expect(empty.status == 200)
            #expect((empty.json?["collections"] as? [Any])?.isEmpty == true)

            let made = try await client.call(.put, "/api/v1/collections/docs", json: #"{"dim": 3, "metric": "l2"}"#)
            #expect(made.status == 201)
            #expect(made.json?["dim"] as? Int == 3)
            #expect(made.json?["metric"] as? String == "l2")

            let again = try await client.call(.put, "/api/v1/collections/docs", json: #"{"dim": 3, "metric": "l2"}"#)
            #expect(again.status == 409)
            #expect(again.errorCode == "conflict")

            let info = try await client.call(.get, "/api/v1/collections/docs")
            #expect(info.status == 200)
            #expect(info.json?["count"] as? Int == 0)
            let index = info.json?["index"] as? [String: Any]
            #expect(index?["type"] as? String == "flat")
            #expect((index?["params"] as? [String: Any])?["m"] as? Int == 16)
            #expect(info.json?["bytes_on_disk"] as? Int != nil)
            #expect(info.json?["photos"] as? Bool == false)

            let list = try await client.call(.get, "/api/v1/collections")
            #expect((list.json?["collections"] as? [[String: Any]])?.map { $0["name"] as? String } == ["docs"])

            let dropped = try await client.call(.delete, "/api/v1/collections/docs")
            #expect(dropped.status == 200)
            #expect(try await client.call(.get, "/api/v1/collections/docs").status == 404)
            let gone = try await client.call(.delete, "/api/v1/collections/docs")
            #expect(gone.status == 404)
            #expect(gone.errorCode == "not_found")
        }
    }

    @Test func badCreateRequestsAreRefusedWithTheRightStatus() async throws {
        try await Harness().test { client in
            // Malformed JSON, wrong type, missing field: 400.
            let malformed = try await client.call(.put, "/api/v1/collections/a", json: #"{"dim": 3,"#)
            #expect(malformed.status == 400)
            #expect(malformed.errorCode == "bad_json")
            let wrongType = try await client.call(.put, "/api/v1/collections/a", json: #"{"dim": "three"}"#)
            #expect(wrongType.status == 400)
            #expect(wrongType.errorMessage.contains("'dim'"))
            let missing = try await client.call(.put, "/api/v1/collections/a", json: #"{"metric": "l2"}"#)
            #expect(missing.status == 400)
            #expect(missing.errorMessage.contains("dim"))
            let empty = try await client.call(.put, "/api/v1/collections/a")
            #expect(empty.status == 400)
            // Invalid values: 422.
            #expect(try await client.call(.put, "/api/v1/collections/a", json: #"{"dim": 3, "metric": "hamming"}"#).status == 422)
            #expect(try await client.call(.put, "/api/v1/collections/a", json: #"{"dim": 0}"#).status == 422)
            #expect(try await client.call(.put, "/api/v1/collections/bad%20name", json: #"{"dim": 3}"#).status == 422)
            // Nothing was created, and the server still serves.
            let list = try await client.call(.get, "/api/v1/collections")
            #expect(list.status == 200)
            #expect((list.json?["collections"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func unknownRoutesAndMethodsAnswerJSON404() async throws {
        try await Harness().test { client in
            let r = try await client.call(.get, "/api/v1/nothing/here")
            #expect(r.status == 404)
            #expect(r.errorCode == "not_found")
            #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(try await client.call(.patch, "/api/v1/collections").status == 404)
        }
    }
}
