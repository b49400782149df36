/// One index under test, as three operations the harness times: build, batch search and
/// single-query search. `vdb bench` makes one from a database collection; tests make them from
/// plain closures, so the harness can drive any index.
public struct BenchSubject {
    /// Index kind as reported in results (`flat`, `ivf_flat`, `ivf_sq8`, `hnsw`, or any label).
    public var index: String
    /// Build parameters reported with every result, in order (e.g. `nlist`, `M`, `efConstruction`).
    public var buildParameters: [(String, Int)]
    /// Builds the index over the base vectors (timed). Receives a progress callback (0...1).
    public var build: (_ progress: @escaping @Sendable (Double) -> Void) throws -> Void
    /// Searches all `queries` in one call; returns `k` ids (or fewer) per query, best first.
    public var searchBatch: (_ queries: BenchVectors, _ k: Int, _ parameters: SearchParameters) throws -> [[Int64]]
    /// Searches one query; returns up to `k` ids, best first.
    public var searchOne: (_ query: UnsafeBufferPointer<Float>, _ k: Int, _ parameters: SearchParameters) throws -> [Int64]
    /// Bytes the index (and its collection) occupy on disk after the build.
    public var bytesOnDisk: () throws -> Int

    public init(index: String, buildParameters: [(String, Int)] = [],
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
public struct BenchSetting: Sendable {
    /// Reported search parameters, e.g. `[("nprobe", 32)]`; empty for FLAT.
    public var reported: [(String, Int)]
    /// The parameters passed to the searches.
    public var parameters: SearchParameters

    public init(reported: [(String, Int)], parameters: SearchParameters) {
        self.reported = reported
        self.parameters = parameters
    }
}

/// How the harness measures.
public struct BenchConfiguration: Sendable {
    /// Neighbours per query.
    public var k: Int
    /// Search threads (reported; the settings' `SearchParameters.threads` should agree).
    public var threads: Int
    /// Timed batch runs per setting; the median QPS is reported (at least 3).
    public var batchRuns: Int
    /// Queries timed one at a time for the latency percentiles (nil = all queries).
    public var latencyQueries: Int?
    /// Untimed single queries run before each setting's measurements.
    public var warmupQueries: Int

    public init(k: Int = 10, threads: Int = 1, batchRuns: Int = 3, latencyQueries: Int? = nil, warmupQueries: Int = 50) {
        self.k = k
        self.threads = threads
        self.batchRuns = batchRuns
        self.latencyQueries = latencyQueries
        self.warmupQueries = warmupQueries
    }
}

/// The measurements of one search setting.
public struct BenchRecord: Sendable {
    public var index: String
    /// Build then search parameters, in order.
    public var params: [(String, Int)]
    public var threads: Int
    public var k: Int
    /// Mean recall@k against the ground truth.
    public var recall: Double
    /// Queries per second with all queries in one call (median of the batch runs).
    public var qps: Double
    /// Single-query latency percentiles in milliseconds.
    public var p50Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    /// Seconds to build the index (insert + train + graph/list construction).
    public var buildSeconds: Double
    /// Bytes on disk after the build.
    public var bytes: Int
    /// Resident and peak resident memory of the process after this setting (0 if unknown).
    public var residentBytes: Int
    public var peakResidentBytes: Int

    /// `k=v,k=v` form of the parameters (`-` when there are none).
    public var paramsText: String {
        params.isEmpty ? "-" : params.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }

    /// One JSON object with exactly the keys `index`, `params`, `threads`, `k`, `recall`, `qps`,
    /// `p50_ms`, `p99_ms`, `build_s`, `bytes` (in that order); `params` is an object of integers.
    public func jsonLine() -> String {
        let p = params.map { "\(jsonStringLiteral($0.0)):\($0.1)" }.joined(separator: ",")
        return "{\"index\":\(jsonStringLiteral(index)),\"params\":{\(p)},\"threads\":\(threads),\"k\":\(k),"
            + "\"recall\":\(benchJSONNumber(recall, 6)),\"qps\":\(benchJSONNumber(qps, 1)),"
            + "\"p50_ms\":\(benchJSONNumber(p50Ms, 4)),\"p99_ms\":\(benchJSONNumber(p99Ms, 4)),"
            + "\"build_s\":\(benchJSONNumber(buildSeconds, 3)),\"bytes\":\(bytes)}"
    }
}

/// Progress reported while the harness runs.
public enum BenchEvent: Sendable {
    /// Build progress, 0...1.
    case building(Double)
    /// The build finished after that many seconds.
    case built(seconds: Double)
    /// Setting `index` (0-based) of `total` starts.
    case settingStarted(index: Int, total: Int, label: String)
    /// The ids the first batch run of a setting returned (`params` as in the setting's record).
    case batchResults(index: String, params: [(String, Int)], ids: [[Int64]])
    /// A setting's measurements are complete.
    case settingFinished(BenchRecord)
}

/// The benchmark harness: builds once, then measures every setting of a sweep.
public enum BenchRunner {
    /// Builds `subject` (timed) and measures it.
    public static func run(subject: BenchSubject, settings: [BenchSetting], queries: BenchVectors,
                           groundTruth: BenchNeighborRows, configuration: BenchConfiguration,
                           onEvent: @escaping @Sendable (BenchEvent) -> Void = { _ in }) throws -> [BenchRecord] {
        let t0 = BenchSystem.nanoseconds()
        try subject.build { fraction in onEvent(.building(fraction)) }
        let buildSeconds = Double(BenchSystem.nanoseconds() - t0) / 1e9
        onEvent(.built(seconds: buildSeconds))
        return try measure(subject: subject, settings: settings, queries: queries, groundTruth: groundTruth,
                           configuration: configuration, buildSeconds: buildSeconds, onEvent: onEvent)
    }

    /// Measures every setting of an index that is already built (`buildSeconds` is reported as given).
    public static func measure(subject: BenchSubject, settings: [BenchSetting], queries: BenchVectors,
                               groundTruth: BenchNeighborRows, configuration: BenchConfiguration,
                               buildSeconds: Double, onEvent: (BenchEvent) -> Void = { _ in }) throws -> [BenchRecord] {
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
            let label = setting.reported.isEmpty ? "exact" : setting.reported.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
            onEvent(.settingStarted(index: si, total: settings.count, label: label))
            let d = queries.dimension
            let nLatency = min(queries.count, configuration.latencyQueries ?? queries.count)
            var latencies = [Double](repeating: 0, count: nLatency)
            try queries.data.withUnsafeBufferPointer { buf in
                for i in 0 ..< min(configuration.warmupQueries, queries.count) {
                    _ = try subject.searchOne(UnsafeBufferPointer(rebasing: buf[i * d ..< (i + 1) * d]), k, setting.parameters)
                }
                for i in 0 ..< nLatency {
                    let q = UnsafeBufferPointer(rebasing: buf[i * d ..< (i + 1) * d])
                    let s = BenchSystem.nanoseconds()
                    _ = try subject.searchOne(q, k, setting.parameters)
                    latencies[i] = Double(BenchSystem.nanoseconds() - s) / 1e6
                }
            }
            latencies.sort()
            var rates: [Double] = []
            var recall = 0.0
            for run in 0 ..< max(3, configuration.batchRuns) {
                let s = BenchSystem.nanoseconds()
                let results = try subject.searchBatch(queries, k, setting.parameters)
                let seconds = Double(BenchSystem.nanoseconds() - s) / 1e9
                rates.append(Double(queries.count) / max(seconds, 1e-9))
                if run == 0 {
                    recall = try BenchStatistics.recall(results: results, groundTruth: groundTruth, k: k)
                    onEvent(.batchResults(index: subject.index, params: subject.buildParameters + setting.reported, ids: results))
                }
            }
            let memory = BenchSystem.memory()
            let record = BenchRecord(
                index: subject.index, params: subject.buildParameters + setting.reported,
                threads: configuration.threads, k: k, recall: recall, qps: BenchStatistics.median(rates),
                p50Ms: BenchStatistics.percentileOfSorted(latencies, 50),
                p99Ms: BenchStatistics.percentileOfSorted(latencies, 99),
                p999Ms: BenchStatistics.percentileOfSorted(latencies, 99.9),
                buildSeconds: buildSeconds, bytes: bytes,
                residentBytes: memory?.residentBytes ?? 0, peakResidentBytes: memory?.peakResidentBytes ?? 0)
            records.append(record)
            onEvent(.settingFinished(record))
        }
        return records
    }

    /// A human-readable table of `records` (one row per setting).
    public static func table(_ records: [BenchRecord]) -> String {
        let header = ["index", "params", "thr", "k", "recall", "QPS", "p50 ms", "p99 ms", "p99.9 ms", "build s", "disk MB", "RSS MB", "peak MB"]
        let rows = records.map { r in
            [r.index, r.paramsText, "\(r.threads)", "\(r.k)", benchFixed(r.recall, 4), benchFixed(r.qps, 0),
             benchFixed(r.p50Ms, 3), benchFixed(r.p99Ms, 3), benchFixed(r.p999Ms, 3), benchFixed(r.buildSeconds, 2),
             benchFixed(Double(r.bytes) / 1_048_576, 1), benchFixed(Double(r.residentBytes) / 1_048_576, 1),
             benchFixed(Double(r.peakResidentBytes) / 1_048_576, 1)]
        }
        var widths = header.map(\.count)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i < 2 ? c + pad : pad + c
            }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n")
    }
}

/// `x` with `digits` decimals (no locale, no Foundation formatting).
func benchFixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    var scale = 1.0
    for _ in 0 ..< digits { scale *= 10 }
    let neg = x < 0
    let v = (abs(x) * scale).rounded()
    let whole = Int(v / scale), frac = Int(v - Double(whole) * scale)
    var s = (neg && v != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return s
}

/// A JSON number with at most `digits` decimals; non-finite values become `null`.
func benchJSONNumber(_ x: Double, _ digits: Int) -> String { x.isFinite ? benchFixed(x, digits) : "null" }

