import Testing
@testable import VDBCore

/// The approximate indexes on a 5k-vector subset of ann-dev (200 queries, exact ground truth by
/// brute force). Skipped when the dataset is absent.
@Suite(.enabled(if: ANNDevSubset.available, "ann-dev not found: set VDB_ANN_DEV or place it at ../shared/data/ann-dev"),
       .serialized)
struct IndexRecallTests {
    let data = ANNDevSubset.shared!
    static let ivfParams = IndexParameters(nlist: 64, seed: 7)
    static let hnswParams = IndexParameters(m: 16, efConstruction: 100, seed: 7, buildThreads: 1)

    @Test(arguments: [KernelMetric.l2, .ip])
    func ivfFlatRecallAndReopen(metric: KernelMetric) throws {
        let records = InMemoryIndexRecords()
        let index = try buildIndex(IVFFlatIndex.self, data, metric, Self.ivfParams, records: records)
        #expect(index.count == data.baseRows)
        let truth = data.groundTruth(metric)
        let sp = SearchParameters(nprobe: 8)
        let before = try searchAll(index, data, metric, sp)
        let r = recall(slotsOf(before), truth)
        #expect(r >= 0.80, "IVF_FLAT \(metric) recall@10 \(r)")
        // More probes, more recall; all lists = exact.
        let all = recall(slotsOf(try searchAll(index, data, metric, SearchParameters(nprobe: 64))), truth)
        #expect(all == 1.0)
        // Records are chunked: no value is huge.
        #expect(records.largestValue <= 128 * 1024)
        let reopened = try IVFFlatIndex.load(dimension: data.dim, metric: metric, parameters: Self.ivfParams, reader: records)
        #expect(reopened.count == index.count)
        let after = try searchAll(reopened, data, metric, sp)
        #expect(after.map { $0.map(\.slot) } == before.map { $0.map(\.slot) })
        #expect(after.map { $0.map(\.score) } == before.map { $0.map(\.score) })
    }

    @Test(arguments: [KernelMetric.l2, .ip])
    func ivfSQ8RecallRerankAndReopen(metric: KernelMetric) throws {
        let records = InMemoryIndexRecords()
        let index = try buildIndex(IVFSQ8Index.self, data, metric, Self.ivfParams, records: records)
        let truth = data.groundTruth(metric)
        let sp = SearchParameters(nprobe: 8)
        let before = try searchAll(index, data, metric, sp)
        let r = recall(slotsOf(before), truth)
        #expect(r >= 0.80, "IVF_SQ8 \(metric) recall@10 \(r)")
        // Residual coding keeps SQ8 close to the exact lists.
        let flat = try buildIndex(IVFFlatIndex.self, data, metric, Self.ivfParams, records: InMemoryIndexRecords())
        let rf = recall(slotsOf(try searchAll(flat, data, metric, sp)), truth)
        #expect(r >= rf - 0.02, "IVF_SQ8 \(r) vs IVF_FLAT \(rf)")
        // rerank needs exact vectors.
        #expect(throws: IndexError.rerankUnavailable) {
            try searchAll(index, data, metric, SearchParameters(nprobe: 8, rerank: true))
        }
        index.exactVectors = data.base(metric).withUnsafeBufferPointer { InMemoryVectorSource(dimension: data.dim, vectors: $0) }
        let reranked = try searchAll(index, data, metric, SearchParameters(nprobe: 64, rerank: true))
        let rr = recall(slotsOf(reranked), truth)
        #expect(rr >= 0.99, "IVF_SQ8 \(metric) rerank recall@10 \(rr)")
        // Reranked scores are exact.
        let q = data.queries(metric), b = data.base(metric)
        let top = reranked[0][0]
        let exact = q.withUnsafeBufferPointer { qb in b.withUnsafeBufferPointer { bb in
            metric.score(qb.baseAddress!, bb.baseAddress! + Int(top.slot) * data.dim, dim: data.dim) } }
        #expect(abs(top.score - exact) <= 1e-4 * max(1, abs(exact)))

        let reopened = try IVFSQ8Index.load(dimension: data.dim, metric: metric, parameters: Self.ivfParams, reader: records)
        let after = try searchAll(reopened, data, metric, sp)
        #expect(after.map { $0.map(\.slot) } == before.map { $0.map(\.slot) })
        #expect(after.map { $0.map(\.score) } == before.map { $0.map(\.score) })
        // SQ8 is about 4x smaller than the float vectors.
        #expect(reopened.memoryBytes < data.baseRows * data.dim * 4 / 3)
    }

    @Test(arguments: [KernelMetric.l2, .ip])
    func hnswRecallAndReopen(metric: KernelMetric) throws {
        let records = InMemoryIndexRecords()
        let index = try buildIndex(HNSWIndex.self, data, metric, Self.hnswParams, records: records)
        #expect(index.count == data.baseRows)
        let truth = data.groundTruth(metric)
        let sp = SearchParameters(ef: 64)
        let before = try searchAll(index, data, metric, sp)
        let r = recall(slotsOf(before), truth)
        #expect(r >= (metric == .l2 ? 0.93 : 0.97), "HNSW \(metric) recall@10 \(r)")
        #expect(records.largestValue <= 128 * 1024)
        let reopened = try HNSWIndex.load(dimension: data.dim, metric: metric, parameters: Self.hnswParams, reader: records)
        #expect(reopened.count == index.count)
        let after = try searchAll(reopened, data, metric, sp)
        #expect(after.map { $0.map(\.slot) } == before.map { $0.map(\.slot) })
        #expect(after.map { $0.map(\.score) } == before.map { $0.map(\.score) })
        // Results are best first with scores matching the exact distance.
        for res in after { #expect(zip(res, res.dropFirst()).allSatisfy { $0.score <= $1.score }) }
    }

    /// Deleted slots never come back; deleting then re-inserting 20% keeps recall within 0.01 of
    /// a fresh build; the reopened index agrees.
    @Test(arguments: [KernelMetric.l2, .ip])
    func hnswDeleteAndReinsertKeepsRecall(metric: KernelMetric) throws {
        let records = InMemoryIndexRecords()
        let index = try buildIndex(HNSWIndex.self, data, metric, Self.hnswParams, records: records)
        let truth = data.groundTruth(metric)
        let sp = SearchParameters(ef: 48)
        let fresh = recall(slotsOf(try searchAll(index, data, metric, sp)), truth)

        // Delete every 5th slot (20%).
        let removed = stride(from: 0, to: data.baseRows, by: 5).map { UInt32($0) }
        try index.remove(slots: removed, writer: records)
        #expect(index.count == data.baseRows - removed.count)
        let removedSet = Set(removed)
        let afterDelete = try searchAll(index, data, metric, k: 50, SearchParameters(ef: 100))
        #expect(afterDelete.allSatisfy { $0.allSatisfy { !removedSet.contains($0.slot) } })
        let truthWithout = data.groundTruth(metric, excluded: removedSet)
        let rDel = recall(slotsOf(try searchAll(index, data, metric, sp)), truthWithout)
        #expect(rDel >= fresh - 0.01, "recall after deleting 20%: \(rDel) vs fresh \(fresh)")
        // Reopen keeps deletions.
        let reopenedDel = try HNSWIndex.load(dimension: data.dim, metric: metric, parameters: Self.hnswParams, reader: records)
        let reDel = try searchAll(reopenedDel, data, metric, k: 50, SearchParameters(ef: 100))
        #expect(reDel.allSatisfy { $0.allSatisfy { !removedSet.contains($0.slot) } })

        // Re-insert them under the same slots.
        try addRows(index, data, metric, removed.map { Int($0) }, writer: records)
        #expect(index.count == data.baseRows)
        let rAgain = recall(slotsOf(try searchAll(index, data, metric, sp)), truth)
        print("HNSW fresh \(fresh) after delete \(rDel) after reinsert \(rAgain)")
        #expect(rAgain >= fresh - 0.01, "recall after re-inserting 20%: \(rAgain) vs fresh \(fresh)")
        let reopened = try HNSWIndex.load(dimension: data.dim, metric: metric, parameters: Self.hnswParams, reader: records)
        #expect(slotsOf(try searchAll(reopened, data, metric, sp)) == slotsOf(try searchAll(index, data, metric, sp)))
    }

    @Test func ivfDeleteAndReinsert() throws {
        for metric in [KernelMetric.l2, .ip] {
            let records = InMemoryIndexRecords()
            let flat = try buildIndex(IVFFlatIndex.self, data, metric, Self.ivfParams, records: records)
            let sq = try buildIndex(IVFSQ8Index.self, data, metric, Self.ivfParams, records: InMemoryIndexRecords())
            let sp = SearchParameters(nprobe: 8)
            _ = sq
            let sqRecords = InMemoryIndexRecords()
            for (index, rec) in [(flat as any VectorIndex, records), (sq, sqRecords)] {
                let truth = data.groundTruth(metric)
                let fresh = recall(slotsOf(try searchAll(index, data, metric, sp)), truth)
                let removed = stride(from: 3, to: data.baseRows, by: 5).map { UInt32($0) }
                try index.remove(slots: removed, writer: rec)
                let removedSet = Set(removed)
                let res = try searchAll(index, data, metric, k: 50, SearchParameters(nprobe: 64))
                #expect(res.allSatisfy { $0.allSatisfy { !removedSet.contains($0.slot) } })
                try addRows(index, data, metric, removed.map { Int($0) }, writer: rec)
                let again = recall(slotsOf(try searchAll(index, data, metric, sp)), truth)
                #expect(abs(again - fresh) <= 0.01, "\(index.kind) \(metric): \(again) vs \(fresh)")
            }
            // Removal persisted: reopen after removing from the flat index.
            try flat.remove(slots: [0, 1, 2], writer: records)
            let reopened = try IVFFlatIndex.load(dimension: data.dim, metric: metric, parameters: Self.ivfParams, reader: records)
            #expect(reopened.count == flat.count)
            let res = try searchAll(reopened, data, metric, k: 20, SearchParameters(nprobe: 64))
            #expect(res.allSatisfy { $0.allSatisfy { $0.slot > 2 } })
        }
    }

    /// Vectors added after the build are found (each is its own nearest neighbour), and only the
    /// records they touched are rewritten.
    @Test func insertsAfterBuildAreFound() throws {
        let metric = KernelMetric.ip   // on raw L2 even a fresh graph misses long vectors as their own neighbour
        let initial = 4000
        let newRows = Array(initial..<data.baseRows)
        let b = data.base(metric)
        func check(_ index: any VectorIndex, _ sp: SearchParameters, _ records: InMemoryIndexRecords, minHits: Double) throws {
            let before = records.recordCount
            records.resetCounters()
            try addRows(index, data, metric, [newRows[0]], writer: records)
            #expect(records.putCount < max(40, before / 10), "\(index.kind): one add rewrote \(records.putCount) of \(before) records")
            try addRows(index, data, metric, Array(newRows.dropFirst()), writer: records)
            #expect(index.count == data.baseRows)
            var hits = 0
            try b.withUnsafeBufferPointer { bb in
                for r in newRows {
                    let res = try index.search(query: bb.baseAddress! + r * data.dim, k: 1, parameters: sp, filter: nil)
                    if res.first?.slot == UInt32(r) || res.first?.score == 0 { hits += 1 }
                }
            }
            #expect(Double(hits) >= minHits * Double(newRows.count), "\(index.kind): \(hits) of \(newRows.count) found")
        }
        let r1 = InMemoryIndexRecords()
        try check(try buildIndex(HNSWIndex.self, data, metric, Self.hnswParams, rows: initial, records: r1), SearchParameters(ef: 32), r1, minHits: 0.99)
        let r2 = InMemoryIndexRecords()
        try check(try buildIndex(IVFFlatIndex.self, data, metric, Self.ivfParams, rows: initial, records: r2), SearchParameters(nprobe: 1), r2, minHits: 1.0)
        let r3 = InMemoryIndexRecords()
        try check(try buildIndex(IVFSQ8Index.self, data, metric, Self.ivfParams, rows: initial, records: r3), SearchParameters(nprobe: 1), r3, minHits: 0.95)
        // The reopened HNSW index finds them too.
        let reopened = try HNSWIndex.load(dimension: data.dim, metric: metric, parameters: Self.hnswParams, reader: r1)
        #expect(reopened.count == data.baseRows)
        let last = newRows.last!
        let res = try b.withUnsafeBufferPointer { try reopened.search(query: $0.baseAddress! + last * data.dim, k: 1, parameters: SearchParameters(ef: 32), filter: nil) }
        #expect(res.first?.slot == UInt32(last))
    }

    /// A filter is applied during the search: only admitted slots come back, with good recall.
    @Test func filterIsAppliedDuringSearch() throws {
        let metric = KernelMetric.ip
        let even: (UInt32) -> Bool = { $0 % 2 == 0 }
        let truth = data.groundTruth(metric, filter: even)
        let hnsw = try buildIndex(HNSWIndex.self, data, metric, Self.hnswParams, records: InMemoryIndexRecords())
        let ivf = try buildIndex(IVFFlatIndex.self, data, metric, Self.ivfParams, records: InMemoryIndexRecords())
        for (index, sp) in [(hnsw as any VectorIndex, SearchParameters(ef: 64)), (ivf, SearchParameters(nprobe: 16))] {
            let res = try searchAll(index, data, metric, sp, filter: even)
            #expect(res.allSatisfy { $0.count == 10 && $0.allSatisfy { $0.slot % 2 == 0 } })
            let r = recall(slotsOf(res), truth)
            #expect(r >= 0.9, "\(index.kind) filtered recall \(r)")
        }
    }

    /// With one build thread, the same seed gives the same graph, byte for byte.
    @Test func singleThreadBuildIsDeterministic() throws {
        var p = Self.hnswParams
        p.buildThreads = 1
        p.efConstruction = 40
        let a = InMemoryIndexRecords(), b = InMemoryIndexRecords()
        _ = try buildIndex(HNSWIndex.self, data, .l2, p, rows: 1500, records: a)
        _ = try buildIndex(HNSWIndex.self, data, .l2, p, rows: 1500, records: b)
        #expect(a.recordCount == b.recordCount)
        var same = true
        try a.forEach(prefix: []) { k, v in
            guard let w = try b.get(k), Array(w) == Array(v) else { same = false; return }
        }
        #expect(same)
        let i1 = try buildIndex(IVFFlatIndex.self, data, .l2, IndexParameters(nlist: 32, seed: 3), rows: 1500, records: a)
        let i2 = try buildIndex(IVFFlatIndex.self, data, .l2, IndexParameters(nlist: 32, seed: 3), rows: 1500, records: b)
        #expect(slotsOf(try searchAll(i1, data, .l2, SearchParameters(nprobe: 4))) == slotsOf(try searchAll(i2, data, .l2, SearchParameters(nprobe: 4))))
    }
}

/// Bad parameters and empty input give typed errors, not crashes.
@Suite struct IndexErrorTests {
    let dim = 8
    func vectors(_ n: Int) -> ([UInt32], [Float]) {
        var rng = SplitMix64(seed: 1)
        return ((0..<UInt32(n)).map { $0 }, (0..<(n * dim)).map { _ in Float(rng.next() % 1000) / 1000 })
    }
    func build<I: VectorIndex>(_ t: I.Type, n: Int, _ p: IndexParameters) throws -> I {
        let (s, v) = vectors(n)
        return try s.withUnsafeBufferPointer { sb in
            try v.withUnsafeBufferPointer { vb in
                try I.build(dimension: dim, metric: .l2, parameters: p, slots: sb, vectors: vb, writer: InMemoryIndexRecords(), progress: nil)
            }
        }
    }

    @Test func emptyBuildIsAnError() {
        #expect(throws: IndexError.emptyInput(.hnsw)) { try build(HNSWIndex.self, n: 0, IndexParameters()) }
        #expect(throws: IndexError.emptyInput(.ivfFlat)) { try build(IVFFlatIndex.self, n: 0, IndexParameters(nlist: 4)) }
        #expect(throws: IndexError.emptyInput(.ivfSQ8)) { try build(IVFSQ8Index.self, n: 0, IndexParameters(nlist: 4)) }
    }

    @Test func badBuildParameters() {
        #expect(throws: IndexError.nlistExceedsVectors(nlist: 64, vectors: 50)) { try build(IVFFlatIndex.self, n: 50, IndexParameters(nlist: 64)) }
        #expect(throws: IndexError.nlistExceedsVectors(nlist: 51, vectors: 50)) { try build(IVFSQ8Index.self, n: 50, IndexParameters(nlist: 51)) }
        #expect(throws: IndexError.invalidParameter(name: "nlist", value: 0, reason: "must be at least 1")) {
            try build(IVFFlatIndex.self, n: 50, IndexParameters(nlist: 0))
        }
        do {
            _ = try build(HNSWIndex.self, n: 50, IndexParameters(m: 1))
            Issue.record("M = 1 was accepted")
        } catch let e as IndexError {
            guard case .invalidParameter(let name, let value, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(name == "M" && value == 1)
            #expect(e.description.contains("M"))
        } catch { Issue.record("unexpected \(error)") }
        // Wrong vector count for the dimension.
        #expect(throws: IndexError.self) {
            try [UInt32(0), 1].withUnsafeBufferPointer { s in
                try [Float](repeating: 0, count: 15).withUnsafeBufferPointer { v in
                    try HNSWIndex.build(dimension: 8, metric: .l2, parameters: IndexParameters(), slots: s, vectors: v, writer: InMemoryIndexRecords(), progress: nil)
                }
            }
        }
    }

    @Test func badSearchParameters() throws {
        let hnsw = try build(HNSWIndex.self, n: 200, IndexParameters(m: 4, efConstruction: 20))
        let ivf = try build(IVFFlatIndex.self, n: 200, IndexParameters(nlist: 8))
        let sq = try build(IVFSQ8Index.self, n: 200, IndexParameters(nlist: 8))
        let q = [Float](repeating: 0.5, count: dim)
        #expect(throws: IndexError.efLessThanK(ef: 5, k: 10)) { try hnsw.search(query: q, k: 10, parameters: SearchParameters(ef: 5), filter: nil) }
        #expect(IndexError.efLessThanK(ef: 5, k: 10).description.contains("ef 5"))
        for index in [ivf as any VectorIndex, sq] {
            do {
                _ = try index.search(query: q, k: 10, parameters: SearchParameters(nprobe: 0), filter: nil)
                Issue.record("nprobe 0 accepted by \(index.kind)")
            } catch let e as IndexError {
                guard case .invalidParameter(let name, 0, _) = e else { Issue.record("wrong error \(e)"); continue }
                #expect(name == "nprobe")
            }
            // nprobe larger than nlist is clamped: exact search.
            #expect(try index.search(query: q, k: 10, parameters: SearchParameters(nprobe: 100), filter: nil).count == 10)
        }
        #expect(throws: IndexError.self) { try hnsw.search(query: q, k: 0, parameters: SearchParameters(), filter: nil) }
        // Loading from empty records is a clear error.
        #expect(throws: IndexError.self) { try HNSWIndex.load(dimension: 8, metric: .l2, parameters: IndexParameters(), reader: InMemoryIndexRecords()) }
        #expect(throws: IndexError.self) { try IVFFlatIndex.load(dimension: 8, metric: .l2, parameters: IndexParameters(), reader: InMemoryIndexRecords()) }
        // Wrong dimension on load.
        let rec = InMemoryIndexRecords()
        let (s, v) = vectors(100)
        _ = try s.withUnsafeBufferPointer { sb in try v.withUnsafeBufferPointer { vb in
            try HNSWIndex.build(dimension: dim, metric: .l2, parameters: IndexParameters(m: 4), slots: sb, vectors: vb, writer: rec, progress: nil) } }
        #expect(throws: IndexError.dimensionMismatch(expected: 16, got: 8)) {
            try HNSWIndex.load(dimension: 16, metric: .l2, parameters: IndexParameters(), reader: rec)
        }
    }

    /// Removing everything leaves an empty, searchable index; adding brings results back.
    @Test func removeAllThenAdd() throws {
        let hnsw = try build(HNSWIndex.self, n: 100, IndexParameters(m: 4, efConstruction: 20))
        let rec = InMemoryIndexRecords()
        try hnsw.remove(slots: (0..<100).map { UInt32($0) }, writer: rec)
        let q = [Float](repeating: 0.5, count: dim)
        #expect(try hnsw.search(query: q, k: 5, parameters: SearchParameters(ef: 10), filter: nil).isEmpty)
        let (s, v) = vectors(10)
        try s.withUnsafeBufferPointer { sb in try v.withUnsafeBufferPointer { vb in try hnsw.add(slots: sb, vectors: vb, writer: rec) } }
        let res = try hnsw.search(query: q, k: 5, parameters: SearchParameters(ef: 10), filter: nil)
        #expect(res.count == 5 && res.allSatisfy { $0.slot < 10 })
    }
}
