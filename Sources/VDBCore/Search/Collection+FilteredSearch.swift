// The public API of filtered search (``Filter``), on collections and inside transactions.

import Foundation

/// The hits of one query and how the search ran.
public struct SearchResult: Sendable, Hashable {
    public var hits: [SearchHit]
    public var plan: SearchPlan
}

extension Collection {
    /// The `k` nearest vectors to `query` among those that satisfy `filter`, best first.
    ///
    /// ```swift
    /// let hits = try photos.search(query, k: 10, where: try Filter(where: ["taken_at>=2024-06-01", "camera=Pixel 8"]))
    /// ```
    ///
    /// `k` results come back whenever at least `k` vectors match, whatever the index and the
    /// selectivity: the filter is evaluated into the set of matching vectors first (indexed fields
    /// from the metadata index, other keys by reading every vector's metadata), and few matches
    /// are scanned exactly (see ``SearchParameters/filterExactThreshold``).
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       where filter: Filter) throws -> [SearchHit] {
        try searchExplained(contiguous: queryBuffer(query), k: k, parameters: parameters, where: filter)[0].hits
    }

    /// Batch variant of ``search(_:k:parameters:where:)``: one evaluation of the filter, all
    /// queries on one snapshot, on `parameters.threads` threads.
    public func search(batch queries: [[Float]], k: Int, parameters: SearchParameters = SearchParameters(),
                       where filter: Filter) throws -> [[SearchHit]] {
        try searchExplained(contiguous: flatten(queries), k: k, parameters: parameters, where: filter).map(\.hits)
    }

    /// Contiguous-buffer variant of ``search(batch:k:parameters:where:)``.
    public func search(contiguous queries: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       where filter: Filter) throws -> [[SearchHit]] {
        try searchExplained(contiguous: queries, k: k, parameters: parameters, where: filter).map(\.hits)
    }

    /// Searches with an optional filter and reports, per query, how the search ran
    /// (``SearchPlan``: the path, the matches, the work done).
    public func searchExplained(contiguous queries: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                                where filter: Filter?) throws -> [SearchResult] {
        try env.read { txn in try searchExplained(readScope(txn), queries, k: k, parameters: parameters, filter: filter) }
    }

    /// Filtered (or unfiltered) search in `scope`, with plans.
    func searchExplained(_ scope: SearchScope, _ queries: [Float], k: Int, parameters: SearchParameters,
                         filter: Filter?) throws -> [SearchResult] {
        guard let filter, !filter.isEmpty else {
            let hits = try search(scope, contiguous: queries, k: k, parameters: parameters, filter: nil)
            let plan = SearchPlan(path: .unfiltered, index: scope.index?.live.index.kind ?? .flat, vectors: Int(scope.state.count),
                                  exactThreshold: parameters.filterExactThreshold, scannedKeys: [])
            return hits.map { SearchResult(hits: $0, plan: plan) }
        }
        var q = queries
        let (nq, threads) = try preparedQueries(&q, k: k, parameters: parameters)
        if nq == 0 { return [] }
        let found = try filteredSearch(scope, q, nq: nq, k: k, parameters: parameters, threads: threads, filter: filter)
        return zip(try hits(scope.txn, found.map(\.top)), found).map { SearchResult(hits: $0, plan: $1.plan) }
    }
}

extension CollectionReader {
    /// See ``Collection/search(_:k:parameters:where:)``; on this snapshot.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       where filter: Filter) throws -> [SearchHit] {
        try searchExplained(contiguous: collection.queryBuffer(query), k: k, parameters: parameters, where: filter)[0].hits
    }

    /// See ``Collection/search(batch:k:parameters:where:)``; on this snapshot.
    public func search(batch queries: [[Float]], k: Int, parameters: SearchParameters = SearchParameters(),
                       where filter: Filter) throws -> [[SearchHit]] {
        try searchExplained(contiguous: collection.flatten(queries), k: k, parameters: parameters, where: filter).map(\.hits)
    }

    /// See ``Collection/searchExplained(contiguous:k:parameters:where:)``; on this snapshot.
    public func searchExplained(contiguous queries: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                                where filter: Filter?) throws -> [SearchResult] {
        try collection.searchExplained(collection.readScope(txn()), queries, k: k, parameters: parameters, filter: filter)
    }
}

extension CollectionWriter {
    /// See ``Collection/search(_:k:parameters:where:)``; sees this transaction's changes.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       where filter: Filter) throws -> [SearchHit] {
        let q = try collection.queryBuffer(query)
        let (w, txn) = try enter()
        return try collection.searchExplained(collection.writeScope(w, txn), q, k: k, parameters: parameters, filter: filter)[0].hits
    }
}
