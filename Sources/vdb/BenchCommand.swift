import ArgumentParser
import Foundation
import VDBCore

/// `vdb bench`: measures recall, throughput, latency, build time and size of vdb's indexes the way
/// ann-benchmarks does, on vector files or on seeded synthetic data.
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

        Each setting reports recall@k, batch QPS (all queries in one call, median of --runs calls), single-query \
        latency p50/p99/p99.9 (queries one at a time), build seconds (insert + index build), bytes on disk and \
        resident memory. --json prints one JSON object per setting and line with exactly the keys \
        index, params, threads, k, recall, qps, p50_ms, p99_ms, build_s, bytes.

        Example: vdb bench --dataset ../shared/data/ann-dev --metric cosine --index hnsw --ef 16,32,64,128 --threads 2
        """)

    @Option(help: "Base vectors (.fvecs, .bvecs, .npy).") var base: String?
    @Option(help: "Query vectors (.fvecs, .bvecs, .npy).") var queries: String?
    @Option(help: "Ground truth (.ivecs); computed exactly by brute force when absent.") var gt: String?
    @Option(help: "A folder with base.*, query.* and gt_<metric>.ivecs (cosine uses gt_ip.ivecs).") var dataset: String?
    @Option(help: "Seeded synthetic data instead of files: N:D[:clusters], e.g. 100000:128:100.") var synthetic: String?
    @Option(help: "Seed of --synthetic.") var seed: UInt64 = 1
    @Option(help: "Number of synthetic queries.") var syntheticQueries = 1000
    @Option(help: "Use only the first N base vectors.") var limitBase: Int?
    @Option(help: "Use only the first N queries.") var limitQueries: Int?

    @Option(help: "l2, ip or cosine (cosine normalizes base and queries).") var metric: String = "l2"
    @Option(help: "flat, ivf_flat, ivf_sq8 or hnsw.") var index: String = "flat"
    @Option(help: "IVF: number of inverted lists.") var nlist = 1024
    @Option(name: .customLong("M"), help: "HNSW: links per node.") var m = 16
    @Option(help: "HNSW: candidate list size while building.") var efConstruction = 200
    @Option(help: "Seed of the index build (k-means, HNSW levels).") var buildSeed: UInt64 = 42
    @Option(help: "Threads used to build (0 = all cores; default: --threads).") var buildThreads: Int?
    @Option(help: "IVF: comma-separated nprobe values to sweep.") var nprobe = "1,2,4,8,16,32,64,128"
    @Option(help: "HNSW: comma-separated ef values to sweep.") var ef = "10,16,32,64,128,256,512"
    @Flag(help: "IVF_SQ8: re-rank candidates with the exact stored vectors.") var rerank = false

    @Option(name: .short, help: "Neighbours per query.") var k = 10
    @Option(help: "Search threads for batch queries (and BLAS).") var threads = 1
    @Option(help: "Timed batch runs per setting (median; at least 3).") var runs = 3
    @Option(help: "Queries timed one at a time for latency (default: all).") var latencyQueries: Int?
    @Flag(help: "One JSON object per line instead of a table.") var json = false
    @Option(help: "Write the ids returned by each setting's batch search as <index>_<param>-<value>....ivecs here.")
    var resultsDir: String?

    @Option(help: "Use this database directory (kept) instead of a temporary one.") var db: String?
    @Option(help: "Collection to create or reuse in --db.") var collection = "bench"

    func validate() throws {
        if synthetic == nil && dataset == nil && (base == nil || queries == nil) {
            throw ValidationError("give --base and --queries, --dataset DIR, or --synthetic N:D[:clusters]")
        }
        guard Metric(rawValue: metric) != nil else { throw ValidationError("--metric must be l2, ip or cosine (got '\(metric)')") }
        guard IndexKind(rawValue: index) != nil else {
            throw ValidationError("--index must be flat, ivf_flat, ivf_sq8 or hnsw (got '\(index)')")
        }
        guard k > 0 else { throw ValidationError("-k must be positive (got \(k))") }
        guard threads > 0 else { throw ValidationError("--threads must be positive (got \(threads))") }
        guard nlist > 0, m > 1, efConstruction > 0 else { throw ValidationError("--nlist, --M and --ef-construction must be positive (M at least 2)") }
        _ = try Self.intList(nprobe, "--nprobe")
        _ = try Self.intList(ef, "--ef")
    }

    static func intList(_ s: String, _ name: String) throws -> [Int] {
        let parts = s.split(separator: ",")
        let values = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.count == parts.count, values.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("\(name) wants comma-separated positive integers (got '\(s)')")
        }
        return values
    }

    func run() throws { try benchCLI { try measure() } }

    private func measure() throws {
        let metric = Metric(rawValue: self.metric)!
        let kind = IndexKind(rawValue: index)!
        let progress = BenchProgress()

        // Data.
        var baseVectors: BenchVectors, queryVectors: BenchVectors
        var truth: BenchNeighborRows?
        if let spec = synthetic {
            progress.status("generating synthetic data \(spec)")
            (baseVectors, queryVectors) = try BenchSynthetic(spec: spec, queries: syntheticQueries, seed: seed).generate()
        } else {
            var files = (base: base, queries: queries, gt: gt)
            if let dir = dataset {
                let found = try BenchDataset.discover(folder: dir, metric: metric)
                files = (files.base ?? found.base, files.queries ?? found.queries, files.gt ?? found.groundTruth)
            }
            progress.status("reading \(files.base!)")
            baseVectors = try BenchDataset.loadVectors(files.base!)
            queryVectors = try BenchDataset.loadVectors(files.queries!)
            if let g = files.gt { truth = try BenchDataset.loadNeighbors(g) }
        }
        if let n = limitBase, n < baseVectors.count {
            // Ground truth ids refer to the full base: recompute it for the subset.
            baseVectors = baseVectors.prefix(n)
            truth = nil
        }
        if let n = limitQueries { queryVectors = queryVectors.prefix(n) }
        guard baseVectors.dimension == queryVectors.dimension else {
            throw BenchError.mismatch("base vectors have dimension \(baseVectors.dimension) but queries have \(queryVectors.dimension)")
        }
        if let t = truth {
            guard t.count >= queryVectors.count else {
                throw BenchError.mismatch("ground truth has \(t.count) rows for \(queryVectors.count) queries")
            }
            truth = try BenchDataset.firstRows(t, queryVectors.count)
        } else {
            progress.status("computing exact ground truth (\(queryVectors.count) queries x \(baseVectors.count) vectors)")
            let (b, q) = metric.normalizes ? (baseVectors.normalized(), queryVectors.normalized()) : (baseVectors, queryVectors)
            truth = try BenchGroundTruth.compute(base: b, queries: q, k: k, metric: metric.kernel, threads: threads)
        }

        // Subject and settings.
        let parameters = IndexParameters(nlist: nlist, m: m, efConstruction: efConstruction, seed: buildSeed,
                                         buildThreads: buildThreads ?? threads)
        let target = BenchDatabase.Target(databasePath: db, collection: collection, metric: metric, index: kind, parameters: parameters)
        let (subject, handle) = try BenchDatabase.subject(target: target, base: baseVectors)
        defer { handle.close() }
        var settings: [BenchSetting] = []
        switch kind {
        case .flat: settings = [BenchSetting(reported: [], parameters: SearchParameters(threads: threads))]
        case .ivfFlat, .ivfSQ8:
            settings = try Self.intList(nprobe, "--nprobe").map {
                BenchSetting(reported: [("nprobe", $0)] + (rerank && kind == .ivfSQ8 ? [("rerank", 1)] : []),
                             parameters: SearchParameters(nprobe: $0, rerank: rerank, threads: threads))
            }
        case .hnsw:
            settings = try Self.intList(ef, "--ef").map {
                BenchSetting(reported: [("ef", $0)], parameters: SearchParameters(ef: max($0, self.k), threads: threads))
            }
        }
        let configuration = BenchConfiguration(k: k, threads: threads, batchRuns: runs, latencyQueries: latencyQueries)
        if let dir = resultsDir {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw BenchError.io(path: dir, reason: "cannot create results directory (\(error.localizedDescription))")
            }
        }
        let resultsDir = self.resultsDir, json = self.json, k = self.k, baseCount = baseVectors.count
        let records = try BenchRunner.run(
            subject: subject, settings: settings, queries: queryVectors, groundTruth: truth!, configuration: configuration,
            onEvent: { event in
                switch event {
                case .building(let f): progress.status("building \(kind) over \(baseCount) vectors: \(Int(f * 100))%")
                case .built(let s): progress.status(String(format: "built in %.2f s", s))
                case .settingStarted(let i, let total, let label): progress.status("searching \(i + 1)/\(total): \(label)")
                case .batchResults(let index, let params, let ids):
                    if let dir = resultsDir {
                        let name = index + params.map { "_\($0.0)-\($0.1)" }.joined() + ".ivecs"
                        let padded = ids.flatMap { row in (0 ..< k).map { $0 < row.count ? Int32(truncatingIfNeeded: row[$0]) : -1 } }
                        do { try BenchTexmex.writeIvecs(try BenchNeighborRows(width: k, ids: padded), to: dir + "/" + name) } catch {
                            progress.warn("cannot write results: \(error)")
                        }
                    }
                case .settingFinished(let r):
                    progress.clear()
                    if json { FileHandle.standardOutput.write(Data((r.jsonLine() + "\n").utf8)) }
                }
            })
        progress.clear()
        if !json {
            print("\(kind) on \(baseVectors.count) x \(baseVectors.dimension) (\(metric)), \(queryVectors.count) queries, kernels \(kernelISA)"
                  + (handle.reusedExisting ? ", existing collection reused (build_s = 0)" : ""))
            print(BenchRunner.table(records))
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
        """)

    @Option(name: .customLong("n"), help: "Number of base vectors.") var count: Int
    @Option(name: .customLong("dim"), help: "Dimension.") var dimension: Int
    @Option(help: "Number of Gaussian clusters.") var clusters = 100
    @Option(help: "Number of queries.") var queries = 1000
    @Option(help: "Noise standard deviation per coordinate.") var spread: Float = 0.5
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Ground-truth neighbours per query.") var gtK = 100
    @Option(help: "Metrics to write ground truth for: l2, ip (cosine), or l2,ip.") var metrics = "l2,ip"
    @Option(help: "Threads for the ground-truth computation.") var threads = 0
    @Option(help: "Output folder (created).") var out: String

    func run() throws { try benchCLI { try generate() } }

    private func generate() throws {
        let progress = BenchProgress()
        let spec = BenchSynthetic(count: count, dimension: dimension, clusters: clusters, queries: queries, spread: spread, seed: seed)
        progress.status("generating \(count) x \(dimension)")
        let (base, query) = try spec.generate()
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw BenchError.io(path: out, reason: "cannot create folder (\(error.localizedDescription))")
        }
        try BenchTexmex.writeFvecs(base, to: out + "/base.fvecs")
        try BenchTexmex.writeFvecs(query, to: out + "/query.fvecs")
        for m in metrics.split(separator: ",") {
            guard m == "l2" || m == "ip" else { throw ValidationError("--metrics takes l2 and/or ip (got '\(m)')") }
            progress.status("exact ground truth (\(m)) for \(queries) queries")
            let gt = m == "l2"
                ? try BenchGroundTruth.compute(base: base, queries: query, k: min(gtK, count), metric: .l2, threads: threads)
                : try BenchGroundTruth.compute(base: base.normalized(), queries: query.normalized(), k: min(gtK, count), metric: .ip, threads: threads)
            try BenchTexmex.writeIvecs(gt, to: out + "/gt_\(m).ivecs")
        }
        progress.clear()
        print("wrote \(out)/base.fvecs (\(count) x \(dimension)), query.fvecs (\(queries)), gt_{\(metrics)}.ivecs; seed \(seed), \(clusters) clusters")
    }
}

/// Runs a command body, turning library errors into one-line `CLIError`s.
func benchCLI(_ body: () throws -> Void) throws {
    do { try body() } catch let e as BenchError { throw CLIError(e.description) } catch let e as VDBError {
        throw CLIError(e.description)
    }
}

/// One-line progress on stderr, shown only when stderr is a terminal.
final class BenchProgress: @unchecked Sendable {  // `last` is guarded by `lock`
    private let lock = NSLock()
    private let enabled = isatty(STDERR_FILENO) != 0
    private var last = ""
    private var lastTime: UInt64 = 0

    func status(_ text: String) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = BenchSystem.nanoseconds()
        guard text != last, now - lastTime > 50_000_000 || !text.hasSuffix("%") else { return }
        lastTime = now
        let pad = String(repeating: " ", count: max(0, last.count - text.count))
        last = text
        FileHandle.standardError.write(Data("\r\(text)\(pad)".utf8))
    }

    func clear() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        guard !last.isEmpty else { return }
        FileHandle.standardError.write(Data("\r\(String(repeating: " ", count: last.count))\r".utf8))
        last = ""
    }

    func warn(_ text: String) {
        clear()
        FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
    }
}
