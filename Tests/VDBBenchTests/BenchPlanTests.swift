import Foundation
import Testing
@testable import VDBBench
import VDBCore

/// `Bench.run` and `Bench.writeSyntheticDataset`: what `vdb bench` calls, on seeded synthetic data.
@Suite struct BenchPlanTests {
    @Test func sweepSettingsPerIndexKind() {
        var plan = BenchPlan()
        plan.k = 20
        plan.threads = 0
        plan.nprobe = [1, 8]
        plan.ef = [10, 50]
        #expect(plan.resolvedThreads == ProcessInfo.processInfo.activeProcessorCount)
        #expect(plan.settings().map(\.reported) == [[]])
        #expect(plan.settings()[0].parameters.threads == ProcessInfo.processInfo.activeProcessorCount)
        plan.index = .hnsw
        // ef is reported as asked but searched with at least k.
        #expect(plan.settings().map(\.reported) == [[BenchParameter("ef", 10)], [BenchParameter("ef", 50)]])
        #expect(plan.settings().map(\.parameters.ef) == [20, 50])
        plan.index = .ivfFlat
        plan.rerank = true  // IVF_SQ8 only
        #expect(plan.settings().map(\.reported) == [[BenchParameter("nprobe", 1)], [BenchParameter("nprobe", 8)]])
        #expect(plan.settings().allSatisfy { !$0.parameters.rerank })
        plan.index = .ivfSQ8
        #expect(plan.settings()[1].reported == [BenchParameter("nprobe", 8), BenchParameter("rerank", 1)])
        #expect(plan.settings().allSatisfy { $0.parameters.rerank })
    }

    @Test func validationNamesTheField() {
        func message(_ change: (inout BenchPlan) -> Void) -> String? {
            var plan = BenchPlan()
            plan.synthetic = BenchSynthetic(count: 10, dimension: 2)
            change(&plan)
            do { try plan.validate(); return nil } catch { return error.description }
        }
        #expect(message { _ in } == nil)
        #expect(message { $0.synthetic = nil }?.contains("base and query files") == true)
        #expect(message { $0.k = 0 }?.contains("k must be >= 1, got 0") == true)
        #expect(message { $0.threads = -1 }?.contains("threads must be >= 0") == true)
        #expect(message { $0.limitQueries = 0 }?.contains("limitQueries must be >= 1") == true)
        #expect(message { $0.index = .hnsw; $0.ef = [16, 0] }?.contains("ef values must be >= 1") == true)
        #expect(message { $0.index = .ivfFlat; $0.nprobe = [] }?.contains("nprobe values") == true)
        #expect(throws: BenchError.self) { try BenchSynthetic(count: 1 << 40, dimension: 1 << 30).generate() }
    }

    /// A synthetic dataset written to disk, then benchmarked from the folder with its ground
    /// truth: FLAT is exact (recall 1), and the ids written to the results directory give the
    /// recall the record reports.
    @Test func keptDatabaseReportsNoBuildUnlessTheIndexChanged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-kept-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var plan = BenchPlan()
        plan.synthetic = BenchSynthetic(count: 400, dimension: 8, clusters: 4, queries: 5, seed: 2)
        plan.databasePath = dir + "/db"
        plan.index = .ivfSQ8
        plan.parameters = IndexParameters(nlist: 8, buildThreads: 1)
        plan.nprobe = [2, 8]
        plan.latencyQueries = 2
        let first = try Bench.run(plan)
        #expect(!first.reusedExistingCollection && !first.rebuiltIndex)
        #expect(first.records.allSatisfy { $0.buildSeconds > 0 })
        // Same index and parameters: nothing is built, and build_s says so exactly.
        let second = try Bench.run(plan)
        #expect(second.reusedExistingCollection && !second.rebuiltIndex)
        #expect(second.records.map(\.buildSeconds) == [0, 0])
        #expect(second.records.map(\.recall) == first.records.map(\.recall))
        // Other parameters: the vectors are reused, the index is rebuilt and timed.
        plan.parameters = IndexParameters(nlist: 4, buildThreads: 1)
        let third = try Bench.run(plan)
        #expect(third.reusedExistingCollection && third.rebuiltIndex)
        #expect(third.records.allSatisfy { $0.buildSeconds > 0 })
    }

    @Test func datasetFolderThroughTheWholeRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-run-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = BenchSynthetic(count: 300, dimension: 8, clusters: 4, queries: 12, seed: 3)
        let written = try Bench.writeSyntheticDataset(spec, to: dir + "/data", groundTruthK: 20, metrics: [.l2, .cosine], threads: 1)
        #expect(written.map { ($0 as NSString).lastPathComponent } == ["base.fvecs", "query.fvecs", "gt_l2.ivecs", "gt_ip.ivecs"])

        for (metric, kind) in [(Metric.l2, IndexKind.flat), (.cosine, .flat), (.l2, .ivfFlat)] {
            var plan = BenchPlan()
            plan.dataset = dir + "/data"
            plan.metric = metric
            plan.index = kind
            plan.parameters = IndexParameters(nlist: 4, buildThreads: 1)
            plan.nprobe = [4]
            plan.latencyQueries = 3
            plan.resultsDirectory = dir + "/results-\(metric)-\(kind)"
            let events = BenchEventLog()
            let report = try Bench.run(plan) { events.append($0) }
            #expect(report.baseCount == 300 && report.queryCount == 12 && report.dimension == 8)
            #expect(!report.reusedExistingCollection)
            #expect(events.count >= 4)
            let record = try #require(report.records.first)
            #expect(report.records.count == 1)
            // IVF visiting every list is exact too.
            #expect(record.recall == 1, "\(metric) \(kind)")
            let file = try #require(record.resultsFile)
            #expect(file == (kind == .flat ? "flat.ivecs" : "ivf_flat_nlist-4_nprobe-4.ivecs"))
            let ids = try BenchDataset.loadNeighbors(plan.resultsDirectory! + "/" + file)
            let gt = try BenchDataset.loadNeighbors(dir + "/data/gt_\(metric == .l2 ? "l2" : "ip").ivecs")
            #expect(try BenchStatistics.recall(results: (0 ..< ids.count).map { ids.row($0).map(Int64.init) },
                                               groundTruth: gt, k: 10) == record.recall)
        }
    }

    /// With --limit-base the file's ground truth no longer applies and is recomputed; a wrong
    /// ground-truth file is refused with the sizes in the message.
    @Test func limitsAndMismatches() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bench-lim-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Bench.writeSyntheticDataset(BenchSynthetic(count: 200, dimension: 4, queries: 10, seed: 8), to: dir,
                                        groundTruthK: 10, metrics: [.l2], threads: 1)
        var plan = BenchPlan()
        plan.base = dir + "/base.fvecs"
        plan.queries = dir + "/query.fvecs"
        plan.groundTruth = dir + "/gt_l2.ivecs"
        plan.limitBase = 50
        plan.limitQueries = 4
        plan.latencyQueries = 1
        let report = try Bench.run(plan)
        #expect(report.baseCount == 50 && report.queryCount == 4 && report.records[0].recall == 1)
        plan.limitBase = nil
        plan.k = 11  // wider than the 10 ids per ground-truth row
        #expect(throws: BenchError.mismatch("ground truth has 10 neighbours per query, fewer than k = 11")) { try Bench.run(plan) }
    }
}
