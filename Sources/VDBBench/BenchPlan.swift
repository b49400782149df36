import VDBCore
import VDBSupport

/// What one benchmark run measures: the data, the index and its sweep of search settings, and
/// how to measure. `vdb bench run` fills one from its flags; ``Bench/run(_:onEvent:)`` runs it.
///
/// Data comes from exactly one source: ``synthetic``, else ``dataset`` (a folder; ``base``,
/// ``queries`` and ``groundTruth`` given as well override its files), else ``base`` and
/// ``queries`` (with optional ``groundTruth``). Without ground truth, exact neighbours are
/// computed by brute force before the index is built.
public struct BenchPlan: Sendable {
    /// Base vectors (`.fvecs`, `.bvecs`, `.npy`, `.jsonl`).
    public var base: String?
    /// Query vectors.
    public var queries: String?
    /// Ground truth (`.ivecs`: row i holds the 0-based base rows nearest to query i, best first).
    public var groundTruth: String?
    /// A folder with `base.*`, `query.*` and `gt_<l2|ip>.ivecs` (cosine uses `gt_ip`).
    public var dataset: String?
    /// Seeded synthetic data instead of files.
    public var synthetic: BenchSynthetic?
    /// Use only the first N base vectors (ground truth is then recomputed).
    public var limitBase: Int?
    /// Use only the first N queries.
    public var limitQueries: Int?

    /// Metric of the collection (`cosine` normalizes base and queries).
    public var metric: Metric = .l2
    /// Index kind to build.
    public var index: IndexKind = .flat
    /// Build parameters (`buildThreads` 0 = all cores).
    public var parameters = IndexParameters()
    /// IVF: `nprobe` values to sweep.
    public var nprobe = [1, 2, 4, 8, 16, 32, 64, 128]
    /// HNSW: `ef` values to sweep (each raised to at least `k`).
    public var ef = [10, 16, 32, 64, 128, 256, 512]
    /// IVF_SQ8: re-rank candidates with the exact stored vectors.
    public var rerank = false

    /// Metadata of the base vectors: a JSONL file with one object per base row, in row order
    /// (`{"lang": "en", "year": 2020}`), stored with the vectors.
    public var metadata: String?
    /// Indexed metadata fields of the collection.
    public var fields: [FieldDefinition] = []
    /// Every query of the run is searched with this filter (ground truth, when computed, is the
    /// exact filtered one).
    public var filter: Filter?
    /// Filtered searches scan the matches exactly up to this many (nil: the library's default).
    public var filterExactThreshold: Int?

    /// Neighbours per query.
    public var k = 10
    /// Search threads for the batch runs, also used for BLAS in the ground-truth computation
    /// (0 = all cores), as `--threads` in `vdb search`.
    public var threads = 1
    /// Timed batch runs per setting; the median is reported (at least 3 are run).
    public var runs = 3
    /// Queries timed one at a time for the latency percentiles (nil = all queries).
    public var latencyQueries: Int?

    /// Database directory to use and keep; nil = a temporary one, deleted afterwards.
    public var databasePath: String?
    /// Collection to create or reuse in ``databasePath``.
    public var collection = "bench"
    /// Folder (created) to write the ids each setting's first batch run returned, as
    /// `<index>[_<param>-<value>...].ivecs`; see ``BenchRecord/resultsFile``.
    public var resultsDirectory: String?

    public init() {}

    /// Search threads after resolving 0 to the number of cores.
    var resolvedThreads: Int { VDBSupport.resolvedThreads(threads) }

    /// The search settings of the sweep.
    func settings() -> [BenchSetting] {
        var settings = unfilteredSettings()
        if let threshold = filterExactThreshold {
            for i in settings.indices { settings[i].parameters.filterExactThreshold = threshold }
        }
        return settings
    }

    private func unfilteredSettings() -> [BenchSetting] {
        let threads = resolvedThreads
        switch index {
        case .flat:
            return [BenchSetting(reported: [], parameters: SearchParameters(threads: threads))]
        case .ivfFlat, .ivfSQ8:
            let reranks = rerank && index == .ivfSQ8
            return nprobe.map {
                BenchSetting(reported: [BenchParameter("nprobe", $0)] + (reranks ? [BenchParameter("rerank", 1)] : []),
                             parameters: SearchParameters(nprobe: $0, rerank: reranks, threads: threads))
            }
        case .hnsw:
            return ef.map {
                BenchSetting(reported: [BenchParameter("ef", $0)], parameters: SearchParameters(ef: max($0, k), threads: threads))
            }
        }
    }

    /// Checks what the flags cannot check one by one; messages name the plan field.
    func validate() throws(BenchError) {
        if synthetic == nil && dataset == nil && (base == nil || queries == nil) {
            throw .invalidArgument("give base and query files, a dataset folder, or a synthetic specification")
        }
        guard k >= 1 else { throw .invalidArgument("k must be >= 1, got \(k)") }
        guard threads >= 0 else { throw .invalidArgument("threads must be >= 0 (0 = all cores), got \(threads)") }
        guard runs >= 1 else { throw .invalidArgument("runs must be >= 1, got \(runs)") }
        if let t = filterExactThreshold, t < 0 { throw .invalidArgument("filterExactThreshold must be >= 0, got \(t)") }
        for (name, value) in [("limitBase", limitBase), ("limitQueries", limitQueries), ("latencyQueries", latencyQueries)] {
            if let v = value, v < 1 { throw .invalidArgument("\(name) must be >= 1, got \(v)") }
        }
        switch index {
        case .flat: break
        case .ivfFlat, .ivfSQ8:
            guard !nprobe.isEmpty, nprobe.allSatisfy({ $0 >= 1 }) else { throw .invalidArgument("nprobe values must be >= 1, got \(nprobe)") }
        case .hnsw:
            guard !ef.isEmpty, ef.allSatisfy({ $0 >= 1 }) else { throw .invalidArgument("ef values must be >= 1, got \(ef)") }
        }
    }
}
