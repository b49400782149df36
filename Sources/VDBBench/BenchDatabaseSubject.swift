import Foundation
import VDBCore

/// Drives a vdb ``Collection`` (storage engine + its index) through the benchmark harness.
enum BenchDatabase {
    /// What to benchmark and where.
    struct Target: Sendable {
        /// Database directory; nil = a fresh temporary directory, deleted by ``Handle/close()``.
        var databasePath: String?
        /// Collection name (created if absent).
        var collection: String
        /// Metric of a created collection (`cosine` normalizes base and queries).
        var metric: Metric
        /// Index kind to build.
        var index: IndexKind
        /// Index build parameters.
        var parameters: IndexParameters
        /// Metadata stored with each base vector (row order), if any.
        var metadata: [Metadata?]?
        /// Indexed metadata fields of the collection.
        var fields: [FieldDefinition] = []
        /// The filter every search runs with, if any.
        var filter: Filter?

        init(databasePath: String?, collection: String = "bench", metric: Metric, index: IndexKind,
                    parameters: IndexParameters) {
            self.databasePath = databasePath
            self.collection = collection
            self.metric = metric
            self.index = index
            self.parameters = parameters
        }
    }

    /// An open benchmark database; `close()` deletes it when it was temporary.
    final class Handle {
        let database: Database
        let path: String
        let temporary: Bool
        /// The collection under test, set by the subject's build (or found existing).
        var collection: Collection?
        /// Whether the collection already held the vectors, so none were inserted.
        var reusedExisting = false
        /// Whether the reused collection's index had another kind or parameters and was rebuilt.
        var rebuiltIndex = false

        init(database: Database, path: String, temporary: Bool) {
            self.database = database
            self.path = path
            self.temporary = temporary
        }

        /// Removes the temporary database directory (no-op for a user-given database).
        func close() {
            collection = nil
            if temporary { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// Opens (or creates) the database and returns a subject whose build inserts `base` with ids
    /// 0..<n (row numbers, as ground-truth files use) and builds the index, timed together.
    /// If the collection exists with the same dimension and number of vectors, its vectors are
    /// reused (assumed to be `base` with ids 0..<n) and only the index is (re)built when it is not
    /// already `target.index` with `target.parameters`; any other existing collection is an error
    /// (it is never dropped).
    static func subject(target: Target, base: BenchVectors) throws -> (BenchSubject, Handle) {
        let path: String
        let temporary = target.databasePath == nil
        if let p = target.databasePath { path = p } else {
            path = FileManager.default.temporaryDirectory
                .appendingPathComponent("vdb-bench-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)").path
        }
        let database = try Database(path: path)
        let handle = Handle(database: database, path: path, temporary: temporary)
        var reported: [BenchParameter] = []
        switch target.index {
        case .flat: break
        case .ivfFlat, .ivfSQ8: reported = [BenchParameter("nlist", target.parameters.nlist)]
        case .hnsw: reported = [BenchParameter("M", target.parameters.m), BenchParameter("efConstruction", target.parameters.efConstruction)]
        }
        var subject = BenchSubject(
            index: target.index.rawValue, buildParameters: reported,
            build: { progress in
                if let existing = try? database.collection(named: target.collection) {
                    let info = try existing.info()
                    guard info.dimension == base.dimension else {
                        throw BenchError.mismatch("collection '\(target.collection)' has dimension \(info.dimension) but the base vectors have \(base.dimension)")
                    }
                    guard info.count == base.count else {
                        throw BenchError.mismatch("collection '\(target.collection)' holds \(info.count) vectors, not the \(base.count) base vectors; choose another --collection or drop it (vdb drop)")
                    }
                    if target.index != .flat && !(info.indexBuilt && info.index == target.index && info.parameters == target.parameters) {
                        try existing.buildIndex(kind: target.index, parameters: target.parameters) { progress($0) }
                        handle.rebuiltIndex = true
                    }
                    if !Set(target.fields).isSubset(of: Set(info.fields)) { try existing.addFields(target.fields) }
                    handle.collection = existing
                    handle.reusedExisting = true
                    progress(1)
                    return
                }
                let c = try database.createCollection(name: target.collection, dimension: base.dimension,
                                                      metric: target.metric, index: target.index, parameters: target.parameters,
                                                      fields: target.fields)
                // Insert in chunks (one transaction each) so progress moves; ids are row numbers.
                let chunk = 10_000, d = base.dimension
                let insertShare = target.index == .flat ? 1.0 : 0.2
                for start in stride(from: 0, to: base.count, by: chunk) {
                    let end = min(base.count, start + chunk)
                    try c.insert(contiguous: Array(base.data[start * d ..< end * d]), ids: (start ..< end).map { UInt64($0) },
                                 metadata: target.metadata.map { Array($0[start ..< end]) })
                    progress(insertShare * Double(end) / Double(base.count))
                }
                if target.index != .flat {
                    try c.buildIndex(kind: target.index, parameters: target.parameters) { f in
                        progress(insertShare + (1 - insertShare) * f)
                    }
                }
                handle.collection = c
            },
            searchBatch: { queries, k, parameters in
                guard let c = handle.collection else { throw BenchError.invalidArgument("search before build") }
                if let filter = target.filter {
                    return try c.search(contiguous: queries.data, k: k, parameters: parameters, where: filter).map { $0.map { Int64($0.id) } }
                }
                return try c.search(contiguous: queries.data, k: k, parameters: parameters).map { $0.map { Int64($0.id) } }
            },
            searchOne: { query, k, parameters in
                guard let c = handle.collection else { throw BenchError.invalidArgument("search before build") }
                if let filter = target.filter {
                    return try c.search(Array(query), k: k, parameters: parameters, where: filter).map { Int64($0.id) }
                }
                return try c.search(Array(query), k: k, parameters: parameters).map { Int64($0.id) }
            },
            bytesOnDisk: { try BenchSystem.bytesOnDisk(path) })
        // A reused collection whose index already matched: nothing was built.
        subject.builtNothing = { handle.reusedExisting && !handle.rebuiltIndex }
        return (subject, handle)
    }
}
