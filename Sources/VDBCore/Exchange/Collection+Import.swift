// Importing exported tables: the inverse of `Collection.export`, lossless for a vdb export.
import Foundation

extension Collection {
    /// Inserts every vector `reader` yields, with its id and metadata when the file has them,
    /// one transaction per `batchSize` vectors (an interrupted import keeps the batches committed
    /// before it). Vectors of a cosine collection that already have unit length are stored as
    /// they are, so an exported collection imports back bit for bit.
    ///
    /// - Parameters:
    ///   - startID: ids for a file without ids, increasing from this one (default: continue after
    ///     the largest id ever stored).
    ///   - progress: called after each batch with the number of vectors imported so far.
    /// - Returns: the number of vectors imported.
    /// - Throws: ``VDBError/dimensionMismatch(expected:got:index:)`` for a file of another dimension,
    ///   ``VDBError/duplicateID(_:)`` for an id already stored, and the reader's errors. Vector
    ///   indexes in errors count from the start of the failing batch.
    @discardableResult
    public func importVectors(from reader: any VectorFileReader, batchSize: Int = 10_000, startID: UInt64? = nil,
                              progress: ((Int) -> Void)? = nil) throws -> Int {
        guard batchSize > 0 else { throw VDBError.invalidArgument("batch size must be at least 1 (got \(batchSize))") }
        guard reader.dimension == dimension else {
            throw VDBError.dimensionMismatch(expected: dimension, got: reader.dimension, index: nil)
        }
        var done = 0
        var nextID = startID
        while let chunk = try reader.next(maxCount: batchSize) {
            var ids = chunk.ids
            if ids == nil, let first = nextID {
                guard first <= UInt64.max - UInt64(chunk.count) else { throw VDBError.invalidArgument("start id \(first): ids would overflow") }
                ids = (0..<chunk.count).map { first + UInt64($0) }
                nextID = first + UInt64(chunk.count)
            }
            try insertStored(contiguous: chunk.vectors, ids: ids, metadata: chunk.metadata)
            done += chunk.count
            progress?(done)
        }
        return done
    }
}

extension Database {
    /// Imports a table (Parquet or Arrow, see ``ArrowTableReader``) into the collection `name`,
    /// creating it when it does not exist from the table's header: dimension, metric and
    /// properties (such as the model fingerprint) of the exported collection.
    ///
    /// - Parameter metric: the metric for a new collection when the table does not record one.
    /// - Throws: ``VDBError/invalidArgument(_:)`` when the collection must be created but the
    ///   table names no metric and none is given, or when an existing collection's metric differs
    ///   from the one the table records; and the errors of ``Collection/importVectors(from:batchSize:startID:progress:)``.
    @discardableResult
    public func importTable(_ reader: ArrowTableReader, into name: String, metric: Metric? = nil, batchSize: Int = 10_000,
                            progress: ((Int) -> Void)? = nil) throws -> (collection: Collection, count: Int) {
        let collection: Collection
        if try collectionNames().contains(name) {
            collection = try self.collection(named: name)
            if let m = reader.header.metric, m != collection.metric {
                throw VDBError.invalidArgument("the table was exported from a \(m) collection but '\(name)' uses \(collection.metric)")
            }
        } else {
            guard let m = metric ?? reader.header.metric else {
                throw VDBError.invalidArgument("no collection '\(name)' and the table records no metric: create it first (vdb create \(name) --dim \(reader.dimension) --metric ...)")
            }
            collection = try createCollection(name: name, dimension: reader.dimension, metric: m)
            if !reader.header.properties.isEmpty { try collection.setProperties(reader.header.properties.mapValues { Optional($0) }) }
        }
        let n = try collection.importVectors(from: reader, batchSize: batchSize, progress: progress)
        return (collection, n)
    }
}
