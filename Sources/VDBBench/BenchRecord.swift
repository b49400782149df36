// The measurements of one search setting, as `vdb bench` prints them (table or JSON lines).

/// One named integer parameter of a result, e.g. `nlist = 1024` or `ef = 64`.
public struct BenchParameter: Sendable, Hashable {
    /// Parameter name as reported: `nlist`, `M`, `efConstruction`, `nprobe`, `rerank` or `ef`.
    public var name: String
    /// Its value (`rerank`: 1).
    public var value: Int

    public init(_ name: String, _ value: Int) {
        self.name = name
        self.value = value
    }
}

/// The measurements of one search setting.
///
/// Encodes as one JSON object with snake_case keys (the `vdb bench --json` line):
///
/// | key | meaning |
/// |---|---|
/// | `index` | index kind: `flat`, `ivf_flat`, `ivf_sq8`, `hnsw` |
/// | `params` | object of integers: build parameters, then search parameters (`nlist`, `M`, `efConstruction`, `nprobe`, `rerank`, `ef`) |
/// | `threads` | search threads used for the batch runs (resolved: never 0) |
/// | `k` | neighbours per query |
/// | `recall` | mean recall@k in [0, 1] |
/// | `qps` | queries per second, all queries in one call (median of the batch runs) |
/// | `cpu_qps` | queries per CPU-second of the process during the batch runs (median) |
/// | `p50_ms`, `p99_ms`, `p999_ms` | single-query latency percentiles in milliseconds |
/// | `build_s` | seconds to insert the vectors and build the index (0 when an existing collection was reused) |
/// | `bytes` | bytes the database occupies on disk |
/// | `rss_bytes`, `peak_rss_bytes` | resident and peak resident memory of the process after the setting (0 if unknown) |
/// | `results_file` | only with a results directory: the `.ivecs` file holding the ids of the first batch run |
///
/// A number that is not finite (e.g. a percentile of no latency samples) is `null`.
public struct BenchRecord: Sendable, Encodable {
    /// Index kind as reported (`flat`, `ivf_flat`, `ivf_sq8`, `hnsw`, or a test's label).
    public var index: String
    /// Build then search parameters, in order.
    public var params: [BenchParameter]
    /// Search threads of the batch runs (resolved: never 0).
    public var threads: Int
    /// Neighbours per query.
    public var k: Int
    /// Mean recall@k against the ground truth.
    public var recall: Double
    /// Queries per second with all queries in one call (median of the batch runs).
    public var qps: Double
    /// Queries per CPU-second of this process during the batch runs (median).
    public var cpuQPS: Double
    /// Single-query latency percentiles (50th, 99th, 99.9th) in milliseconds.
    public var p50Ms: Double
    /// See ``p50Ms``.
    public var p99Ms: Double
    /// See ``p50Ms``.
    public var p999Ms: Double
    /// Seconds to build the index (insert + train + graph/list construction).
    public var buildSeconds: Double
    /// Bytes on disk after the build.
    public var bytes: Int
    /// Resident and peak resident memory of the process after this setting (0 if unknown).
    public var residentBytes: Int
    /// See ``residentBytes``.
    public var peakResidentBytes: Int
    /// Name of the `.ivecs` file the ids of this setting were written to (in the results directory), if any.
    public var resultsFile: String?

    /// `k=v,k=v` form of the parameters (`-` when there are none).
    var paramsText: String {
        params.isEmpty ? "-" : params.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
    }

    enum CodingKeys: String, CodingKey {
        case index, params, threads, k, recall, qps
        case cpuQPS = "cpu_qps", p50Ms = "p50_ms", p99Ms = "p99_ms", p999Ms = "p999_ms", buildSeconds = "build_s"
        case bytes, residentBytes = "rss_bytes", peakResidentBytes = "peak_rss_bytes", resultsFile = "results_file"
    }

    /// A JSON object key chosen at run time (the parameter names).
    struct ParameterKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Encodes the snake_case object described above.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        var p = c.nestedContainer(keyedBy: ParameterKey.self, forKey: .params)
        for parameter in params { try p.encode(parameter.value, forKey: ParameterKey(stringValue: parameter.name)) }
        try c.encode(threads, forKey: .threads)
        try c.encode(k, forKey: .k)
        try c.encode(Self.rounded(recall, 6), forKey: .recall)
        try c.encode(Self.rounded(qps, 1), forKey: .qps)
        try c.encode(Self.rounded(cpuQPS, 1), forKey: .cpuQPS)
        try c.encode(Self.rounded(p50Ms, 4), forKey: .p50Ms)
        try c.encode(Self.rounded(p99Ms, 4), forKey: .p99Ms)
        try c.encode(Self.rounded(p999Ms, 4), forKey: .p999Ms)
        try c.encode(Self.rounded(buildSeconds, 3), forKey: .buildSeconds)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(residentBytes, forKey: .residentBytes)
        try c.encode(peakResidentBytes, forKey: .peakResidentBytes)
        try c.encodeIfPresent(resultsFile, forKey: .resultsFile)
    }

    /// `x` rounded to `digits` decimals, nil (JSON `null`) when not finite.
    static func rounded(_ x: Double, _ digits: Int) -> Double? {
        guard x.isFinite else { return nil }
        var scale = 1.0
        for _ in 0 ..< digits { scale *= 10 }
        let r = (x * scale).rounded() / scale
        return r.isFinite ? r : x
    }

    /// A human-readable table of `records` (one row per setting).
    public static func table(_ records: [BenchRecord]) -> String {
        let header = ["index", "params", "thr", "k", "recall", "QPS", "CPU QPS", "p50 ms", "p99 ms", "p99.9 ms", "build s",
                      "disk MB", "RSS MB", "peak MB"]
        let rows = records.map { r in
            [r.index, r.paramsText, "\(r.threads)", "\(r.k)", benchFixed(r.recall, 4), benchFixed(r.qps, 0),
             benchFixed(r.cpuQPS, 0), benchFixed(r.p50Ms, 3), benchFixed(r.p99Ms, 3), benchFixed(r.p999Ms, 3),
             benchFixed(r.buildSeconds, 2), benchFixed(Double(r.bytes) / 1_048_576, 1),
             benchFixed(Double(r.residentBytes) / 1_048_576, 1), benchFixed(Double(r.peakResidentBytes) / 1_048_576, 1)]
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
    guard abs(x) < 1e15 else { return "\(x)" }  // beyond this the integer conversion below could trap
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
