// The search API of a collection and the choice between exact and index search.

import Foundation
import VDBSupport

/// What one search reads: a snapshot (a read transaction), or a write transaction in progress
/// (which sees its own writes).
struct SearchScope {
    let txn: ReadTxn
    let state: CollectionState
    /// The index to search, or nil to search exactly.
    let index: IndexView?
    /// The epoch whose row norms may be cached (nil inside a write transaction).
    let cacheEpoch: UInt64?
}

extension Collection {
    // MARK: - public search API

    /// The `k` nearest stored vectors to `query`, best first (ties: smaller id first).
    ///
    /// Exact (FLAT) unless the collection has a built index, which then answers with
    /// `parameters` (`nprobe`, `ef`, `rerank`). `filter`, when given, admits only matching vectors
    /// and is applied during the search.
    /// - Throws: ``VDBError/dimensionMismatch(expected:got:index:)``, ``VDBError/nonFiniteComponent(index:component:)``,
    ///   ``VDBError/invalidK(_:)``, ``VDBError/invalidParameter(name:value:reason:)``.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [SearchHit] {
        let q = try queryBuffer(query)
        return try env.read { txn in try search(readScope(txn), contiguous: q, k: k, parameters: parameters, filter: filter)[0] }
    }

    /// The `k` nearest neighbours of each query, in query order. Exact batches use BLAS
    /// (`cblas_sgemm`) over query tiles x storage blocks, on `parameters.threads` threads
    /// (0 = all cores); results equal those of single-query ``search(_:k:parameters:filter:)``.
    /// All queries read one snapshot.
    public func search(batch queries: [[Float]], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        let q = try flatten(queries)
        return try env.read { txn in try search(readScope(txn), contiguous: q, k: k, parameters: parameters, filter: filter) }
    }

    /// Batch search over queries stored contiguously (row-major, `dimension` floats each).
    public func search(contiguous queries: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        try env.read { txn in try search(readScope(txn), contiguous: queries, k: k, parameters: parameters, filter: filter) }
    }

    // MARK: - scopes and dispatch

    func queryBuffer(_ query: [Float]) throws -> [Float] {
        guard query.count == dimension else { throw VDBError.dimensionMismatch(expected: dimension, got: query.count, index: nil) }
        return query
    }

    /// The scope of a search in snapshot `txn`.
    func readScope(_ txn: ReadTxn) throws -> SearchScope {
        let st = try state(txn)
        return SearchScope(txn: txn, state: st, index: try indexView(txn, epoch: st.epoch), cacheEpoch: st.epoch)
    }

    /// The scope of a search inside write transaction `w` (it sees its own writes).
    func writeScope(_ w: CollectionWrite, _ txn: WriteTxn) -> SearchScope {
        SearchScope(txn: txn.reader, state: w.state, index: w.live.map { IndexView(live: $0, epoch: w.epoch) }, cacheEpoch: nil)
    }

    /// Searches `queries` (row-major) in `scope`: with its index, else exactly.
    func search(_ scope: SearchScope, contiguous queries: [Float], k: Int, parameters: SearchParameters,
                filter: SearchFilter?) throws -> [[SearchHit]] {
        var q = queries
        let (nq, threads) = try preparedQueries(&q, k: k, parameters: parameters)
        if nq == 0 { return [] }
        let txn = scope.txn, st = scope.state
        // No search returns more than the snapshot holds: `k` (and `ef`) are capped at its count
        // before anything is sized by them, so any `k` from a flag or a request is safe.
        let stored = Int(clamping: st.count)
        if stored == 0 { return [[SearchHit]](repeating: [], count: nq) }
        let k = min(k, stored)
        var parameters = parameters
        parameters.ef = max(k, min(parameters.ef, stored))
        let tops: [[(score: Float, id: UInt64)]]
        if let view = scope.index {
            tops = try indexSearch(scope, view, q, nq: nq, k: k, parameters: parameters, threads: threads,
                                   filter: filter.map { .metadata($0) } ?? .none).map(\.top)
        } else if nq == 1 || filter != nil {
            tops = try q.withUnsafeBufferPointer { qb in
                try (0..<nq).map { try flatSearch(txn, st, qb.baseAddress! + $0 * dimension, k: k, filter: filter).sorted() }
            }
        } else {
            tops = try flatBatch(txn, st, cacheEpoch: scope.cacheEpoch, q, nq: nq, k: k, threads: threads)
        }
        return try hits(txn, tops)
    }

    /// Checks a query buffer and prepares its queries (normalized for cosine); returns the query
    /// count (0 for an empty buffer) and the resolved thread count.
    func preparedQueries(_ queries: inout [Float], k: Int, parameters: SearchParameters) throws -> (nq: Int, threads: Int) {
        guard k > 0 else { throw VDBError.invalidK(k) }
        guard queries.count % dimension == 0 else {
            throw VDBError.invalidArgument("query buffer of \(queries.count) floats is not a whole number of \(dimension)-d vectors")
        }
        let nq = queries.count / dimension
        if nq > 0 { try prepare(&queries, count: nq) }
        return (nq, resolvedThreads(parameters.threads))
    }

    /// The hits of each query's best (score, id) pairs, with metadata read from snapshot `txn`.
    func hits(_ txn: ReadTxn, _ tops: [[(score: Float, id: UInt64)]]) throws -> [[SearchHit]] {
        var hasMetadata = false
        try txn.scan(txn.dbis.metadata, prefix: prefix) { _, _ in hasMetadata = true; return false }
        return try tops.map { top in
            try top.map { c in
                SearchHit(id: c.id, distance: kernel.reported(c.score),
                          metadata: hasMetadata ? try metadata(txn, c.id) ?? [:] : [:])
            }
        }
    }
}
