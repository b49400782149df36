import VDBCore

/// One index under test, as three operations the harness times: build, batch search and
/// single-query search. `vdb bench` makes one from a database collection (``BenchDatabase``);
/// tests make them from plain closures, so the harness can drive any index.
struct BenchSubject {
    /// Index kind as reported in results (`flat`, `ivf_flat`, `ivf_sq8`, `hnsw`, or any label).
    var index: String
    /// Build parameters reported with every result, in order (e.g. `nlist`, `M`, `efConstruction`).
    var buildParameters: [BenchParameter]
    /// Builds the index over the base vectors (timed). Receives a progress callback (0...1).
    var build: (_ progress: @escaping @Sendable (Double) -> Void) throws -> Void
    /// Searches all `queries` in one call; returns `k` ids (or fewer) per query, best first.
    var searchBatch: (_ queries: BenchVectors, _ k: Int, _ parameters: SearchParameters) throws -> [[Int64]]
    /// Searches one query; returns up to `k` ids, best first.
    var searchOne: (_ query: UnsafeBufferPointer<Float>, _ k: Int, _ parameters: SearchParameters) throws -> [Int64]
    /// Bytes the index (and its collection) occupy on disk after the build.
    var bytesOnDisk: () throws -> Int
    /// Asked after `build`: whether it found everything already built (a kept database), so
    /// the build time is reported as 0 rather than the time of that check.
    var builtNothing: () -> Bool = { false }

    init(index: String, buildParameters: [BenchParameter] = [],
         build: @escaping (_ progress: @escaping @Sendable (Double) -> Void) throws -> Void,
         searchBatch: @escaping (_ queries: BenchVectors, _ k: Int, _ parameters: SearchParameters) throws -> [[Int64]],
         searchOne: @escaping (_ query: UnsafeBufferPointer<Float>, _ k: Int, _ parameters: SearchParameters) throws -> [Int64],
         bytesOnDisk: @escaping () throws -> Int) {
        self.index = index
        self.buildParameters = buildParameters
        self.build = build
        self.searchBatch = searchBatch
        self.searchOne = searchOne
        self.bytesOnDisk = bytesOnDisk
    }
}

/// One point of a search sweep: the search parameters and how they are reported.
struct BenchSetting: Sendable {
    /// Reported search parameters, e.g. `nprobe = 32`; empty for FLAT.
    var reported: [BenchParameter]
    /// The parameters passed to the searches.
    var parameters: SearchParameters
}

/// How the harness measures.
struct BenchConfiguration: Sendable {
    /// Neighbours per query.
    var k: Int
    /// Search threads (reported; the settings' `SearchParameters.threads` should agree).
    var threads: Int
    /// Timed batch runs per setting; the median QPS is reported (at least 3).
    var batchRuns: Int
    /// Queries timed one at a time for the latency percentiles (nil = all queries).
    var latencyQueries: Int?
    /// Untimed single queries run before each setting's measurements.
    var warmupQueries: Int

    init(k: Int = 10, threads: Int = 1, batchRuns: Int = 3, latencyQueries: Int? = nil, warmupQueries: Int = 50) {
        self.k = k
        self.threads = threads
        self.batchRuns = batchRuns
        self.latencyQueries = latencyQueries
        self.warmupQueries = warmupQueries
    }
}

/// Progress reported while a benchmark runs, in this order: `preparing` (any number),
/// `building` (0...1, any number), `built`, then per search setting `settingStarted` and
/// `settingFinished`.
public enum BenchEvent: Sendable {
    /// Loading or generating data, computing ground truth: a short status line.
    case preparing(String)
    /// Build progress, 0...1.
    case building(Double)
    /// The build finished after that many seconds.
    case built(seconds: Double)
    /// Setting `index` (0-based) of `total` starts; `label` is e.g. `ef=64`.
    case settingStarted(index: Int, total: Int, label: String)
    /// A setting's measurements are complete.
    case settingFinished(BenchRecord)
}

/// The benchmark harness: builds once, then measures every setting of a sweep.
enum BenchRunner {
    /// Receives the ids the first batch run of a setting returned, and returns the name of the
    /// file it wrote them to (reported as ``BenchRecord/resultsFile``), if any.
    typealias ResultsSink = (_ index: String, _ params: [BenchParameter], _ ids: [[Int64]]) throws -> String?

    /// Builds `subject` (timed) and measures it.
    static func run(subject: BenchSubject, settings: [BenchSetting], queries: BenchVectors,
                    groundTruth: BenchNeighborRows, configuration: BenchConfiguration,
                    onEvent: @escaping @Sendable (BenchEvent) -> Void = { _ in },
                    results: ResultsSink? = nil) throws -> [BenchRecord] {
        let t0 = BenchSystem.nanoseconds()
        try subject.build { fraction in onEvent(.building(fraction)) }
        let buildSeconds = subject.builtNothing() ? 0 : Double(BenchSystem.nanoseconds() - t0) / 1e9
        onEvent(.built(seconds: buildSeconds))
        return try measure(subject: subject, settings: settings, queries: queries, groundTruth: groundTruth,
                           configuration: configuration, buildSeconds: buildSeconds, onEvent: onEvent, results: results)
    }

    /// Measures every setting of an index that is already built (`buildSeconds` is reported as given).
    static func measure(subject: BenchSubject, settings: [BenchSetting], queries: BenchVectors,
                        groundTruth: BenchNeighborRows, configuration: BenchConfiguration,
                        buildSeconds: Double, onEvent: (BenchEvent) -> Void = { _ in },
                        results: ResultsSink? = nil) throws -> [BenchRecord] {
        let k = configuration.k
        guard k > 0 else { throw BenchError.invalidArgument("k must be positive, got \(k)") }
        guard queries.count > 0 else { throw BenchError.invalidArgument("no queries to run") }
        guard groundTruth.count == queries.count else {
            throw BenchError.mismatch("\(queries.count) queries but \(groundTruth.count) ground-truth rows")
        }
        guard groundTruth.width >= k else {
            throw BenchError.mismatch("ground truth has \(groundTruth.width) neighbours per query, fewer than k = \(k)")
        }
        let bytes = try subject.bytesOnDisk()
        var records: [BenchRecord] = []
        for (si, setting) in settings.enumerated() {
            let label = setting.reported.isEmpty ? "exact" : setting.reported.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            onEvent(.settingStarted(index: si, total: settings.count, label: label))
            let params = subject.buildParameters + setting.reported
            let latencies = try singleQueryLatencies(subject: subject, setting: setting, queries: queries,
                                                     configuration: configuration)
            var rates: [Double] = [], cpuRates: [Double] = []
            var recall = 0.0
            var resultsFile: String?
            for run in 0 ..< max(3, configuration.batchRuns) {
                let s = BenchSystem.nanoseconds(), c = BenchSystem.cpuSeconds()
                let ids = try subject.searchBatch(queries, k, setting.parameters)
                let cpu = BenchSystem.cpuSeconds() - c
                let seconds = Double(BenchSystem.nanoseconds() - s) / 1e9
                rates.append(Double(queries.count) / max(seconds, 1e-9))
                cpuRates.append(Double(queries.count) / max(cpu, 1e-9))
                if run == 0 {
                    recall = try BenchStatistics.recall(results: ids, groundTruth: groundTruth, k: k)
                    resultsFile = try results?(subject.index, params, ids)
                }
            }
            let memory = BenchSystem.memory()
            let record = BenchRecord(
                index: subject.index, params: params, threads: configuration.threads, k: k, recall: recall,
                qps: BenchStatistics.median(rates), cpuQPS: BenchStatistics.median(cpuRates),
                p50Ms: BenchStatistics.percentileOfSorted(latencies, 50),
                p99Ms: BenchStatistics.percentileOfSorted(latencies, 99),
                p999Ms: BenchStatistics.percentileOfSorted(latencies, 99.9),
                buildSeconds: buildSeconds, bytes: bytes,
                residentBytes: memory?.residentBytes ?? 0, peakResidentBytes: memory?.peakResidentBytes ?? 0,
                resultsFile: resultsFile)
            records.append(record)
            onEvent(.settingFinished(record))
        }
        return records
    }

    /// Warm-up queries (untimed), then the latency of single queries one at a time, in
    /// milliseconds, sorted ascending.
    static func singleQueryLatencies(subject: BenchSubject, setting: BenchSetting, queries: BenchVectors,
                                     configuration: BenchConfiguration) throws -> [Double] {
        let d = queries.dimension, k = configuration.k
        let n = min(queries.count, configuration.latencyQueries ?? queries.count)
        var latencies = [Double](repeating: 0, count: n)
        try queries.data.withUnsafeBufferPointer { buf in
            for i in 0 ..< min(configuration.warmupQueries, queries.count) {
                _ = try subject.searchOne(UnsafeBufferPointer(rebasing: buf[i * d ..< (i + 1) * d]), k, setting.parameters)
            }
            for i in 0 ..< n {
                let q = UnsafeBufferPointer(rebasing: buf[i * d ..< (i + 1) * d])
                let s = BenchSystem.nanoseconds()
                _ = try subject.searchOne(q, k, setting.parameters)
                latencies[i] = Double(BenchSystem.nanoseconds() - s) / 1e6
            }
        }
        latencies.sort()
        return latencies
    }
}
