import Dispatch
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import VDBTestSupport
@testable import VDBServer

@Suite struct ConcurrencyTests {
    /// Searches racing one writer on an HNSW collection. A write is visible only once it has
    /// committed, and a failed write never: so every search returns exactly k hits, in order,
    /// with distances that match the stored vectors, and never an id of a refused batch.
    ///
    /// The new points are the closest to the query, so an in-memory index that showed a write
    /// before its commit would either return ids the reader's snapshot does not have (dropped:
    /// fewer than k hits) or vectors under the wrong id (a wrong distance).
    @Test func aWriterRacingSearchesShowsOnlyCommittedWrites() async throws {
        let h = try Harness()
        let dim = 8
        // Base points far from the query (the origin); new point i is at distance^2 = vectorNorm(i).
        @Sendable func base(_ i: Int) -> [Float] { (0..<dim).map { Float(5 + (i * 7 + $0 * 3) % 11) } }
        @Sendable func near(_ i: Int) -> [Float] { var v = [Float](repeating: 0, count: dim); v[i % dim] = 1 + Float(i) / 1000; return v }
        let c = try h.db.createCollection(name: "race", dimension: dim, metric: .l2)
        try c.insert((0..<300).map(base), ids: (0..<300).map { UInt64($0) })
        try c.buildIndex(kind: .hnsw, parameters: .init(m: 8, efConstruction: 64, buildThreads: 1))
        let k = 10
        let batches = 30, batchSize = 5
        try await h.test { client in
            let violations = Shared<[String]>([])
            let searches = Shared(0)
            let done = Shared(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { done.set(true) }
                    for b in 0..<batches {
                        let ids = (0..<batchSize).map { 1000 + b * batchSize + $0 }
                        let points = ids.map { #"{"id": \#($0), "vector": \#(jsonVector(near($0)))}"# }.joined(separator: ",")
                        let ok = try await client.call(.put, "/api/v1/collections/race/points", json: #"{"points": [\#(points)]}"#)
                        if ok.status != 200 { violations.update { $0.append("upsert \(b): \(ok.status) \(ok.text)") } }
                        // A refused batch: its good points must never be seen.
                        let bad = #"{"points": [{"id": \#(90_000 + b), "vector": \#(jsonVector(near(0)))}, {"id": \#(91_000 + b), "vector": [1]}]}"#
                        let refused = try await client.call(.put, "/api/v1/collections/race/points", json: bad)
                        if refused.status != 400 { violations.update { $0.append("bad batch \(b) got \(refused.status)") } }
                    }
                }
                for _ in 0..<4 {
                    group.addTask {
                        // Until the writer is done, and at least 40 searches ran in all.
                        while !done.value || searches.value < 40 {
                            let r = try await client.call(.post, "/api/v1/collections/race/search",
                                                          json: #"{"vector": \#(jsonVector([Float](repeating: 0, count: dim))), "k": \#(k), "params": {"ef": 200}}"#)
                            searches.update { $0 += 1 }
                            var problems: [String] = []
                            if r.status != 200 { problems.append("search status \(r.status)") }
                            let ids = r.resultIDs
                            if ids.count != k { problems.append("\(ids.count) hits instead of \(k): \(ids)") }
                            if ids.contains(where: { $0 >= 90_000 }) { problems.append("a refused write is visible: \(ids)") }
                            let distances = r.results.compactMap { $0["distance"] as? Double }
                            if distances != distances.sorted() { problems.append("hits out of order: \(distances)") }
                            for (id, d) in zip(ids, distances) {
                                let v = id >= 1000 ? near(Int(id)) : base(Int(id))
                                let exact = v.reduce(0.0) { $0 + Double($1 * $1) }
                                if abs(exact - d) > 1e-3 * max(1, exact) { problems.append("id \(id): distance \(d), stored vector gives \(exact)") }
                            }
                            if !problems.isEmpty { violations.update { $0 += problems } }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let found = violations.value
            #expect(found.isEmpty, "\(found.count) violations in \(searches.value) searches; first: \(found.prefix(5))")
            let count = try await client.call(.get, "/api/v1/collections/race")
            #expect(count.json?["count"] as? Int == 300 + batches * batchSize)
        }
    }

    @Test func embeddingQueueWaitsThenRefusesWithRetryAfter() async throws {
        let queue = EmbeddingQueue(limit: 1, maxWaiting: 1, maxWait: .milliseconds(200))
        let release = AsyncStream<Void>.makeStream()
        let holder = Task { try await queue.run { for await _ in release.stream { break } } }
        while await queue.running == 0 { await Task.yield() }
        // One may wait (and gives up after maxWait); the next is refused at once.
        let waiter = Task { try await queue.run {} }
        while await queue.waiting == 0 { await Task.yield() }
        await #expect { try await queue.run {} } throws: { ($0 as? ServerError)?.status.code == 503 }
        await #expect { try await waiter.value } throws: { ($0 as? ServerError)?.retryAfter != nil }
        // A waiter is admitted when the slot frees.
        let admitted = Task { try await queue.run { 7 } }
        while await queue.waiting == 0 { await Task.yield() }
        release.continuation.yield()
        try await holder.value
        #expect(try await admitted.value == 7)
        #expect(await queue.running == 0)
        #expect(await queue.rejected == 2)
    }

    @Test func aBusyServerAnswers503WithRetryAfter() async throws {
        let h = try Harness(withModel: true) { $0.embeddingConcurrency = 1; $0.embeddingQueueLimit = 0 }
        try h.ingestSamples(2)
        let server = h.server
        try await h.test { client in
            let release = AsyncStream<Void>.makeStream()
            let holder = Task { try await server.embeddings.run { for await _ in release.stream { break } } }
            while await server.embeddings.running == 0 { await Task.yield() }
            let text = try await client.call(.post, "/api/v1/collections/photos/search", json: #"{"text": "a red circle"}"#)
            #expect(text.status == 503)
            #expect(text.errorCode == "busy")
            #expect(text.headers[.retryAfter] != nil)
            let image = try await client.call(.post, "/api/v1/collections/photos/search/image",
                                              bytes: try [UInt8](Data(contentsOf: Repo.samples.appendingPathComponent("red-circle-01.jpg"))))
            #expect(image.status == 503)
            release.continuation.yield()
            try await holder.value
            #expect(try await client.call(.post, "/api/v1/collections/photos/search", json: #"{"text": "a red circle"}"#).status == 200)
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.text.contains("vdb_embedding_rejected 2"))
            #expect(metrics.text.contains(#"vdb_http_errors_total{code="busy"} 2"#))
        }
    }
}

/// A value shared between tasks, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value { state.withLock { $0 } }
    func set(_ v: Value) { state.withLock { $0 = v } }
    func update(_ change: (inout Value) -> Void) { state.withLock { change(&$0) } }
}

/// The read pool runs at most its thread count of jobs at once; the rest wait in line, in order.
@Suite struct ReadPoolTests {
    /// Upserts and deletes do their collection lookup and count on the write queue: with every
    /// read thread busy (a search queue full of batch requests) they still finish. When they went
    /// through the read pool, the load test's writer waited behind every queued search.
    @Test(.timeLimit(.minutes(1))) func writesSkipTheReadQueue() async throws {
        let h = try Harness { $0.readThreads = 1 }
        let c = try h.db.createCollection(name: "c", dimension: 2, metric: .l2)
        try c.insert([[0, 0], [1, 1]], ids: [1, 2])
        let gate = DispatchSemaphore(value: 0)
        let blocked = DispatchSemaphore(value: 0)
        h.server.readPool.submit { blocked.signal(); gate.wait() }
        #expect(blocked.wait(timeout: .now() + 10) == .success)
        defer { gate.signal() }
        try await h.test { client in
            let up = try await client.call(.put, "/api/v1/collections/c/points", json: #"{"points": [{"id": "3", "vector": [2, 2]}]}"#)
            #expect(up.status == 200)
            #expect(up.json?["count"] as? Int == 3)
            let del = try await client.call(.post, "/api/v1/collections/c/points/delete", json: #"{"ids": ["1"]}"#)
            #expect(del.status == 200)
            #expect(del.json?["count"] as? Int == 2)
            let missing = try await client.call(.put, "/api/v1/collections/nope/points", json: #"{"points": [{"vector": [2, 2]}]}"#)
            #expect(missing.status == 404)
            #expect(h.server.readPool.idleThreads == 0)  // the read thread was busy throughout
        }
    }

    @Test func runsAtMostItsThreadsAtOnceAndEveryJobInOrder() throws {
        let pool = ReadPool(threads: 2)
        let gate = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let state = Mutex((running: 0, most: 0, order: [Int]()))
        for i in 0..<4 {
            pool.submit {
                state.withLock { $0.running += 1; $0.most = max($0.most, $0.running); $0.order.append(i) }
                started.signal()
                gate.wait()
                state.withLock { $0.running -= 1 }
                finished.signal()
            }
        }
        for _ in 0..<2 { #expect(started.wait(timeout: .now() + 10) == .success) }
        #expect(pool.idleThreads == 0)
        // With a thread per job (a concurrent DispatchQueue) the other two would start now.
        #expect(started.wait(timeout: .now() + .milliseconds(200)) == .timedOut)
        #expect(state.withLock { $0.running } == 2)
        for _ in 0..<4 { gate.signal() }
        for _ in 0..<4 { #expect(finished.wait(timeout: .now() + 10) == .success) }
        let end = state.withLock { $0 }
        #expect(end.most == 2)
        #expect(end.order.sorted() == [0, 1, 2, 3])
        #expect(Set(end.order.prefix(2)) == [0, 1])
    }
}
