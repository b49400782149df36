import Foundation
import VDBCore

/// The benchmark harness behind `vdb bench`: recall@k, throughput, latency, build time, size and
/// memory of vdb's indexes, measured through the whole database (a ``Collection``) the way
/// ann-benchmarks measures, on vector files or seeded synthetic data.
///
/// ```swift
/// var plan = BenchPlan()
/// plan.synthetic = BenchSynthetic(count: 10_000, dimension: 64, queries: 200)
/// plan.index = .hnsw
/// plan.ef = [16, 64]
/// let report = try Bench.run(plan)
/// print(BenchRecord.table(report.records))
/// ```
public enum Bench {
    /// What a run measured, with the shape of the data it ran on.
    public struct Report: Sendable {
        /// One record per search setting, in sweep order.
        public var records: [BenchRecord]
        /// Number and dimension of the base vectors, and number of queries.
        public var baseCount: Int
        public var dimension: Int
        public var queryCount: Int
        /// Whether an existing collection in the plan's database was reused (no vectors inserted).
        public var reusedExistingCollection: Bool
        /// Whether that collection's index had other parameters and was rebuilt (`build_s` is the
        /// rebuild); when false, a reused collection built nothing and `build_s` is 0.
        public var rebuiltIndex: Bool
    }

    /// Loads or generates the data of `plan`, builds its index once in a database, and measures
    /// every search setting of the sweep. `onEvent` sees progress and each record as it finishes.
    public static func run(_ plan: BenchPlan, onEvent: @escaping @Sendable (BenchEvent) -> Void = { _ in }) throws -> Report {
        try plan.validate()
        var (base, queries, truth) = try loadData(plan, onEvent: onEvent)
        if let n = plan.limitBase, n < base.count {
            // Ground-truth ids refer to the full base: recompute it for the subset.
            base = base.prefix(n)
            truth = nil
        }
        if let n = plan.limitQueries { queries = queries.prefix(n) }
        guard base.dimension == queries.dimension else {
            throw BenchError.mismatch("base vectors have dimension \(base.dimension) but queries have \(queries.dimension)")
        }
        let metadata = try plan.metadata.map { try BenchDataset.loadMetadata($0, rows: base.count) }
        let groundTruth: BenchNeighborRows
        if let t = truth {
            guard t.count >= queries.count else {
                throw BenchError.mismatch("ground truth has \(t.count) rows for \(queries.count) queries")
            }
            groundTruth = try BenchDataset.firstRows(t, queries.count)
        } else if let filter = plan.filter {
            guard let metadata else { throw BenchError.invalidArgument("a filter needs the base vectors' metadata (--metadata) or a ground-truth file") }
            // Exact filtered ground truth: brute force over the matching rows, ids mapped back.
            let rows = metadata.indices.filter { filter.matches(metadata[$0] ?? [:], fields: plan.fields) }
            guard rows.count >= plan.k else {
                throw BenchError.invalidArgument("only \(rows.count) base vectors match the filter; k is \(plan.k)")
            }
            onEvent(.preparing("computing exact filtered ground truth (\(queries.count) queries x \(rows.count) matching vectors)"))
            var subset: [Float] = []
            subset.reserveCapacity(rows.count * base.dimension)
            for r in rows { subset += base.data[r * base.dimension ..< (r + 1) * base.dimension] }
            let sub = try BenchVectors(dimension: base.dimension, data: subset)
            let (b, q) = plan.metric.normalizes ? (sub.normalized(), queries.normalized()) : (sub, queries)
            let local = try BenchGroundTruth.compute(base: b, queries: q, k: plan.k, metric: plan.metric.kernel,
                                                     threads: plan.resolvedThreads)
            groundTruth = try BenchNeighborRows(width: local.width, ids: local.ids.map { Int32(rows[Int($0)]) })
        } else {
            onEvent(.preparing("computing exact ground truth (\(queries.count) queries x \(base.count) vectors)"))
            let (b, q) = plan.metric.normalizes ? (base.normalized(), queries.normalized()) : (base, queries)
            groundTruth = try BenchGroundTruth.compute(base: b, queries: q, k: plan.k, metric: plan.metric.kernel,
                                                       threads: plan.resolvedThreads)
        }

        var target = BenchDatabase.Target(databasePath: plan.databasePath, collection: plan.collection, metric: plan.metric,
                                          index: plan.index, parameters: plan.parameters)
        target.metadata = metadata
        target.fields = plan.fields
        target.filter = plan.filter
        let (subject, handle) = try BenchDatabase.subject(target: target, base: base)
        defer { handle.close() }
        let configuration = BenchConfiguration(k: plan.k, threads: plan.resolvedThreads, batchRuns: plan.runs,
                                               latencyQueries: plan.latencyQueries)
        let records = try BenchRunner.run(subject: subject, settings: plan.settings(), queries: queries,
                                          groundTruth: groundTruth, configuration: configuration, onEvent: onEvent,
                                          results: try resultsWriter(directory: plan.resultsDirectory, k: plan.k))
        return Report(records: records, baseCount: base.count, dimension: base.dimension, queryCount: queries.count,
                      reusedExistingCollection: handle.reusedExisting, rebuiltIndex: handle.rebuiltIndex)
    }

    /// Writes a seeded synthetic dataset into `folder` (created): `base.fvecs`, `query.fvecs`,
    /// and exact ground truth with `groundTruthK` neighbours per query for each of `metrics`:
    /// `gt_l2.ivecs` (squared L2 on the raw vectors) for `.l2`, `gt_ip.ivecs` (inner product on
    /// L2-normalized vectors, i.e. cosine, as ann-dev) for `.ip` or `.cosine`. Ties go to the
    /// smaller id. Returns the paths written.
    @discardableResult
    public static func writeSyntheticDataset(_ spec: BenchSynthetic, to folder: String, groundTruthK: Int = 100,
                                             metrics: [Metric] = [.l2, .ip], threads: Int = 0,
                                             onEvent: (BenchEvent) -> Void = { _ in }) throws -> [String] {
        guard groundTruthK >= 1 else { throw BenchError.invalidArgument("ground-truth k must be >= 1, got \(groundTruthK)") }
        guard threads >= 0 else { throw BenchError.invalidArgument("threads must be >= 0 (0 = all cores), got \(threads)") }
        onEvent(.preparing("generating \(spec.count) x \(spec.dimension)"))
        let (base, query) = try spec.generate()
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw BenchError.io(path: folder, reason: "cannot create folder (\(error.localizedDescription))")
        }
        var written = [folder + "/base.fvecs", folder + "/query.fvecs"]
        try BenchTexmex.writeFvecs(base, to: written[0])
        try BenchTexmex.writeFvecs(query, to: written[1])
        var done = Set<String>()
        for metric in metrics {
            let tag = metric == .l2 ? "l2" : "ip"
            guard done.insert(tag).inserted else { continue }
            onEvent(.preparing("exact ground truth (\(tag)) for \(spec.queries) queries"))
            let k = min(groundTruthK, spec.count)
            let gt = metric == .l2
                ? try BenchGroundTruth.compute(base: base, queries: query, k: k, metric: .l2, threads: threads)
                : try BenchGroundTruth.compute(base: base.normalized(), queries: query.normalized(), k: k, metric: .ip, threads: threads)
            let path = folder + "/gt_\(tag).ivecs"
            try BenchTexmex.writeIvecs(gt, to: path)
            written.append(path)
        }
        return written
    }

    /// Base vectors, queries and (if a file gives it) ground truth of `plan`.
    static func loadData(_ plan: BenchPlan, onEvent: (BenchEvent) -> Void) throws
        -> (base: BenchVectors, queries: BenchVectors, truth: BenchNeighborRows?) {
        if let spec = plan.synthetic {
            onEvent(.preparing("generating synthetic data \(spec.count) x \(spec.dimension)"))
            let (base, queries) = try spec.generate()
            return (base, queries, nil)
        }
        var base = plan.base, queries = plan.queries, truth = plan.groundTruth
        if let folder = plan.dataset {
            let found = try BenchDataset.discover(folder: folder, metric: plan.metric)
            base = base ?? found.base
            queries = queries ?? found.queries
            truth = truth ?? found.groundTruth
        }
        guard let base, let queries else { throw BenchError.invalidArgument("base and query files are both needed") }
        onEvent(.preparing("reading \(base)"))
        return (try BenchDataset.loadVectors(base), try BenchDataset.loadVectors(queries),
                try truth.map { try BenchDataset.loadNeighbors($0) })
    }

    /// A results sink writing each setting's ids as `.ivecs` into `directory` (created), rows
    /// padded with -1 to `k`; nil without a directory.
    static func resultsWriter(directory: String?, k: Int) throws -> BenchRunner.ResultsSink? {
        guard let directory else { return nil }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw BenchError.io(path: directory, reason: "cannot create results directory (\(error.localizedDescription))")
        }
        return { index, params, ids in
            let name = index + params.map { "_\($0.name)-\($0.value)" }.joined() + ".ivecs"
            let padded = ids.flatMap { row in (0 ..< k).map { $0 < row.count ? Int32(truncatingIfNeeded: row[$0]) : -1 } }
            try BenchTexmex.writeIvecs(try BenchNeighborRows(width: k, ids: padded), to: directory + "/" + name)
            return name
        }
    }
}
