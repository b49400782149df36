import Foundation
import Synchronization
import Testing
@testable import VDBBench
import VDBCore

// The harness on seeded synthetic data only (BenchSynthetic, BenchRandom): nothing here needs a
// dataset on disk, so every test runs everywhere.

@Suite struct BenchStatisticsTests {
    @Test func recallCountsIntersectionWithFirstKTruthIds() throws {
        let gt = try BenchNeighborRows(width: 4, ids: [0, 1, 2, 3,
                                                       9, 8, 7, 6])
        // Query 0: {0, 5} ∩ {0, 1} = 1 of 2. Query 1: {8, 9} = 2 of 2 (order does not matter).
        #expect(try BenchStatistics.recall(results: [[0, 5], [8, 9]], groundTruth: gt, k: 2) == 0.75)
        // Short rows count as misses; duplicates count once; ids beyond k are ignored.
        #expect(try BenchStatistics.recall(results: [[1], [9, 9, 8]], groundTruth: gt, k: 2) == 0.5)
        #expect(try BenchStatistics.recall(results: [[3, 2, 1, 0], [6, 7, 8, 9]], groundTruth: gt, k: 4) == 1)
        #expect(throws: BenchError.self) { try BenchStatistics.recall(results: [[0]], groundTruth: gt, k: 1) }
        #expect(throws: BenchError.self) { try BenchStatistics.recall(results: [[0], [1]], groundTruth: gt, k: 5) }
    }

    @Test func percentilesInterpolateLinearlyLikeNumPy() {
        let v: [Double] = [4, 1, 3, 2]
        #expect(BenchStatistics.percentile(v, 0) == 1)
        #expect(BenchStatistics.percentile(v, 100) == 4)
        #expect(BenchStatistics.percentile(v, 50) == 2.5)
        #expect(abs(BenchStatistics.percentile(v, 99) - 3.97) < 1e-12)
        #expect(abs(BenchStatistics.percentile(Array(1 ... 1000).map(Double.init), 99.9) - 999.001) < 1e-9)
        #expect(BenchStatistics.percentile([7], 99) == 7)
        #expect(BenchStatistics.percentile([], 50).isNaN)
    }

    @Test func parsesProcStatusMemory() {
        let text = "Name:\tvdb\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t1\n"
        #expect(BenchSystem.parseStatus(text) == .init(residentBytes: 1024 * 1024, peakResidentBytes: 2048 * 1024))
        #expect(BenchSystem.parseStatus("Name: x\n") == nil)
        let live = BenchSystem.memory()
        #expect(live != nil && live!.residentBytes > 0 && live!.peakResidentBytes >= live!.residentBytes)
        #expect(BenchSystem.peakResidentBytes() >= live!.residentBytes / 2)
    }

    @Test func cpuClockAdvancesWithWork() {
        let c0 = BenchSystem.cpuSeconds(), t0 = BenchSystem.nanoseconds()
        var rng = BenchRandom(seed: 1), acc: Float = 0
        while BenchSystem.cpuSeconds() - c0 < 0.01 { acc += rng.nextGaussian() }
        #expect(BenchSystem.cpuSeconds() > c0 && BenchSystem.nanoseconds() > t0 && acc.isFinite)
    }

    @Test func bytesOnDiskSumsAllocatedBlocksRecursively() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-du-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(repeating: 1, count: 10_000).write(to: URL(fileURLWithPath: dir + "/a"))
        try Data(repeating: 2, count: 5_000).write(to: URL(fileURLWithPath: dir + "/sub/b"))
        let bytes = try BenchSystem.bytesOnDisk(dir)
        #expect(bytes >= 15_000 && bytes < 15_000 + 64 * 1024)
        #expect(throws: BenchError.self) { try BenchSystem.bytesOnDisk(dir + "/missing") }
    }
}

@Suite struct BenchGroundTruthTests {
    /// Points on a line, checked by hand: base x = 0, 1, 2, 3, 4, 1 (id 5 duplicates id 1).
    @Test func handCheckedL2AndInnerProductWithTies() throws {
        let base = try BenchVectors(dimension: 2, data: [0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 1, 0])
        let queries = try BenchVectors(dimension: 2, data: [1.2, 0, 3.9, 0, -1, 0])
        let l2 = try BenchGroundTruth.compute(base: base, queries: queries, k: 3, metric: .l2, threads: 1)
        // q = 1.2: ids 1 and 5 tie at 0.04 (smaller id first), then id 2 at 0.64.
        #expect(Array(l2.row(0)) == [1, 5, 2])
        #expect(Array(l2.row(1)) == [4, 3, 2])
        #expect(Array(l2.row(2)) == [0, 1, 5])
        let ip = try BenchGroundTruth.compute(base: base, queries: queries, k: 2, metric: .ip, threads: 1)
        #expect(Array(ip.row(0)) == [4, 3])
        // q = -1: largest inner product is 0 (id 0), then -1 shared by ids 1 and 5.
        #expect(Array(ip.row(2)) == [0, 1])
        #expect(throws: BenchError.self) { try BenchGroundTruth.compute(base: base, queries: queries, k: 7, metric: .l2) }
        let wrongDim = try BenchVectors(dimension: 3, data: [0, 0, 0])
        #expect(throws: BenchError.self) { try BenchGroundTruth.compute(base: base, queries: wrongDim, k: 1, metric: .l2) }
    }

    /// Across query and base block boundaries, both metrics and two thread counts agree with a
    /// double-precision scan sorted by (distance, id).
    @Test func matchesNaiveScanAcrossBlocks() throws {
        var rng = BenchRandom(seed: 7)
        let d = 4, nb = 8192 + 300, nq = 260, k = 5
        // Coarse values make exact ties common, so the tie rule is exercised.
        let base = try BenchVectors(dimension: d, data: (0 ..< nb * d).map { _ in Float(Int(rng.next() % 7)) - 3 })
        let queries = try BenchVectors(dimension: d, data: (0 ..< nq * d).map { _ in Float(Int(rng.next() % 9)) * 0.5 - 2 })
        for metric in [KernelMetric.l2, .ip] {
            for threads in [1, 2] {
                let gt = try BenchGroundTruth.compute(base: base, queries: queries, k: k, metric: metric, threads: threads)
                for qi in stride(from: 0, to: nq, by: 37) {
                    let q = queries.row(qi)
                    var scored: [(Double, Int32)] = (0 ..< nb).map { i in
                        var s = 0.0
                        for j in 0 ..< d {
                            let b = Double(base.data[i * d + j])
                            s += metric == .l2 ? (Double(q[j]) - b) * (Double(q[j]) - b) : -Double(q[j]) * b
                        }
                        return (s, Int32(i))
                    }
                    scored.sort { $0 < $1 }
                    #expect(Array(gt.row(qi)) == scored.prefix(k).map(\.1), "metric \(metric) threads \(threads) query \(qi)")
                }
            }
        }
    }
}

@Suite struct BenchFilesTests {
    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-\(UUID().uuidString)-\(name)").path
    }

    @Test func fvecsAndIvecsRoundTrip() throws {
        let v = try BenchVectors(dimension: 3, data: [1, -2.5, 3, 0, .leastNonzeroMagnitude, 1e30])
        let rows = try BenchNeighborRows(width: 2, ids: [5, 7, -1, 2_000_000_000])
        let fp = tempPath("v.fvecs"), ip = tempPath("g.ivecs")
        defer { try? FileManager.default.removeItem(atPath: fp); try? FileManager.default.removeItem(atPath: ip) }
        try BenchTexmex.writeFvecs(v, to: fp)
        try BenchTexmex.writeIvecs(rows, to: ip)
        #expect(try Data(contentsOf: URL(fileURLWithPath: fp)).count == 2 * (4 + 12))
        #expect(try BenchDataset.loadVectors(fp) == v)
        #expect(try BenchDataset.loadNeighbors(ip) == rows)
    }

    @Test func readsBvecsAsFloats() throws {
        let p = tempPath("b.bvecs")
        defer { try? FileManager.default.removeItem(atPath: p) }
        try Data([2, 0, 0, 0, 0, 255, 2, 0, 0, 0, 7, 128]).write(to: URL(fileURLWithPath: p))
        let v = try BenchDataset.loadVectors(p)
        #expect(v.dimension == 2 && v.count == 2 && v.data == [0, 255, 7, 128])
        #expect(throws: (any Error).self) { try BenchDataset.loadVectors(p + ".missing.fvecs") }
    }
}

@Suite struct BenchSyntheticTests {
    @Test func seededAndClustered() throws {
        let spec = try BenchSynthetic(spec: "500:8:5", queries: 20, seed: 3)
        #expect(spec.count == 500 && spec.dimension == 8 && spec.clusters == 5)
        let a = try spec.generate(), b = try spec.generate()
        #expect(a.base == b.base && a.queries == b.queries)
        #expect(a.base.count == 500 && a.queries.count == 20 && a.base.dimension == 8)
        var other = spec
        other.seed = 4
        #expect(try other.generate().base != a.base)
        // Changing the number of queries leaves the base unchanged.
        other = spec
        other.queries = 5
        #expect(try other.generate().base == a.base)
        // Clustered: each vector's nearest neighbour is much closer than a random pair.
        let gt = try BenchGroundTruth.compute(base: a.base, queries: a.base.prefix(50), k: 2, metric: .l2, threads: 1)
        var nn = 0.0, random = 0.0
        for i in 0 ..< 50 {
            let j = Int(gt.row(i).last!), r = (i * 97 + 13) % 500
            for t in 0 ..< 8 {
                nn += Double(a.base.data[i * 8 + t] - a.base.data[j * 8 + t]).magnitude
                random += Double(a.base.data[i * 8 + t] - a.base.data[r * 8 + t]).magnitude
            }
        }
        #expect(nn * 2 < random)
        #expect(throws: BenchError.self) { try BenchSynthetic(spec: "10", seed: 1) }
        #expect(throws: BenchError.self) { try BenchSynthetic(spec: "10:x", seed: 1) }
        #expect(throws: BenchError.self) { try BenchSynthetic(count: 0, dimension: 4).generate() }
    }
}

@Suite struct BenchRunnerTests {
    /// A brute-force subject: exact results, so recall must be 1; JSON lines carry exactly the keys.
    @Test func runsSweepAndEmitsExactJSONKeys() throws {
        let data = try BenchSynthetic(count: 300, dimension: 8, clusters: 4, queries: 30, seed: 9).generate()
        let gt = try BenchGroundTruth.compute(base: data.base, queries: data.queries, k: 10, metric: .l2, threads: 1)
        let base = data.base
        let builds = BenchCounter()
        let subject = BenchSubject(
            index: "flat", buildParameters: [BenchParameter("nlist", 4)],
            build: { progress in builds.add(); progress(1) },
            searchBatch: { q, k, _ in
                let r = try BenchGroundTruth.compute(base: base, queries: q, k: k, metric: .l2, threads: 1)
                return (0 ..< r.count).map { r.row($0).map(Int64.init) }
            },
            searchOne: { q, k, _ in
                let r = try BenchGroundTruth.compute(base: base, queries: BenchVectors(dimension: 8, data: Array(q)), k: k, metric: .l2, threads: 1)
                return r.row(0).map(Int64.init)
            },
            bytesOnDisk: { 4096 })
        let events = BenchEventLog()
        let settings = [BenchSetting(reported: [BenchParameter("nprobe", 1)], parameters: SearchParameters(nprobe: 1)),
                        BenchSetting(reported: [BenchParameter("nprobe", 2)], parameters: SearchParameters(nprobe: 2))]
        let sunk = Mutex<[String]>([])
        let records = try BenchRunner.run(subject: subject, settings: settings, queries: data.queries, groundTruth: gt,
                                          configuration: BenchConfiguration(k: 10, threads: 1, batchRuns: 3, latencyQueries: 10, warmupQueries: 2),
                                          onEvent: { events.append($0) },
                                          results: { index, params, ids in
                                              #expect(ids.count == 30 && ids.allSatisfy { $0.count == 10 })
                                              let name = index + params.map { "_\($0.name)=\($0.value)" }.joined()
                                              sunk.withLock { $0.append(name) }
                                              return name
                                          })
        #expect(builds.value == 1)
        #expect(records.count == 2)
        #expect(events.count == 1 + 1 + 2 * 2)  // building, built, then started + finished per setting
        #expect(sunk.withLock { $0 } == ["flat_nlist=4_nprobe=1", "flat_nlist=4_nprobe=2"])
        for (i, r) in records.enumerated() {
            #expect(r.recall == 1)
            #expect(r.qps > 0 && r.cpuQPS > 0 && r.p50Ms > 0 && r.p99Ms >= r.p50Ms && r.p999Ms >= r.p99Ms)
            #expect(r.bytes == 4096 && r.k == 10 && r.threads == 1)
            #expect(r.resultsFile == "flat_nlist=4_nprobe=\(i + 1)")
            let obj = try jsonObject(r)
            #expect(Set(obj.keys) == BenchJSONKeys.all.union(["results_file"]))
            #expect(obj["index"] as? String == "flat")
            #expect((obj["params"] as? [String: Int]) == ["nlist": 4, "nprobe": i + 1])
            #expect((obj["recall"] as? Double) == 1)
        }
        let table = BenchRecord.table(records)
        #expect(table.split(separator: "\n").count == 4 && table.contains("nlist=4,nprobe=2"))
    }

    @Test func discoversDatasetFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-ds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: BenchError.self) { try BenchDataset.discover(folder: dir, metric: .l2) }
        for f in ["base.fvecs", "query.fvecs", "gt_ip.ivecs"] { _ = FileManager.default.createFile(atPath: dir + "/" + f, contents: Data()) }
        let l2 = try BenchDataset.discover(folder: dir, metric: .l2)
        #expect(l2.base == dir + "/base.fvecs" && l2.queries == dir + "/query.fvecs" && l2.groundTruth == nil)
        #expect(try BenchDataset.discover(folder: dir, metric: .cosine).groundTruth == dir + "/gt_ip.ivecs")
        #expect(throws: VDBError.self) { try BenchDataset.loadVectors(dir + "/x.txt") }
    }

    @Test func rejectsGroundTruthThatDoesNotFit() throws {
        let q = try BenchVectors(dimension: 2, data: [0, 0, 1, 1])
        let subject = BenchSubject(index: "x", build: { _ in }, searchBatch: { _, _, _ in [] },
                                   searchOne: { _, _, _ in [] }, bytesOnDisk: { 0 })
        let narrow = try BenchNeighborRows(width: 5, ids: Array(repeating: 0, count: 10))
        #expect(throws: BenchError.self) {
            try BenchRunner.run(subject: subject, settings: [], queries: q, groundTruth: narrow, configuration: BenchConfiguration(k: 10))
        }
        let short = try BenchNeighborRows(width: 10, ids: Array(repeating: 0, count: 10))
        #expect(throws: BenchError.self) {
            try BenchRunner.run(subject: subject, settings: [], queries: q, groundTruth: short, configuration: BenchConfiguration(k: 10))
        }
    }

    @Test func formatsNumbersWithoutLocale() {
        #expect(benchFixed(3.14159, 2) == "3.14")
        #expect(benchFixed(0.0005, 3) == "0.001")
        #expect(benchFixed(-2.5, 1) == "-2.5")
        #expect(benchFixed(12, 0) == "12")
        #expect(benchFixed(.nan, 2) == "nan" && benchFixed(2e300, 1) == "2e+300")
    }

    /// JSON numbers are rounded like the table; a non-finite value (no latency samples) is null,
    /// and `results_file` appears only when set.
    @Test func recordEncodesSnakeCaseKeysRoundedNumbersAndNull() throws {
        var r = BenchRecord(index: "hnsw", params: [BenchParameter("M", 16), BenchParameter("ef", 64)], threads: 2, k: 10,
                            recall: 0.123456789, qps: 1234.5678, cpuQPS: 99.96, p50Ms: .nan, p99Ms: 0.123456, p999Ms: 1,
                            buildSeconds: 1.23456, bytes: 42, residentBytes: 1, peakResidentBytes: 2, resultsFile: nil)
        var obj = try jsonObject(r)
        #expect(Set(obj.keys) == BenchJSONKeys.all)
        #expect(obj["recall"] as? Double == 0.123457 && obj["qps"] as? Double == 1234.6 && obj["cpu_qps"] as? Double == 100)
        #expect(obj["p50_ms"] is NSNull && obj["p99_ms"] as? Double == 0.1235 && obj["build_s"] as? Double == 1.235)
        #expect(obj["params"] as? [String: Int] == ["M": 16, "ef": 64] && obj["threads"] as? Int == 2)
        r.resultsFile = "hnsw_M-16_ef-64.ivecs"
        obj = try jsonObject(r)
        #expect(obj["results_file"] as? String == "hnsw_M-16_ef-64.ivecs")
    }
}

/// The keys of a `vdb bench --json` line without a results directory.
enum BenchJSONKeys {
    static let all: Set<String> = ["index", "params", "threads", "k", "recall", "qps", "cpu_qps", "p50_ms", "p99_ms",
                                   "p999_ms", "build_s", "bytes", "rss_bytes", "peak_rss_bytes"]
}

/// A record as the JSON object `vdb bench --json` prints.
func jsonObject(_ record: BenchRecord) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any])
}

final class BenchCounter: Sendable {
    private let n = Mutex(0)
    func add() { n.withLock { $0 += 1 } }
    var value: Int { n.withLock { $0 } }
}

final class BenchEventLog: Sendable {
    private let events = Mutex<[BenchEvent]>([])
    func append(_ e: BenchEvent) { events.withLock { $0.append(e) } }
    var count: Int { events.withLock { $0.count } }
}

@Suite struct BenchDatabaseTests {
    /// The database-backed subject (what `vdb bench` runs): exact FLAT search must give recall 1,
    /// JSON lines carry exactly the documented keys, the temporary database is removed on close,
    /// and a kept database is reused without rebuilding.
    @Test func flatCollectionThroughTheHarness() throws {
        let data = try BenchSynthetic(count: 400, dimension: 8, clusters: 5, queries: 25, seed: 2).generate()
        for metric in [Metric.l2, .cosine] {
            let (b, q) = metric.normalizes ? (data.base.normalized(), data.queries.normalized()) : (data.base, data.queries)
            let gt = try BenchGroundTruth.compute(base: b, queries: q, k: 10, metric: metric.kernel, threads: 1)
            let target = BenchDatabase.Target(databasePath: nil, metric: metric, index: .flat, parameters: IndexParameters())
            let (subject, handle) = try BenchDatabase.subject(target: target, base: data.base)
            let records = try BenchRunner.run(subject: subject, settings: [BenchSetting(reported: [], parameters: SearchParameters(threads: 2))],
                                              queries: data.queries, groundTruth: gt,
                                              configuration: BenchConfiguration(k: 10, threads: 2, latencyQueries: 5, warmupQueries: 1))
            #expect(records.count == 1)
            #expect(records[0].recall == 1, "metric \(metric)")
            #expect(records[0].bytes > 400 * 8 * 4)
            let obj = try jsonObject(records[0])
            #expect(Set(obj.keys) == BenchJSONKeys.all)
            #expect((obj["params"] as? [String: Int]) == [:] && obj["threads"] as? Int == 2)
            #expect(FileManager.default.fileExists(atPath: handle.path))
            handle.close()
            #expect(!FileManager.default.fileExists(atPath: handle.path))
        }
    }

    /// ANN indexes through the database: IVF visiting every list is exact; HNSW with a large ef
    /// on a small set finds nearly everything; reported params carry build then search values.
    @Test func annIndexesThroughTheHarness() throws {
        let data = try BenchSynthetic(count: 600, dimension: 8, clusters: 6, queries: 20, seed: 4).generate()
        let gt = try BenchGroundTruth.compute(base: data.base, queries: data.queries, k: 10, metric: .l2, threads: 1)
        let cases: [(IndexKind, BenchSetting, Double)] = [
            (.ivfFlat, BenchSetting(reported: [BenchParameter("nprobe", 8)], parameters: SearchParameters(nprobe: 8)), 1.0),
            (.ivfSQ8, BenchSetting(reported: [BenchParameter("nprobe", 8)], parameters: SearchParameters(nprobe: 8)), 0.9),
            (.ivfSQ8, BenchSetting(reported: [BenchParameter("nprobe", 8)], parameters: SearchParameters(nprobe: 8, rerank: true)), 1.0),
            (.hnsw, BenchSetting(reported: [BenchParameter("ef", 100)], parameters: SearchParameters(ef: 100)), 0.95),
        ]
        for (kind, setting, minRecall) in cases {
            let target = BenchDatabase.Target(databasePath: nil, metric: .l2, index: kind,
                                              parameters: IndexParameters(nlist: 8, m: 8, efConstruction: 64, buildThreads: 1))
            let (subject, handle) = try BenchDatabase.subject(target: target, base: data.base)
            defer { handle.close() }
            let records = try BenchRunner.run(subject: subject, settings: [setting], queries: data.queries, groundTruth: gt,
                                              configuration: BenchConfiguration(k: 10, latencyQueries: 3, warmupQueries: 1))
            #expect(records[0].recall >= minRecall, "\(kind): recall \(records[0].recall)")
            #expect(try handle.collection?.info().indexBuilt == true)
            let expected = kind == .hnsw ? "M=8,efConstruction=64,ef=100" : "nlist=8,nprobe=8"
            #expect(records[0].paramsText == expected)
        }
    }

    @Test func keptDatabaseIsReused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-keep-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try BenchSynthetic(count: 100, dimension: 4, queries: 1, seed: 5).generate().base
        let target = BenchDatabase.Target(databasePath: dir, collection: "c", metric: .l2, index: .flat, parameters: IndexParameters())
        do {
            let (subject, handle) = try BenchDatabase.subject(target: target, base: base)
            try subject.build { _ in }
            #expect(!handle.reusedExisting)
            handle.close()
        }
        let (subject, handle) = try BenchDatabase.subject(target: target, base: base)
        try subject.build { _ in }
        #expect(handle.reusedExisting)
        #expect(try handle.database.collection(named: "c").count() == 100)
        let hit = try base.data.withUnsafeBufferPointer { try subject.searchOne(UnsafeBufferPointer(rebasing: $0[12 ..< 16]), 1, SearchParameters()) }
        #expect(hit == [3])
        handle.close()
        #expect(FileManager.default.fileExists(atPath: dir))
        // A different dimension or size is refused with a clear error; the collection is kept.
        let wide = try BenchVectors(dimension: 5, data: Array(repeating: 1, count: 10))
        let (s2, h2) = try BenchDatabase.subject(target: target, base: wide)
        #expect(throws: BenchError.self) { try s2.build { _ in } }
        h2.close()
        let (s3, h3) = try BenchDatabase.subject(target: target, base: base.prefix(50))
        #expect(throws: BenchError.self) { try s3.build { _ in } }
        #expect(try h3.database.collection(named: "c").count() == 100)
        h3.close()
    }
}

@Suite struct BenchFilterTests {
    /// `vdb bench --metadata --field --filter`: the harness stores the metadata, computes the
    /// exact filtered ground truth, and exact FLAT search with the filter reaches recall 1.
    @Test func filteredSearchThroughTheHarness() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-filter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try BenchSynthetic(count: 500, dimension: 8, clusters: 5, queries: 20, seed: 6).generate()
        try BenchTexmex.writeFvecs(data.base, to: dir.path + "/base.fvecs")
        try BenchTexmex.writeFvecs(data.queries, to: dir.path + "/query.fvecs")
        let lines = (0..<500).map { "{\"tag\":\"\($0 % 7 == 0 ? "a" : "b")\",\"num\":\($0)}" } + [""]
        try lines.joined(separator: "\n").write(toFile: dir.path + "/meta.jsonl", atomically: true, encoding: .utf8)
        var plan = BenchPlan()
        plan.base = dir.path + "/base.fvecs"
        plan.queries = dir.path + "/query.fvecs"
        plan.metadata = dir.path + "/meta.jsonl"
        plan.fields = [FieldDefinition(name: "tag", type: .keyword)]
        plan.latencyQueries = 3
        for (filter, index) in [(try Filter(where: ["tag=a"]), IndexKind.flat), (try Filter(where: ["num<120", "tag=b"]), .hnsw)] {
            plan.filter = filter
            plan.index = index
            plan.ef = [200]
            plan.parameters = IndexParameters(m: 8, efConstruction: 64, buildThreads: 1)
            let report = try Bench.run(plan)
            #expect(report.records.count == 1)
            #expect(report.records[0].recall >= (index == .flat ? 1 : 0.95), "\(filter.json) \(index)")
        }
        // A filter without metadata (or ground truth) is refused.
        plan.metadata = nil
        #expect(throws: BenchError.self) { try Bench.run(plan) }
    }
}
