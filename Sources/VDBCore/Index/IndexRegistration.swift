// How storage finds the approximate index implementations.

import Synchronization

/// The index implementations every ``Database`` knows without registration
/// (``IndexRegistry`` starts with these).
let builtInIndexTypes: [IndexKind: any VectorIndex.Type] = [
    .hnsw: HNSWIndex.self,
    .ivfFlat: IVFFlatIndex.self,
    .ivfSQ8: IVFSQ8Index.self,
]

/// Registry of approximate index implementations: storage looks a kind up when a collection with
/// that kind is opened or built. Starts with the built-in kinds; tests and tools may replace one.
package enum IndexRegistry {
    private static let types = Synchronization.Mutex<[IndexKind: any VectorIndex.Type]>(builtInIndexTypes)

    /// Registers (or replaces) the implementation of `kind`.
    package static func register(_ type: any VectorIndex.Type, for kind: IndexKind) {
        types.withLock { $0[kind] = type }
    }

    /// The implementation registered for `kind`, if any.
    package static func type(for kind: IndexKind) -> (any VectorIndex.Type)? {
        types.withLock { $0[kind] }
    }
}
