import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VDBIngest
@testable import VDBServer

@Suite struct IndexIngestRouteTests {
    @Test func buildSearchAndDropAnIndex() async throws {
        try await Harness().test { client in
            try await seed(client, "c", dim: 4, metric: "l2", vectors: (0..<60).map { i in (0..<4).map { Float(i * 4 + $0) } })
            let built = try await client.call(.post, "/api/v1/collections/c/index",
                                              json: #"{"type": "hnsw", "params": {"m": 8, "ef_construction": 32, "build_threads": 1}}"#)
            #expect(built.status == 200, "\(built.text)")
            let index = built.json?["index"] as? [String: Any]
            #expect(index?["type"] as? String == "hnsw")
            #expect(index?["built"] as? Bool == true)
            #expect((index?["params"] as? [String: Any])?["m"] as? Int == 8)
            let hit = try await client.call(.post, "/api/v1/collections/c/search", json: #"{"vector": [0, 1, 2, 3], "k": 1, "params": {"ef": 16}}"#)
            #expect(hit.resultIDs == [1])
            #expect(try await client.call(.post, "/api/v1/collections/c/index", json: #"{"type": "btree"}"#).status == 422)
            #expect(try await client.call(.post, "/api/v1/collections/c/index", json: #"{"type": "hnsw", "params": {"m": 1}}"#).status == 422)
            #expect(try await client.call(.post, "/api/v1/collections/c/index", json: #"{"params": {}}"#).status == 400)
            let dropped = try await client.call(.delete, "/api/v1/collections/c/index")
            #expect((dropped.json?["index"] as? [String: Any])?["type"] as? String == "flat")
            #expect(try await client.call(.delete, "/api/v1/collections/none/index").status == 404)
        }
    }

    @Test func ingestIsOffWithoutAnAllowedFolder() async throws {
        try await Harness(withModel: true).test { client in
            let r = try await client.call(.post, "/api/v1/collections/p/ingest", json: #"{"paths": ["/tmp"]}"#)
            #expect(r.status == 403)
            #expect(r.errorMessage.contains("--allow-ingest-from"))
            let status = try await client.call(.get, "/api/v1/collections/p/ingest")
            #expect(status.json?["state"] as? String == "idle")
        }
    }

    @Test func ingestRunsInTheBackgroundAndReportsProgress() async throws {
        let h = try Harness(withModel: true, ingestFolders: ["allowed"])
        try copySamples(6, into: h.dir + "/allowed/set")
        try await h.test { client in
            let started = try await client.call(.post, "/api/v1/collections/pics/ingest", json: #"{"paths": ["\#(h.dir)/allowed/set"]}"#)
            #expect(started.status == 202, "\(started.text)")
            var state = ""
            var last: Reply?
            for _ in 0..<600 {
                last = try await client.call(.get, "/api/v1/collections/pics/ingest")
                state = last?.json?["state"] as? String ?? ""
                if state != "running" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(state == "done", "\(last?.text ?? "")")
            let report = last?.json?["report"] as? [String: Any]
            #expect(report?["added"] as? Int == 6)
            #expect(last?.json?["processed"] as? Int == 6)
            let info = try await client.call(.get, "/api/v1/collections/pics")
            #expect(info.json?["count"] as? Int == 6)
            #expect(info.json?["photos"] as? Bool == true)
        }
    }

    @Test func oneIngestAtATime() async throws {
        let dir = makeTempDir("jobs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let jobs = try IngestJobs(allowedFolders: [dir])
        let first = AsyncThrowingStream<IngestEvent, any Error>.makeStream()
        #expect(try jobs.start(collection: "a", paths: [dir]) { first.stream }.state == "running")
        #expect(jobs.isRunning)
        #expect { try jobs.start(collection: "b", paths: [dir]) { AsyncThrowingStream { $0.finish() } } } throws: {
            ($0 as? ServerError)?.status == .conflict
        }
        #expect(jobs.status("b").state == "idle")
        first.continuation.finish(throwing: IngestError.noUsablePaths([]))
        while jobs.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        #expect(jobs.status("a").state == "failed")
        #expect(jobs.status("a").error?.contains("nothing to ingest") == true)
        #expect(try jobs.start(collection: "b", paths: [dir]) { AsyncThrowingStream { $0.finish() } }.state == "running")
    }

    @Test func ingestPathsMustResolveInsideAnAllowedFolder() async throws {
        let h = try Harness(withModel: true, ingestFolders: ["allowed"])
        let outside = h.dir + "/outside"
        try copySamples(2, into: outside)
        try copySamples(1, into: h.dir + "/allowed/inside")
        // A link inside the allowed folder that leads out of it.
        try FileManager.default.createSymbolicLink(atPath: h.dir + "/allowed/escape", withDestinationPath: outside)
        // A link inside a requested folder that leads out: the walk must not follow it.
        try FileManager.default.createSymbolicLink(atPath: h.dir + "/allowed/inside/more", withDestinationPath: outside)
        try await h.test { client in
            func ingest(_ path: String) async throws -> Reply {
                try await client.call(.post, "/api/v1/collections/p/ingest", json: #"{"paths": ["\#(path)"]}"#)
            }
            for path in [h.dir + "/allowed/../outside", h.dir + "/allowed/%2e%2e/outside", outside, "/etc",
                         h.dir + "/allowed/escape", h.dir + "/allowed/missing"] {
                let r = try await ingest(path)
                #expect(r.status == 403, "\(path): \(r.text)")
            }
            #expect(try await ingest("allowed/inside").status == 422)
            #expect(try await client.call(.post, "/api/v1/collections/p/ingest", json: #"{"paths": []}"#).status == 422)
            #expect(try await client.call(.get, "/api/v1/collections/p").status == 404, "nothing was ingested")

            let ok = try await ingest(h.dir + "/allowed/inside")
            #expect(ok.status == 202, "\(ok.text)")
            var last: Reply?
            for _ in 0..<300 {
                last = try await client.call(.get, "/api/v1/collections/p/ingest")
                if last?.json?["state"] as? String != "running" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let report = last?.json?["report"] as? [String: Any]
            #expect(report?["added"] as? Int == 1, "\(last?.text ?? "")")
            let failed = report?["failed"] as? [[String: Any]] ?? []
            #expect(failed.contains { ($0["path"] as? String)?.hasSuffix("/allowed/inside/more") == true }, "\(failed)")
        }
    }
}
