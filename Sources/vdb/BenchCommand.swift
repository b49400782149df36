import ArgumentParser
import Foundation
import Synchronization
import VDBBench
import VDBCore

/// `vdb bench`: measures recall, throughput, latency, build time and size of vdb's indexes the way
/// ann-benchmarks does, on vector files or on seeded synthetic data (a thin layer over `VDBBench`).
///
/// `vdb bench [run] ...` benchmarks one index over a sweep of search settings;
/// `vdb bench synth ...` writes a seeded synthetic dataset with exact ground truth.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark vdb's indexes: recall@k, QPS, latency, build time, size.",
        subcommands: [BenchRunCommand.self, BenchSynthCommand.self],
        defaultSubcommand: BenchRunCommand.self)
}

/// Builds one index once and measures it for every search setting of a sweep.
struct BenchRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Build an index once and measure recall@k, batch QPS and single-query latency per search setting.",
        discussion: """
        Data comes from --base/--queries (.fvecs, .bvecs, .npy) with optional --gt (.ivecs: row i holds the \
        0-based base rows nearest to query i, best first), from --dataset DIR (base.*, query.*, gt_<metric>.ivecs), \
        or from --synthetic N:D[:clusters]. Without ground truth, exact neighbours are computed by brute force first. \
        The index is built in a temporary database that is deleted afterwards, unless --db is given.

        --threads means what it means in `vdb search`: threads for a batch of queries, 0 = all cores \
        (default 1). The batch runs and the ground-truth computation use it; the build uses --build-threads.

        Each setting reports recall@k, batch QPS (all queries in one call, median of --runs calls), queries \
        per CPU-second, single-query latency p50/p99/p99.9 (queries one at a time), build seconds (insert + \
        index build), bytes on disk and resident memory. --json prints one JSON object per setting and line, \
        keys in snake_case: index, params, threads, k, recall, qps, cpu_qps, p50_ms, p99_ms, p999_ms, build_s, \
        bytes, rss_bytes, peak_rss_bytes, and results_file with --results-dir (see Docs/cli.md).

        Filtered search: --metadata FILE (JSONL, one object per base row) is stored with the vectors, \
        --field NAME:TYPE declares indexed fields, and --filter JSON / --where COND filter every query \
        (ground truth, when computed, is the exact filtered one); --exact-below N sets the planner's threshold.

        Examples:
          vdb bench --dataset ../shared/data/ann-dev --metric cosine --index hnsw --ef 16,32,64,128 --threads 2
          vdb bench --synthetic 20000:64:50 --index ivf_flat --nlist 128 --nprobe 1,4,16 --json
        """)

    @Option(help: "Base vectors (.fvecs, .bvecs, .npy).") var base: String?
    @Option(help: "Query vectors (.fvecs, .bvecs, .npy).") var queries: String?
    @Option(help: "Ground truth (.ivecs); computed exactly by brute force when absent.") var gt: String?
    @Option(help: "A folder with base.*, query.* and gt_<metric>.ivecs (cosine uses gt_ip.ivecs).") var dataset: String?
    @Option(help: "Seeded synthetic data instead of files: N:D[:clusters], e.g. 100000:128:100.") var synthetic: String?
    @Option(help: "Seed of --synthetic.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Number of synthetic queries (>= 1).") var syntheticQueries = 1000
    @Option(parsing: .unconditional, help: "Use only the first N base vectors (>= 1).") var limitBase: Int?
    @Option(parsing: .unconditional, help: "Use only the first N queries (>= 1).") var limitQueries: Int?

    @Option(help: "Metric (cosine normalizes base and queries).") var metric: Metric = .l2
    @Option(help: "Index kind to build.") var index: IndexKind = .flat
    @Option(parsing: .unconditional, help: "IVF: number of inverted lists (>= 1).") var nlist = 1024
    @Option(name: .customLong("M"), parsing: .unconditional, help: "HNSW: links per node (>= 2).") var m = 16
    @Option(parsing: .unconditional, help: "HNSW: candidate list size while building (>= 1).") var efConstruction = 200
    @Option(help: "Seed of the index build (k-means, HNSW levels).") var buildSeed: UInt64 = 42
    @Option(parsing: .unconditional, help: "Threads used to build (0 = all cores; default: --threads).") var buildThreads: Int?
    @Option(help: "IVF: comma-separated nprobe values to sweep (each >= 1).") var nprobe = "1,2,4,8,16,32,64,128"
    @Option(help: "HNSW: comma-separated ef values to sweep (each >= 1; raised to at least k).") var ef = "10,16,32,64,128,256,512"
    @Flag(help: "IVF_SQ8: re-rank candidates with the exact stored vectors.") var rerank = false
    @Option(help: "Metadata of the base vectors: JSONL, one object per base row.") var metadata: String?
    @Option(name: .customLong("field"), help: ArgumentHelp("Indexed metadata field NAME:TYPE (repeatable).", valueName: "NAME:TYPE"))
    var fields: [String] = []
    @Option(help: ArgumentHelp("Filter every query with this JSON filter (see vdb search --help).", valueName: "JSON")) var filter: String?
    @Option(name: .customLong("where"), help: ArgumentHelp("Filter every query with this condition (repeatable).", valueName: "COND"))
    var conditions: [String] = []
    @Option(name: .customLong("exact-below"), parsing: .unconditional, help: ArgumentHelp("Filtered searches: scan the matches exactly up to N matches.", valueName: "N"))
    var exactBelow: Int?

    @Option(name: .short, parsing: .unconditional, help: "Neighbours per query (>= 1).") var k = 10
    @Option(parsing: .unconditional, help: "Threads for a batch of queries (0 = all cores), as in vdb search.") var threads = 1
    @Option(parsing: .unconditional, help: "Timed batch runs per setting (median; at least 3 are run).") var runs = 3
    @Option(parsing: .unconditional, help: "Queries timed one at a time for latency (>= 1; default: all).") var latencyQueries: Int?
    @Flag(help: "One JSON object per line instead of a table.") var json = false
    @Option(help: "Write the ids returned by each setting's batch search as <index>_<param>-<value>....ivecs here.")
    var resultsDir: String?

    @Option(help: "Use this database directory (kept) instead of a temporary one.") var db: String?
    @Option(help: "Collection to create or reuse in --db.") var collection = "bench"

    func validate() throws {
        if synthetic == nil && dataset == nil && (base == nil || queries == nil) {
            throw ValidationError("give --base and --queries, --dataset DIR, or --synthetic N:D[:clusters]")
        }
        try requireAtLeast(1, k, "-k")
        try requireAtLeast(0, threads, "--threads")
        try requireAtLeast(0, buildThreads, "--build-threads")
        try requireAtLeast(1, runs, "--runs")
        try requireAtLeast(1, nlist, "--nlist")
        try requireAtLeast(2, m, "--M")
        try requireAtLeast(1, efConstruction, "--ef-construction")
        try requireAtLeast(1, syntheticQueries, "--synthetic-queries")
        try requireAtLeast(1, limitBase, "--limit-base")
        try requireAtLeast(1, limitQueries, "--limit-queries")
        try requireAtLeast(1, latencyQueries, "--latency-queries")
        _ = try parseIntList(nprobe, flag: "--nprobe")
        _ = try parseIntList(ef, flag: "--ef")
        try requireAtLeast(0, exactBelow, "--exact-below")
        _ = try parseFields(fields)
        _ = try parsedFilter()
    }

    /// The filter of --where and --filter together (nil when neither is given).
    func parsedFilter() throws -> Filter? { try parseFilter(conditions: conditions, json: filter) }

    func run() throws { try measure() }

    private func plan() throws -> BenchPlan {
        var plan = BenchPlan()
        plan.base = base
        plan.queries = queries
        plan.groundTruth = gt
        plan.dataset = dataset
        plan.synthetic = try synthetic.map { try BenchSynthetic(spec: $0, queries: syntheticQueries, seed: seed) }
        plan.limitBase = limitBase
        plan.limitQueries = limitQueries
        plan.metric = metric
        plan.index = index
        plan.parameters = IndexParameters(nlist: nlist, m: m, efConstruction: efConstruction, seed: buildSeed,
                                          buildThreads: buildThreads ?? threads)
        plan.nprobe = try parseIntList(nprobe, flag: "--nprobe")
        plan.ef = try parseIntList(ef, flag: "--ef")
        plan.rerank = rerank
        plan.metadata = metadata
        plan.fields = try parseFields(fields)
        plan.filter = try parsedFilter()
        plan.filterExactThreshold = exactBelow
        plan.k = k
        plan.threads = threads
        plan.runs = runs
        plan.latencyQueries = latencyQueries
        plan.databasePath = db
        plan.collection = collection
        plan.resultsDirectory = resultsDir
        return plan
    }

    private func measure() throws {
        let progress = BenchProgress()
        let json = self.json, index = self.index
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let report = try Bench.run(try plan()) { event in
            switch event {
            case .preparing(let text): progress.status(text)
            case .building(let f): progress.status("building \(index): \(Int(f * 100))%")
            case .built(let s): progress.status(String(format: "built in %.2f s", s))
            case .settingStarted(let i, let total, let label): progress.status("searching \(i + 1)/\(total): \(label)")
            case .settingFinished(let record):
                progress.clear()
                if json, let line = try? encoder.encode(record) {
                    FileHandle.standardOutput.write(line + Data("\n".utf8))
                }
            }
        }
        progress.clear()
        if !json {
            print("\(index) on \(report.baseCount) x \(report.dimension) (\(metric)), \(report.queryCount) queries, kernels \(kernelISA)"
                  + (report.reusedExistingCollection
                     ? (report.rebuiltIndex ? ", existing vectors reused, index rebuilt (build_s = the rebuild)"
                                            : ", existing collection reused (build_s = 0)") : ""))
            print(BenchRecord.table(report.records))
        }
    }
}

/// Writes a seeded synthetic dataset: base.fvecs, query.fvecs, and exact ground truth.
struct BenchSynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a seeded clustered-Gaussian dataset (base.fvecs, query.fvecs, gt_l2.ivecs, gt_ip.ivecs).",
        discussion: """
        Vectors are drawn from --clusters isotropic Gaussians (centres N(0,1) per coordinate, noise --spread); \
        the same arguments give the same files on any machine. Ground truth is exact (brute force, ties to the \
        smaller id): gt_l2 by squared L2 on the raw vectors, gt_ip by inner product on L2-normalized vectors \
        (cosine), the same convention as ann-dev.

        Example: vdb bench synth --out /tmp/synth --n 2000 --dim 32 --queries 50
        """)

    @Option(name: .customLong("n"), parsing: .unconditional, help: "Number of base vectors (>= 1).") var count: Int
    @Option(name: .customLong("dim"), parsing: .unconditional, help: "Dimension (>= 1).") var dimension: Int
    @Option(parsing: .unconditional, help: "Number of Gaussian clusters (>= 1).") var clusters = 100
    @Option(parsing: .unconditional, help: "Number of queries (>= 1).") var queries = 1000
    @Option(help: "Noise standard deviation per coordinate (>= 0).") var spread: Float = 0.5
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Ground-truth neighbours per query (>= 1).") var gtK = 100
    @Option(help: "Metrics to write ground truth for: l2, ip (cosine), or l2,ip.") var metrics = "l2,ip"
    @Option(parsing: .unconditional, help: "Threads for the ground-truth computation (0 = all cores).") var threads = 0
    /// Accepted (and ignored) so scripts can pass `--db` to every command.
    @OptionGroup(visibility: .hidden) var global: GlobalOptions
    @Option(help: "Output folder (created).") var out: String

    func validate() throws {
        try requireAtLeast(1, count, "--n")
        try requireAtLeast(1, dimension, "--dim")
        try requireAtLeast(1, clusters, "--clusters")
        try requireAtLeast(1, queries, "--queries")
        try requireAtLeast(1, gtK, "--gt-k")
        try requireAtLeast(0, threads, "--threads")
        guard spread >= 0, spread.isFinite else { throw ValidationError("--spread must be a finite number >= 0, got \(spread)") }
        _ = try groundTruthMetrics()
    }

    private func groundTruthMetrics() throws -> [Metric] {
        try metrics.split(separator: ",").map {
            guard $0 == "l2" || $0 == "ip" else { throw ValidationError("--metrics takes l2 and/or ip, got '\($0)'") }
            return $0 == "l2" ? .l2 : .ip
        }
    }

    func run() throws {
        let progress = BenchProgress()
        let spec = BenchSynthetic(count: count, dimension: dimension, clusters: clusters, queries: queries,
                                  spread: spread, seed: seed)
        try Bench.writeSyntheticDataset(spec, to: out, groundTruthK: gtK, metrics: try groundTruthMetrics(),
                                        threads: threads) { event in
            if case .preparing(let text) = event { progress.status(text) }
        }
        progress.clear()
        print("wrote \(out)/base.fvecs (\(count) x \(dimension)), query.fvecs (\(queries)), gt_{\(metrics)}.ivecs; seed \(seed), \(clusters) clusters")
    }
}

/// One-line progress on stderr, shown only when stderr is a terminal. Events arrive from the
/// build's worker threads, so the line state lives in a `Mutex`.
final class BenchProgress: Sendable {
    private struct Line {
        var text = ""
        var time: UInt64 = 0
    }
    private let line = Mutex(Line())
    private let enabled = stderrIsTTY

    func status(_ text: String) {
        guard enabled else { return }
        line.withLock { last in
            let now = BenchSystem.nanoseconds()
            guard text != last.text, now - last.time > 50_000_000 || !text.hasSuffix("%") else { return }
            let pad = String(repeating: " ", count: max(0, last.text.count - text.count))
            last = Line(text: text, time: now)
            FileHandle.standardError.write(Data("\r\(text)\(pad)".utf8))
        }
    }

    func clear() {
        guard enabled else { return }
        line.withLock { last in
            guard !last.text.isEmpty else { return }
            FileHandle.standardError.write(Data("\r\(String(repeating: " ", count: last.text.count))\r".utf8))
            last.text = ""
        }
    }
}
