// The seam between the storage engine (Storage/, FLAT search) and the approximate indexes (Index/).
//
// Storage owns vectors, ids, metadata and LMDB transactions. Every stored vector lives in a dense
// internal *slot* (UInt32); slots of deleted vectors are reused. Approximate indexes are keyed by
// slot, hold what they need in memory for speed, and persist their own records through an
// `IndexRecordWriter` inside the same LMDB write transaction as the vector change, so that
// vectors and index commit or abort together. On open, storage calls the index's `load` with a
// reader over those records: no rebuild.

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
    /// IVF: number of inverted lists visited.
    public var nprobe: Int
    /// HNSW: size of the dynamic candidate list (at least k).
    public var ef: Int
    /// IVF_SQ8: re-rank the best candidates with the exact stored vectors.
    public var rerank: Bool
    /// Threads for a batch of queries (0 = all cores).
    public var threads: Int

    public init(nprobe: Int = 16, ef: Int = 64, rerank: Bool = false, threads: Int = 1) {
        self.nprobe = nprobe
        self.ef = ef
        self.rerank = rerank
        self.threads = threads
    }
}

/// Writes an index's persistent records inside the caller's LMDB write transaction.
/// Keys are private to the index of one collection (storage adds the namespace prefix).
/// Valid only during the call that received it.
public protocol IndexRecordWriter {
    /// Stores `value` under `key`, replacing any previous value.
    func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws
    /// Removes `key` if present.
    func delete(_ key: [UInt8]) throws
    /// Removes every record of this index.
    func deleteAll() throws
}

/// Reads an index's persisted records inside a read transaction.
/// Buffers point into the memory map and are valid only during the call that received them.
public protocol IndexRecordReader {
    /// The value stored under `key`, or nil.
    func get(_ key: [UInt8]) throws -> UnsafeRawBufferPointer?
    /// Visits every record whose key starts with `prefix`, in key order.
    func forEach(prefix: [UInt8], _ body: (_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws -> Void) throws
}

/// An approximate index over the vectors of one collection, keyed by storage slot.
///
/// Thread safety: implementations are safe to call from many threads; `search` calls run in
/// parallel with each other, `add`/`remove` are serialized by storage's single writer and exclude
/// searches only while the in-memory structure changes. Vectors passed in are already
/// normalized for `cosine`; `metric` is the kernel metric (cosine arrives as `.ip`).
public protocol VectorIndex: AnyObject, Sendable {
    /// The index kind.
    var kind: IndexKind { get }
    /// The build parameters.
    var parameters: IndexParameters { get }
    /// Number of live vectors in the index.
    var count: Int { get }
    /// Bytes the index holds in memory (for `vdb info` and benchmarks).
    var memoryBytes: Int { get }

    /// Builds a new index over `count` vectors stored contiguously in `vectors` (row-major,
    /// `dimension` floats each) with the given slots, and writes all its records with `writer`.
    /// `progress` receives a fraction in 0...1. Throws on bad parameters or an empty input.
    static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                      slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                      writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> Self

    /// Opens an index from its persisted records, without rebuilding.
    static func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                     reader: IndexRecordReader) throws -> Self

    /// Adds vectors under new slots (a slot may be one freed by an earlier `remove`),
    /// persisting the changed records with `writer`.
    func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws

    /// Removes slots; they are never returned again until re-added.
    func remove(slots: [UInt32], writer: IndexRecordWriter) throws

    /// Approximate k nearest slots of one query, best first, as (score, slot) with score in
    /// internal units (smaller is closer, see `KernelMetric.score`). `filter`, when given, admits
    /// only slots for which it returns true, applied during the search.
    func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)]
}
