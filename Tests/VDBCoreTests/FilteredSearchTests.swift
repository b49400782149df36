import Foundation
import Testing
@testable import VDBCore
import VDBSupport

/// Filtered search: exact results equal brute force; every index returns k results whenever k
/// vectors match, at every selectivity; the plan says what ran.
@Suite struct FilteredSearchTests {
    static let fields = [FieldDefinition(name: "tag", type: .keyword), FieldDefinition(name: "num", type: .int),
                         FieldDefinition(name: "when", type: .time)]

    /// Brute force over the vectors `filter` admits: (id, reported distance), ties by id.
    static func bruteForce(_ base: [[Float]], _ metas: [Metadata], ids: [UInt64], _ q: [Float], k: Int, metric: Metric,
                           filter: Filter) -> [(UInt64, Double)] {
        let keep = metas.indices.filter { filter.matches(metas[$0], fields: fields) }
        return VDBCoreTests.bruteForce(keep.map { base[$0] }, ids: keep.map { ids[$0] }, q, k: k, metric: metric)
    }

    @Test(arguments: [Metric.l2, .cosine])
    func exactFilteredSearchEqualsBruteForce(metric: Metric) throws {
        let dir = TempDir("filtered-flat"); defer { dir.cleanup() }
        let db = try Database(path: dir.path)
        let c = try db.createCollection(name: "c", dimension: 12, metric: metric, fields: Self.fields)
        let n = 1500
        let base = randomVectors(n, 12, seed: 11)
        var rng = SplitMix64(seed: 12)
        let metas: [Metadata] = (0..<n).map { i in
            var m: Metadata = ["tag": .string("t\(rng.next() % 10)"), "num": .int(Int64(rng.next() % 1000)),
                               "free": .string(i % 3 == 0 ? "yes" : "no")]
            if i % 4 != 0 { m["when"] = .string(MetadataTime.format(1_700_000_000 + Double(i) * 3600)) }
            return m
        }
        let ids = (0..<n).map { UInt64($0 * 7 + 3) }
        try c.insert(base, ids: ids, metadata: metas)
        let filters = [
            try Filter(where: ["tag=t3"]), try Filter(where: ["num<100"]), try Filter(where: ["tag in t1,t2", "num>=500"]),
            try Filter(where: ["free=yes"]), try Filter(where: ["free=yes", "tag!=t0"]),
            try Filter(where: ["when>=2023-12-01"]), try Filter(where: ["num>5000"]),
            try Filter(json: "{\"should\": [{\"key\": \"tag\", \"match\": {\"value\": \"t9\"}}, {\"is_null\": {\"key\": \"when\"}}]}"),
        ]
        let queries = randomVectors(8, 12, seed: 13)
        for f in filters {
            let got = try c.search(batch: queries, k: 10, where: f)
            for (qi, q) in queries.enumerated() {
                let want = Self.bruteForce(base, metas, ids: ids, q, k: 10, metric: metric, filter: f)
                #expect(got[qi].map(\.id) == want.map(\.0), "\(f.json) query \(qi)")
                for (h, w) in zip(got[qi], want) { #expect(abs(Double(h.distance) - w.1) < 1e-4) }
                #expect(got[qi].allSatisfy { f.matches($0.metadata, fields: Self.fields) })
            }
            // The single-query API and a snapshot give the same.
            #expect(try c.search(queries[0], k: 10, where: f) == got[0])
            #expect(try db.read { try $0.collection(named: "c").search(queries[0], k: 10, where: f) } == got[0])
        }
        // The plan: exact, with the exact count of matches.
        let plan = try c.searchExplained(contiguous: queries[0], k: 10, where: filters[0])[0].plan
        #expect(plan.path == .exact && plan.matches == metas.filter { $0["tag"] == "t3" }.count && plan.vectorsScored == plan.matches)
        #expect(plan.scannedKeys.isEmpty)
        #expect(try c.searchExplained(contiguous: queries[0], k: 10, where: filters[3])[0].plan.scannedKeys == ["free"])
        #expect(try c.searchExplained(contiguous: queries[0], k: 10, where: nil)[0].plan.path == .unfiltered)
        // A batch of 8 or more runs through sgemm on the gathered matches, fewer query by query:
        // both skip deleted slots.
        #expect(Collection.filteredBatchQueries <= queries.count)
        let gone = Set(ids.enumerated().filter { $0.offset % 5 == 1 }.map(\.element))
        _ = try c.delete(ids: Array(gone))
        let kept = ids.indices.filter { !gone.contains(ids[$0]) }
        for f in filters.prefix(4) {
            let got = try c.search(batch: queries, k: 10, where: f)
            for (qi, q) in queries.enumerated() {
                let want = Self.bruteForce(kept.map { base[$0] }, kept.map { metas[$0] }, ids: kept.map { ids[$0] }, q, k: 10,
                                           metric: metric, filter: f)
                #expect(got[qi].map(\.id) == want.map(\.0), "after deletes: \(f.json) query \(qi)")
            }
            #expect(try c.search(queries[3], k: 10, where: f) == got[3])
        }
    }

    /// Labels at 50%, 10%, 1% and 0.1% of the vectors, independent of them and correlated with
    /// their clusters: every index kind returns min(k, matches) results, all matching, with the
    /// index path forced (threshold 0) and with the default planner.
    @Test(arguments: [IndexKind.flat, .hnsw, .ivfFlat, .ivfSQ8])
    func kResultsWhenKMatch(kind: IndexKind) throws {
        let dir = TempDir("filtered-k"); defer { dir.cleanup() }
        let db = try Database(path: dir.path)
        let n = 5000, d = 8, k = 5
        let set = IndexTestSet(dim: d, clusters: 40, seed: 77, base: n, queries: 12)
        let base = stride(from: 0, to: n * d, by: d).map { Array(set.baseL2[$0..<($0 + d)]) }
        // Cluster of each vector: its nearest of 40 fixed vectors, for correlated labels.
        func distance(_ a: [Float], _ b: [Float]) -> Float {
            var s: Float = 0
            for j in 0..<a.count { s += (a[j] - b[j]) * (a[j] - b[j]) }
            return s
        }
        let clusters = base.map { v in
            var best = 0, bestDistance = Float.infinity
            for a in 0..<40 {
                let dd = distance(base[a], v)
                if dd < bestDistance { best = a; bestDistance = dd }
            }
            return best
        }
        var rng = SplitMix64(seed: 78)
        let shuffled = (0..<n).shuffled(using: &rng)
        let bySize = (0..<n).sorted { (clusters[$0], $0) < (clusters[$1], $1) }
        let fractions = [("s50", 0.5), ("s10", 0.1), ("s1", 0.01), ("s01", 0.001)]
        var metas = [Metadata](repeating: [:], count: n)
        for (name, f) in fractions {
            let m = Int((Double(n) * f).rounded())
            for i in shuffled.prefix(m) { metas[i][name + "i"] = "y" }
            for i in bySize.prefix(m) { metas[i][name + "c"] = "y" }
        }
        for i in 0..<n { metas[i]["num"] = .int(Int64(shuffled[i])) }
        let fields = fractions.flatMap { [FieldDefinition(name: $0.0 + "i", type: .keyword), FieldDefinition(name: $0.0 + "c", type: .keyword)] }
            + [FieldDefinition(name: "num", type: .int)]
        let c = try db.createCollection(name: "c", dimension: d, metric: .l2, fields: fields)
        try c.insert(base, ids: (0..<n).map(UInt64.init), metadata: metas)
        if kind != .flat {
            try c.buildIndex(kind: kind, parameters: IndexParameters(nlist: 32, m: 8, efConstruction: 40, seed: 3, buildThreads: 1))
        }
        let queries = stride(from: 0, to: 12 * d, by: d).map { Array(set.queriesL2[$0..<($0 + d)]) }
        // Every vector by distance to each query (ties by id): the exact neighbours of any filter.
        let orders = queries.map { q in (0..<n).map { (distance(q, base[$0]), $0) }.sorted { $0 < $1 }.map(\.1) }
        var filters: [(Filter, Int)] = []
        for (name, f) in fractions {
            let m = Int((Double(n) * f).rounded())
            filters.append((try Filter(where: ["\(name)i=y"]), m))
            filters.append((try Filter(where: ["\(name)c=y"]), m))
            filters.append((try Filter(where: ["num<\(m)"]), m))
        }
        for threshold in [0, SearchParameters.defaultFilterExactThreshold] {
            var params = SearchParameters(nprobe: 2, ef: 16, rerank: kind == .ivfSQ8, threads: 2)
            params.filterExactThreshold = threshold
            for (f, m) in filters {
                let matching = metas.map { f.matches($0, fields: fields) }
                let results = try c.searchExplained(contiguous: Array(queries.joined()), k: k, parameters: params, where: f)
                for r in results {
                    #expect(r.hits.count == min(k, m), "\(kind) \(f.json) threshold \(threshold): \(r.plan.summary)")
                    #expect(r.hits.allSatisfy { f.matches($0.metadata, fields: fields) })
                    #expect(r.plan.matches == m)
                    if threshold > m { #expect(r.plan.path == .exact) }
                    if kind == .flat { #expect(r.plan.path == .exact) }
                    if threshold == 0 && kind != .flat { #expect(r.plan.path == .index || r.plan.path == .indexThenExact) }
                }
                // Exact paths return the exact neighbours.
                if threshold > m || kind == .flat {
                    for (qi, r) in results.enumerated() {
                        let want = orders[qi].lazy.filter { matching[$0] }.prefix(k).map(UInt64.init)
                        #expect(r.hits.map(\.id) == Array(want))
                    }
                }
            }
        }
        // With the index forced at 10% and 50%, recall stays high.
        if kind == .hnsw || kind == .ivfFlat {
            var params = SearchParameters(nprobe: 8, ef: 32)
            params.filterExactThreshold = 0
            var found = 0, total = 0
            for name in ["s50i", "s10i", "s10c"] {
                let f = try Filter(where: ["\(name)=y"])
                for (qi, q) in queries.enumerated() {
                    let got = Set(try c.search(q, k: k, parameters: params, where: f).map(\.id))
                    let want = orders[qi].lazy.filter { metas[$0][name] != nil }.prefix(k).map(UInt64.init)
                    found += want.filter(got.contains).count
                    total += want.count
                }
            }
            #expect(Double(found) / Double(total) >= 0.9, "\(kind) recall \(Double(found) / Double(total))")
        }
    }

    /// After deletes and upserts (slots freed and reused), filtered index searches still return
    /// only live, matching vectors, k of them.
    @Test func filteredIndexSearchAfterWrites() throws {
        let dir = TempDir("filtered-writes"); defer { dir.cleanup() }
        let db = try Database(path: dir.path)
        let c = try db.createCollection(name: "c", dimension: 8, metric: .l2, fields: [FieldDefinition(name: "tag", type: .keyword)])
        let n = 2000
        try c.insert(randomVectors(n, 8, seed: 21), ids: (0..<n).map(UInt64.init), metadata: (0..<n).map { ["tag": .string($0 % 4 == 0 ? "a" : "b")] })
        try c.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 40, buildThreads: 1))
        try c.delete(ids: (0..<n).filter { $0 % 8 == 0 }.map(UInt64.init))
        try c.upsert(randomVectors(100, 8, seed: 22), ids: (1000..<1100).map(UInt64.init), metadata: (0..<100).map { _ in ["tag": "a"] })
        var params = SearchParameters(ef: 16)
        params.filterExactThreshold = 0
        let f = try Filter(where: ["tag=a"])
        let live = Set((0..<n).filter { $0 % 8 != 0 || (1000..<1100).contains($0) }.map(UInt64.init))
        let expected = (0..<n).filter { ($0 % 4 == 0 && $0 % 8 != 0) || (1000..<1100).contains($0) }.count
        for q in randomVectors(10, 8, seed: 23) {
            let r = try c.searchExplained(contiguous: q, k: 20, parameters: params, where: f)[0]
            #expect(r.plan.matches == expected)
            #expect(r.hits.count == 20)
            #expect(r.hits.allSatisfy { live.contains($0.id) && $0.metadata["tag"] == "a" })
        }
        try c.checkIndexInvariants()
    }
}
