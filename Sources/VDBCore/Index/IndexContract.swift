// The seam between the storage engine (Storage/, Search/) and the approximate indexes (Index/).
//
// Storage owns vectors, ids, metadata and LMDB transactions. Every stored vector lives in a dense
// internal *slot* (UInt32); slots of deleted vectors are reused. Approximate indexes are keyed by
// slot, hold what they need in memory for speed, and persist their own records (graph links,
// list membership, codes: never a second copy of the float vectors) through an
// `IndexRecordWriter` inside the same LMDB write transaction as the vector change, so vectors and
// index commit or abort together. On open, storage calls the index's `load` with a reader over
// those records and a source of the stored vectors: no rebuild.
//
// Which slots a search may return is decided by storage, not by the index: storage passes a
// `SlotVisibility` (its committed slot table seen at the reader's snapshot), and the index
// applies it during the traversal, so uncommitted additions stay invisible and removals stay
// visible to older snapshots. See Docs/architecture.md, "Index seam".

/// The kinds of index a collection can carry.
public enum IndexKind: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Exact search over the stored vectors (no extra structure).
    case flat
    /// Inverted file with raw vectors in each list (Faiss `IndexIVFFlat`).
    case ivfFlat = "ivf_flat"
    /// Inverted file with 8-bit scalar-quantized vectors (Faiss `IndexIVFScalarQuantizer`, `QT_8bit`).
    case ivfSQ8 = "ivf_sq8"
    /// Hierarchical navigable small-world graph (Malkov and Yashunin).
    case hnsw

    public var description: String { rawValue }
}

/// Build-time parameters of an index; the fields that do not apply to a kind are ignored.
public struct IndexParameters: Sendable, Codable, Hashable {
    /// IVF: number of inverted lists (coarse centroids).
    public var nlist: Int
    /// HNSW: links per node on the upper levels (level 0 has 2M).
    public var m: Int
    /// HNSW: candidate list size while building.
    public var efConstruction: Int
    /// Seed for k-means initialisation, sampling and HNSW levels: same seed, same index.
    public var seed: UInt64
    /// Threads used to build (0 = all cores). 1 gives a deterministic build.
    public var buildThreads: Int
    /// IVF: trained centroids (and SQ8 ranges) to fill the lists with instead of training
    /// (shared-centroid shards, see IVFCentroids.swift). Not stored in the catalog: the built
    /// index keeps its centroids in its own records.
    public var quantizer: IVFQuantizer?

    public init(nlist: Int = 1024, m: Int = 16, efConstruction: Int = 200, seed: UInt64 = 42, buildThreads: Int = 0,
                quantizer: IVFQuantizer? = nil) {
        self.nlist = nlist
        self.m = m
        self.efConstruction = efConstruction
        self.seed = seed
        self.buildThreads = buildThreads
        self.quantizer = quantizer
    }

    private enum CodingKeys: String, CodingKey { case nlist, m, efConstruction, seed, buildThreads }
}

/// Per-query search parameters; the fields that do not apply to an index are ignored.
public struct SearchParameters: Sendable, Hashable {
    /// IVF: number of inverted lists visited (values above `nlist` visit every list).
    public var nprobe: Int
    /// HNSW: size of the dynamic candidate list. Raised to the number of candidates asked for
    /// (`k`, or `k * rerankFactor` with `rerank`), as hnswlib does.
    public var ef: Int
    /// Re-rank: the index returns `k * rerankFactor` candidates, which the collection re-scores
    /// with the exact stored vectors before keeping the best `k`. Any index kind can use it; it
    /// matters most for IVF_SQ8, whose own distances are computed on 8-bit codes. Reported
    /// distances are then exact.
    public var rerank: Bool
    /// With `rerank`, candidates re-scored per result (at least 1; default 4).
    public var rerankFactor: Int
    /// Threads for a batch of queries (0 = all cores).
    public var threads: Int
    /// Filtered searches (``Filter``): when at most this many vectors match, the matches are
    /// scanned exactly instead of searching the index with the filter (see
    /// ``SearchPlan/Path``). Default ``defaultFilterExactThreshold``.
    public var filterExactThreshold: Int

    /// The default of ``filterExactThreshold`` (see Docs/architecture.md, "Filtered search").
    public static let defaultFilterExactThreshold = 10_000

    public init(nprobe: Int = 16, ef: Int = 64, rerank: Bool = false, rerankFactor: Int = 4, threads: Int = 1,
                filterExactThreshold: Int = SearchParameters.defaultFilterExactThreshold) {
        self.nprobe = nprobe
        self.ef = ef
        self.rerank = rerank
        self.rerankFactor = rerankFactor
        self.threads = threads
        self.filterExactThreshold = filterExactThreshold
    }
}

/// Writes an index's persistent records inside the caller's LMDB write transaction.
/// Keys are private to the index of one collection (storage adds the namespace prefix).
/// Valid only during the call that received it.
package protocol IndexRecordWriter {
    /// Stores `value` under `key`, replacing any previous value.
    func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws
    /// Removes `key` if present.
    func delete(_ key: [UInt8]) throws
    /// Removes every record of this index.
    func deleteAll() throws
}

/// Reads an index's persisted records inside a read transaction.
/// Buffers point into the memory map and are valid only during the call that received them.
package protocol IndexRecordReader {
    /// The value stored under `key`, or nil.
    func get(_ key: [UInt8]) throws -> UnsafeRawBufferPointer?
    /// Visits every record whose key starts with `prefix`, in key order.
    func forEach(prefix: [UInt8], _ body: (_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws -> Void) throws
}

/// The stored vectors of a collection by slot, as `load` reads them: runs of consecutive slots in
/// increasing slot order. Storage gives runs of one storage block each, read in place from the
/// snapshot `load` runs in; tests and tools use ``ContiguousSlotVectors``.
package protocol SlotVectorSource {
    /// Calls `body` for each run: its first slot, its length, the id stored in each slot
    /// (`UInt64.max` for an empty slot; nil when every slot of the run is live) and the rows
    /// (`count * dimension` floats). An empty slot's row still holds the vector it held last
    /// (storage never clears a freed row), or zeros if it never held one.
    func forEachRun(_ body: (_ firstSlot: UInt32, _ count: Int, _ ids: UnsafePointer<UInt64>?,
                             _ rows: UnsafePointer<Float>) throws -> Void) throws

    /// The same runs, handed to `body` from up to `threads` threads at once in no particular
    /// order (`body` must be safe to call concurrently). The default is ``forEachRun(_:)``.
    func forEachRunConcurrently(threads: Int, _ body: (_ firstSlot: UInt32, _ count: Int, _ ids: UnsafePointer<UInt64>?,
                                                       _ rows: UnsafePointer<Float>) throws -> Void) throws
}

extension SlotVectorSource {
    package func forEachRunConcurrently(threads: Int, _ body: (UInt32, Int, UnsafePointer<UInt64>?, UnsafePointer<Float>) throws -> Void) throws {
        try forEachRun(body)
    }
}

/// Calls `body(i, row)` for the row of every slot `slots[i]` (ascending) that `source` holds,
/// in order; throws when a slot has no stored vector.
func forEachRow(slots: UnsafeBufferPointer<UInt32>, source: SlotVectorSource, dimension: Int,
                _ body: (Int, UnsafePointer<Float>) throws -> Void) throws {
    var i = 0
    try source.forEachRun { first, n, ids, rows in
        let end = UInt64(first) + UInt64(n)
        while i < slots.count && UInt64(slots[i]) < end {
            guard slots[i] >= first else { throw VDBError.corrupt("slot \(slots[i]) has no stored vector to index") }
            let o = Int(slots[i] - first)
            guard ids.map({ $0[o] != emptySlotID }) ?? true else {
                throw VDBError.corrupt("slot \(slots[i]) has no stored vector to index")
            }
            try body(i, rows + o * dimension)
            i += 1
        }
    }
    guard i == slots.count else { throw VDBError.corrupt("\(slots.count - i) of \(slots.count) slots to index have no stored vector") }
}

/// The rows of `slots` (ascending) from `source`, gathered into one row-major buffer.
func gatherRows(slots: UnsafeBufferPointer<UInt32>, source: SlotVectorSource, dimension: Int) throws -> [Float] {
    var out = [Float](repeating: 0, count: slots.count * dimension)
    try out.withUnsafeMutableBufferPointer { o in
        try forEachRow(slots: slots, source: source, dimension: dimension) { i, row in
            (o.baseAddress! + i * dimension).update(from: row, count: dimension)
        }
    }
    return out
}

/// Vectors held in one contiguous row-major buffer, row `i` being slot `i` (for tests and tools
/// that use an index outside a collection).
package struct ContiguousSlotVectors: SlotVectorSource {
    package let vectors: [Float]
    package let dimension: Int

    package init(vectors: [Float], dimension: Int) {
        self.vectors = vectors
        self.dimension = dimension
    }

    package func forEachRun(_ body: (UInt32, Int, UnsafePointer<UInt64>?, UnsafePointer<Float>) throws -> Void) throws {
        guard dimension > 0, !vectors.isEmpty else { return }
        try vectors.withUnsafeBufferPointer { try body(0, $0.count / dimension, nil, $0.baseAddress!) }
    }
}

/// An approximate index over the vectors of one collection, keyed by storage slot.
///
/// Thread safety: implementations are safe to call from many threads; `search` calls run in
/// parallel with each other; `add`, `remove` and `didCommit` are serialized by storage's single
/// writer and exclude searches only while the in-memory structure changes. Vectors passed in are
/// already normalized for `cosine`; `metric` is the kernel metric (cosine arrives as `.ip`).
///
/// Visibility: `add` and `remove` run inside storage's write transaction, before it commits, so
/// they must not change what a search that is given a `SlotVisibility` returns: a new slot is
/// hidden by the visibility until its transaction commits, and a removed slot must stay findable
/// (a graph keeps it as a waypoint; an inverted list keeps it until `didCommit`).
package protocol VectorIndex: AnyObject, Sendable {
    /// The index kind.
    var kind: IndexKind { get }
    /// The build parameters.
    var parameters: IndexParameters { get }
    /// Number of live vectors in the index.
    var count: Int { get }
    /// Bytes the index holds in memory.
    var memoryBytes: Int { get }

    /// Builds a new index over `count` vectors stored contiguously in `vectors` (row-major,
    /// `dimension` floats each) with the given slots, and writes all its records with `writer`.
    /// `progress` receives a fraction in 0...1. Throws on bad parameters or an empty input.
    static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                      slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                      writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> Self

    /// The same build, reading the vectors of `slots` (ascending) from `source`, the collection's
    /// storage, instead of a contiguous copy. The default gathers them into one buffer and calls
    /// ``build(dimension:metric:parameters:slots:vectors:writer:progress:)``; HNSW copies each run
    /// straight into its nodes, so a build never holds the vectors twice.
    static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                      slots: UnsafeBufferPointer<UInt32>, source: SlotVectorSource,
                      writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> Self

    /// Opens an index from its persisted records and the collection's stored vectors, without
    /// rebuilding. Records written by an older record version are read too; they are rewritten
    /// in the current version by the next write.
    static func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                     records: IndexRecordReader, vectors: SlotVectorSource) throws -> Self

    /// Adds vectors under new slots (a slot may be one freed by an earlier `remove`),
    /// persisting the changed records with `writer`.
    func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws

    /// Removes slots: their records are updated with `writer`, but searches given a visibility
    /// may still find them until `didCommit` (searches without one never return them after it).
    func remove(slots: [UInt32], writer: IndexRecordWriter) throws

    /// Called after the transaction of the last `add`/`remove` committed: the index may now drop
    /// what it kept for readers of older snapshots (records it must rewrite because of that are
    /// written by the next `add` or `remove`).
    func didCommit()

    /// Approximate k nearest slots of one query, best first, as (score, slot) with score in
    /// internal units (smaller is closer, see `KernelMetric.score`). Only slots `visibility`
    /// contains (every live slot when nil) and `filter` admits are returned; both are applied
    /// during the search, so `k` results come back whenever `k` such slots are reachable.
    func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                visibility: SlotVisibility?, filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)]

    /// ``search(query:k:parameters:visibility:filter:)`` without a filter for several queries,
    /// in order. The default searches them one by one; IVF computes the coarse scores of the
    /// whole batch with one `cblas_sgemm`.
    func search(queries: [UnsafePointer<Float>], k: Int, parameters: SearchParameters,
                visibility: SlotVisibility?) throws -> [[(score: Float, slot: UInt32)]]

    /// The most queries a batch search hands to ``search(queries:k:parameters:visibility:)`` at
    /// once (fewer when that gives every thread a block). The default, 64, only balances threads;
    /// IVF_FLAT asks for more, because its lists are read once per block.
    var batchBlockSize: Int { get }

    /// Approximate k nearest slots among those `filter` holds (a bitset a metadata filter
    /// evaluated to), searched with the filter inside the traversal, and how much work that took.
    /// When the search would visit more vectors than `filter` holds (an exact scan of them is
    /// cheaper), it stops and reports `exhausted`; the caller then scans the matches exactly.
    /// The default runs ``search(query:k:parameters:visibility:filter:)`` with the bitset as a
    /// predicate and reports no work count.
    func filteredSearch(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                        visibility: SlotVisibility?, filter: SlotFilter) throws -> FilteredSearchResult

    /// Checks the index's structural invariants (tests run it after every mutation). When
    /// `liveSlots` is given, also checks that the index holds exactly those slots as live.
    /// Throws ``VDBError/corrupt(_:)`` naming the first violation.
    func checkInvariants(liveSlots: Set<UInt32>?) throws
}

extension VectorIndex {
    package var batchBlockSize: Int { 64 }

    package static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                              slots: UnsafeBufferPointer<UInt32>, source: SlotVectorSource,
                              writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> Self {
        let vectors = try gatherRows(slots: slots, source: source, dimension: dimension)
        return try vectors.withUnsafeBufferPointer { v in
            try build(dimension: dimension, metric: metric, parameters: parameters, slots: slots, vectors: v,
                      writer: writer, progress: progress)
        }
    }

    package func search(queries: [UnsafePointer<Float>], k: Int, parameters: SearchParameters,
                        visibility: SlotVisibility?) throws -> [[(score: Float, slot: UInt32)]] {
        try queries.map { try search(query: $0, k: k, parameters: parameters, visibility: visibility, filter: nil) }
    }

    package func filteredSearch(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                                visibility: SlotVisibility?, filter: SlotFilter) throws -> FilteredSearchResult {
        let hits = try search(query: query, k: k, parameters: parameters, visibility: visibility) { filter.contains($0) }
        return FilteredSearchResult(hits: hits, visited: 0, exhausted: false)
    }
}

/// The slots a filtered search may return: a read-only view of a bitset over slots, with the
/// number of slots it holds and of live vectors (their ratio is the filter's selectivity).
/// Valid only during the search it is given to.
package struct SlotFilter {
    let words: UnsafePointer<UInt64>?
    let wordCount: Int
    /// Slots in the set.
    package let matches: Int
    /// Live vectors in the collection.
    package let live: Int

    /// The fraction of live vectors the filter admits (0...1).
    package var selectivity: Double { live > 0 ? min(1, Double(matches) / Double(live)) : 1 }

    @inline(__always)
    package func contains(_ slot: UInt32) -> Bool {
        let w = Int(slot &>> 6)
        guard w < wordCount, let words else { return false }
        return words[w] & (1 &<< UInt64(slot & 63)) != 0
    }
}

/// What a filtered index search found and what it cost.
package struct FilteredSearchResult {
    /// Best first, as `search` returns them.
    package var hits: [(score: Float, slot: UInt32)]
    /// Vectors whose distance the search computed (0 when the index does not count them).
    package var visited: Int
    /// The search stopped because it would visit more vectors than the filter holds.
    package var exhausted: Bool
    /// HNSW: the candidate list size used; IVF: the lists scanned.
    package var ef: Int?
    package var nprobe: Int?

    package init(hits: [(score: Float, slot: UInt32)], visited: Int, exhausted: Bool, ef: Int? = nil, nprobe: Int? = nil) {
        self.hits = hits
        self.visited = visited
        self.exhausted = exhausted
        self.ef = ef
        self.nprobe = nprobe
    }
}

/// How filtered index searches adapt to the filter's selectivity (fraction of vectors it admits).
package enum FilteredSearchTuning {
    /// Below this selectivity HNSW walks the filtered graph ACORN-1 style: only matching nodes are
    /// scored, reached through the neighbours of non-matching neighbours too.
    package static let acornBelow = 0.4
    /// At most this many times the requested candidate list / probes.
    package static let maxScale = 8.0

    /// The factor applied to HNSW's `ef` at selectivity `s`: 1 at or above `acornBelow` (the walk
    /// is hnswlib's), then growing as the square root of `acornBelow / s` up to `maxScale` (the k
    /// nearest matches lie further out in the graph the fewer vectors match).
    package static func scale(_ s: Double) -> Double {
        guard s < acornBelow else { return 1 }
        return min(maxScale, (acornBelow / max(s, 1e-9)).squareRoot())
    }

    /// The factor applied to IVF's `nprobe` at selectivity `s`: the square root of `1 / s`, up to
    /// `maxScale` (the k nearest matches are about the k / s nearest vectors, spread over more
    /// lists; measured on ann-dev, 40% selectivity at the unfiltered nprobe lost a fifth of the recall).
    package static func probeScale(_ s: Double) -> Double {
        min(maxScale, (1 / max(s, 1e-9)).squareRoot())
    }

    /// HNSW's candidate list is kept to at most this fraction of the matches: a list that must
    /// hold most of the matches walks all of them, which the exact scan does cheaper.
    package static let efShareOfMatches = 0.25
}
