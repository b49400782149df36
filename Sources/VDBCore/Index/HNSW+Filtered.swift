// Filtered HNSW search: the filter (a bitset of slots) is checked inside the traversal.
//
// - At or above `FilteredSearchTuning.acornBelow` of the vectors matching, the graph is walked as
//   without a filter and filtered-out nodes are expanded but never returned (hnswlib's filter).
// - Below it, ACORN-1 (Patel et al., "ACORN: Performant and Predicate-Agnostic Search Over
//   Vector Embeddings and Structured Data", SIGMOD 2024): only matching nodes are scored and
//   become candidates, and a node's neighbour list is expanded through its non-matching
//   neighbours to their neighbours (two hops), truncated to 2M matching nodes, so the matching
//   subgraph stays connected without scoring the vectors that cannot be returned.
// - `ef` grows as the selectivity falls (`FilteredSearchTuning.scale`), capped at a quarter of
//   the matches. Both walks stop once they have computed more distances than there are matches, an
//   exact scan of the matches being cheaper from there; the caller then runs that scan.

extension HNSWIndex {
    package func filteredSearch(query: UnsafePointer<Float>, k: Int, parameters sp: SearchParameters,
                                visibility: SlotVisibility?, filter: SlotFilter) throws -> FilteredSearchResult {
        guard k > 0 else { throw VDBError.invalidK(k) }
        let s = filter.selectivity
        let scaled = (Double(max(sp.ef, k)) * FilteredSearchTuning.scale(s)).rounded(.up)
        let cap = Int(Double(filter.matches) * FilteredSearchTuning.efShareOfMatches)
        let ef = max(k, min(Int(min(scaled, 1e9)), cap))
        let budget = max(filter.matches, k)
        return rw.read {
            guard maxLevel >= 0 else { return FilteredSearchResult(hits: [], visited: 0, exhausted: false, ef: ef) }
            return pool.with { scratch in
                let (entry, upper) = descend(query)
                let walk: (count: Int, computed: Int, exhausted: Bool)
                if s < FilteredSearchTuning.acornBelow {
                    walk = acornLevel0(scratch, query: query, ep: entry, ef: ef, visibility: visibility, filter: filter,
                                       budget: budget - upper)
                } else {
                    walk = searchLevel0(scratch, query: query, ep: entry, ef: ef, checkAllowed: true, visibility: visibility,
                                        filter: nil, slotFilter: filter, budget: budget - upper)
                }
                var top = MaxHeap(scratch.top)
                top.count = walk.count
                while top.count > k { _ = top.pop() }
                return FilteredSearchResult(hits: top.drainSorted(), visited: upper + walk.computed,
                                            exhausted: walk.exhausted, ef: ef)
            }
        }
    }

    /// The ACORN-1 walk of level 0 (shared lock held): leaves up to `ef` matching nodes in
    /// `scratch.top`. Only the entry point and matching nodes are scored; a non-matching
    /// neighbour is not scored but its neighbours are looked at (two-hop expansion).
    func acornLevel0(_ scratch: HNSWScratch, query: UnsafePointer<Float>, ep: UInt32, ef: Int,
                     visibility: SlotVisibility?, filter: SlotFilter, budget: Int) -> (count: Int, computed: Int, exhausted: Bool) {
        let tag = scratch.begin(nodes: capacity, ef: ef)
        let visited = scratch.visited, pending = scratch.pending
        var top = MaxHeap(scratch.top)
        var cand = MinHeap(scratch.cand)
        let cap = maxM0
        @inline(__always) func allowed(_ s: UInt32) -> Bool {
            if !filter.contains(s) { return false }
            if let visibility { return visibility.contains(s) }
            return !isDeleted(s)
        }
        var computed = 1
        let d0 = dist(query, ep)
        visited[Int(ep)] = tag
        var lower = Float.infinity
        if allowed(ep) { top.push(packScore(d0, ep)); lower = d0 }
        cand.push(packScore(d0, ep))
        while cand.count > 0 {
            let c = cand.top
            if unpackScore(c) > lower && top.count == ef { break }
            _ = cand.pop()
            let (lk, n) = links(unpackSlot(c), 0)
            // The matching nodes among the neighbours and, through each non-matching neighbour,
            // among its neighbours; at most `cap` of them.
            var fresh = 0
            var j = 0
            while j < n && fresh < cap {
                let nb = lk[j]
                j += 1
                if visited[Int(nb)] == tag { continue }
                visited[Int(nb)] = tag
                if allowed(nb) {
                    pending[fresh] = nb
                    fresh += 1
                    continue
                }
                let (lk2, n2) = links(nb, 0)
                var j2 = 0
                while j2 < n2 && fresh < cap {
                    let nb2 = lk2[j2]
                    j2 += 1
                    if visited[Int(nb2)] == tag || !allowed(nb2) { continue }
                    visited[Int(nb2)] = tag
                    pending[fresh] = nb2
                    fresh += 1
                }
            }
            computed &+= fresh
            if computed > budget { return (top.count, computed, true) }
            for i in 0..<fresh {
                let nb = pending[i]
                prefetchScoring(pending, fresh, at: i)
                let dn = dist(query, nb)
                if top.count < ef || dn < lower {
                    let key = packScore(dn, nb)
                    cand.push(key)
                    if top.count < ef { top.push(key) } else { top.replaceTop(key) }
                    lower = unpackScore(top.top)
                }
            }
        }
        return (top.count, computed, false)
    }
}
