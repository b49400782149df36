// The two inverted-file index kinds over `IVFCore`.

/// What IVF_FLAT and IVF_SQ8 share: the inverted-file core (centroids, lists, persistence), the
/// build and load, and the forwarding of sizes, writes and searches to the core. The subclasses
/// choose the codec.
package class IVFIndexBase: @unchecked Sendable {
    // `core` is immutable; its state is guarded by its own lock.
    let core: IVFCore
    package let parameters: IndexParameters
    package var count: Int { core.lock.read { core.live - core.pendingRemoval.count } }
    package var memoryBytes: Int { core.memoryBytes }
    /// Number of inverted lists.
    package var nlist: Int { core.nlist }
    package var kind: IndexKind { Self.indexKind }

    /// How the subclass encodes list entries, and its kind.
    class var codec: IVFCodec { fatalError("IVFIndexBase is abstract") }
    class var indexKind: IndexKind { fatalError("IVFIndexBase is abstract") }

    required init(core: IVFCore, parameters: IndexParameters) {
        self.core = core
        self.parameters = parameters
    }

    package class func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                             slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                             writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> Self {
        self.init(core: try IVFCore.build(codec: codec, kind: indexKind, dimension: dimension, metric: metric,
                                          parameters: parameters, slots: slots, vectors: vectors, writer: writer,
                                          progress: progress),
                  parameters: parameters)
    }

    /// Loads the index with the parameters it was built with (`nlist` as stored).
    package class func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                            records: IndexRecordReader, vectors: SlotVectorSource) throws -> Self {
        let core = try IVFCore.load(codec: codec, kind: indexKind, dimension: dimension, metric: metric,
                                    parameters: parameters, records: records, vectors: vectors)
        var p = parameters
        p.nlist = core.nlist
        return self.init(core: core, parameters: p)
    }

    package func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws {
        try core.add(slots: slots, vectors: vectors, writer: writer)
    }

    package func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        try core.remove(slots: slots, writer: writer)
    }

    package func didCommit() { core.didCommit() }

    package func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                        visibility: SlotVisibility?, filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        try core.search(query: query, k: k, parameters: parameters, visibility: visibility, filter: filter)
    }

    /// IVF_FLAT reads each probed list once per block (IVF+GroupedScan.swift): larger blocks
    /// share each read among more queries.
    package var batchBlockSize: Int { core.codec == .flat ? 512 : 64 }

    package func search(queries: [UnsafePointer<Float>], k: Int, parameters: SearchParameters,
                        visibility: SlotVisibility?) throws -> [[(score: Float, slot: UInt32)]] {
        try core.search(queries: queries, k: k, parameters: parameters, visibility: visibility)
    }

    package func filteredSearch(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                                visibility: SlotVisibility?, filter: SlotFilter) throws -> FilteredSearchResult {
        try core.filteredSearch(query: query, k: k, parameters: parameters, visibility: visibility, filter: filter)
    }

    package func checkInvariants(liveSlots: Set<UInt32>?) throws { try core.checkInvariants(liveSlots: liveSlots) }
}

/// IVF_FLAT: inverted lists of raw vectors (Faiss `IndexIVFFlat`).
///
/// Build trains `nlist` centroids with k-means (seeded), then assigns every vector to its nearest
/// centroid. A search visits the `nprobe` nearest lists and scores their vectors exactly.
/// Inserts after the build go to the nearest centroid without retraining; removes delete the entry.
/// The lists are contiguous copies of the vectors in memory; on disk the index keeps only which
/// slots each list holds.
package final class IVFFlatIndex: IVFIndexBase, VectorIndex, @unchecked Sendable {
    override class var codec: IVFCodec { .flat }
    override class var indexKind: IndexKind { .ivfFlat }
}

/// IVF_SQ8: inverted lists of 8-bit scalar-quantized vectors (Faiss `IndexIVFScalarQuantizer`
/// with `QT_8bit` and `by_residual`: uniform per-dimension min/max trained on the residuals
/// x - centroid of the build input; each entry holds the codes of its residual).
///
/// Distances are computed on the codes (an integer dot product with per-query int16 weights, see
/// `vdb_sq8.h`). Exact distances come from the collection's re-rank stage
/// (`SearchParameters.rerank`), which re-scores the best `k * rerankFactor` candidates with the
/// stored vectors: the index keeps no copy of the float vectors, which would defeat SQ8's 4x saving.
package final class IVFSQ8Index: IVFIndexBase, VectorIndex, @unchecked Sendable {
    override class var codec: IVFCodec { .sq8 }
    override class var indexKind: IndexKind { .ivfSQ8 }
}
