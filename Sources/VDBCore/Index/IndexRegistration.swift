// How storage finds the approximate index implementations, and the exact-vector source the
// IVF_SQ8 re-ranking uses inside a collection search.

/// The index implementations every ``Database`` knows without registration
/// (``IndexRegistry`` starts with these).
let builtInIndexTypes: [IndexKind: any VectorIndex.Type] = [
    .hnsw: HNSWIndex.self,
    .ivfFlat: IVFFlatIndex.self,
    .ivfSQ8: IVFSQ8Index.self,
]

/// Exact vectors of the read snapshot a collection search runs in (see `SnapshotVectors`).
struct SnapshotVectorSource: ExactVectorSource, @unchecked Sendable {
    // The snapshot is immutable and outlives the search that published it.
    let snapshot: SnapshotVectors

    func withVectors(slots: UnsafeBufferPointer<UInt32>, _ body: (Int, UnsafePointer<Float>?) throws -> Void) throws {
        for (i, s) in slots.enumerated() { try body(i, snapshot.vector(slot: s)) }
    }
}

extension Collection: ExactVectorSource {}
