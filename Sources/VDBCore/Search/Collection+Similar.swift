extension Collection {
    /// "Find similar": the `k` stored vectors nearest to the stored vector `id`, best first,
    /// not counting the point itself.
    ///
    /// - Returns: nil when `id` is not stored.
    /// - Throws: as ``search(_:k:parameters:filter:)``.
    public func search(similarTo id: UInt64, k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [SearchHit]? {
        guard let record = try get(id: id) else { return nil }
        let others: SearchFilter = { other, metadata in other != id && (filter?(other, metadata) ?? true) }
        return try search(record.vector, k: k, parameters: parameters, filter: others)
    }
}
