// Index search inside a collection: the index proposes slots, the slot table shows which the
// snapshot holds and their ids, and the refine stage re-scores candidates exactly.

import Dispatch
import Synchronization
import VDBSupport

/// One index result with the id the slot table gives its slot (`emptySlotID` if none).
struct IndexCandidate {
    var score: Float
    var slot: UInt32
    var id: UInt64
}

/// What an index search admits besides the snapshot's visibility.
enum CandidateFilter {
    case none
    /// A predicate on (id, metadata), reading each candidate's metadata from the snapshot.
    case metadata(SearchFilter)
    /// The slots a metadata filter evaluated to, checked in the traversal.
    case slots(SlotFilter)
}

/// One query's index search: the best candidates as (score, id), and what the search did.
struct IndexQueryOutcome {
    var top: [(score: Float, id: UInt64)] = []
    /// Distances the index computed (filtered searches; 0 when not counted).
    var visited = 0
    /// A filtered search stopped because an exact scan of the matches is cheaper.
    var exhausted = false
    var ef: Int?
    var nprobe: Int?
}

extension Collection {
    /// Runs the index for prepared queries (in parallel over queries unless `filter` reads metadata).
    ///
    /// The index admits only the slots the slot table shows to the scope's snapshot, so `k`
    /// results come back whenever `k` are reachable, and maps them to ids through the table, with
    /// no second pass over LMDB. Two cases re-score the candidates exactly from the snapshot's
    /// blocks (`rescore`): `parameters.rerank` (the refine stage: the index returns
    /// `k * rerankFactor` candidates), and a search during which a write freed or reused slots,
    /// or that reads a snapshot older than the table (rare: the ids and distances are then checked
    /// against the snapshot, and a query that lost hits to the race is searched again). Slots
    /// that writes newer than the snapshot filled have no id for it and are dropped; a query
    /// left with fewer than `k` hits by that is searched again with the per-slot check.
    func indexSearch(_ scope: SearchScope, _ view: IndexView, _ queries: [Float], nq: Int, k: Int,
                     parameters: SearchParameters, threads: Int, filter: CandidateFilter) throws -> [IndexQueryOutcome] {
        let factor = parameters.rerank ? max(1, parameters.rerankFactor) : 1
        // Candidates to ask the index for: never more than the snapshot holds (k is already capped).
        let (product, overflow) = k.multipliedReportingOverflow(by: factor)
        let wanted = min(overflow ? Int.max : product, max(k, Int(clamping: scope.state.count)))
        var out = [IndexQueryOutcome](repeating: IndexQueryOutcome(), count: nq)
        var pending = Array(0..<nq)
        for attempt in 0..<3 {
            let (found, stable) = try candidates(scope, view, queries, pending, count: wanted, parameters: parameters,
                                                 threads: threads, filter: filter, checkSlots: attempt > 0)
            var again: [Int] = []
            try queries.withUnsafeBufferPointer { qb in
                for (j, qi) in pending.enumerated() {
                    let (candidates, stats) = found[j]
                    out[qi] = stats
                    if stats.exhausted { continue }
                    if factor == 1 && stable {
                        let visible = candidates.filter { $0.id != emptySlotID }
                        out[qi].top = visible.prefix(k).map { ($0.score, $0.id) }
                        if visible.count < min(k, candidates.count) && attempt < 2 { again.append(qi) }
                        continue
                    }
                    let exact = try rescore(scope.txn, qb.baseAddress! + qi * dimension, candidates, k: k, filter: stable ? .none : filter)
                    out[qi].top = exact
                    // Hits lost to the race, or slots of newer writes among the candidates.
                    if exact.count < min(k, candidates.count) && attempt < 2 { again.append(qi) }
                }
            }
            if again.isEmpty { break }
            pending = again
        }
        return out
    }

    /// The index's `count` best candidates for each query of `which`, in one read of the slot
    /// table, with what each search did; `stable` tells whether the table matched the snapshot
    /// throughout. `checkSlots` makes the traversal check every candidate against the table even
    /// when the index's live slots would do.
    private func candidates(_ scope: SearchScope, _ view: IndexView, _ queries: [Float], _ which: [Int], count: Int,
                            parameters: SearchParameters, threads: Int, filter: CandidateFilter,
                            checkSlots: Bool) throws -> (found: [([IndexCandidate], IndexQueryOutcome)], stable: Bool) {
        let index = view.live.index
        let d = dimension
        var adjusted = parameters
        adjusted.ef = max(adjusted.ef, count)
        let sp = adjusted
        let txn = scope.txn
        let (found, stable) = try view.live.table.read(epoch: view.epoch) { visibility -> [([IndexCandidate], IndexQueryOutcome)] in
            // Unless a write newer than the snapshot freed slots, the index's own live slots hold
            // the visible ones (plus newer writes' slots, which have no id here and are dropped):
            // no per-candidate check in its search loop.
            let admit = visibility.showsEveryLiveSlot && !checkSlots ? nil : visibility
            var results = [([IndexCandidate], IndexQueryOutcome)](repeating: ([], IndexQueryOutcome()), count: which.count)
            if case .metadata(let filter) = filter {
                // The filter reads metadata from the snapshot, one query at a time.
                var failure: Error?
                let slotFilter: (UInt32) -> Bool = { s in
                    guard let id = visibility.id(of: s) else { return false }
                    do { return filter(id, try self.metadata(txn, id) ?? [:]) } catch { failure = error; return false }
                }
                try queries.withUnsafeBufferPointer { qb in
                    for (j, qi) in which.enumerated() {
                        let hits = try index.search(query: qb.baseAddress! + qi * d, k: count, parameters: sp,
                                                    visibility: admit, filter: slotFilter)
                        results[j].0 = visibility.candidates(hits)
                    }
                }
                if let failure { throw failure }
                return results
            }
            let nThreads = max(1, min(threads, which.count))
            let firstError = Mutex<Error?>(nil)
            if case .slots(let slotFilter) = filter {
                // A slot filter is searched inside the traversal, one query at a time.
                results.withUnsafeMutableBufferPointer { out in
                    queries.withUnsafeBufferPointer { qb in
                        let shared = UnsafeTransfer((out, qb, visibility, admit, slotFilter))
                        DispatchQueue.concurrentPerform(iterations: nThreads) { t in
                            let (out, qb, visibility, admit, slotFilter) = shared.value
                            var j = t
                            while j < which.count {
                                do {
                                    let r = try index.filteredSearch(query: qb.baseAddress! + which[j] * d, k: count, parameters: sp,
                                                                     visibility: admit, filter: slotFilter)
                                    let stats = IndexQueryOutcome(visited: r.visited, exhausted: r.exhausted, ef: r.ef, nprobe: r.nprobe)
                                    out[j] = (visibility.candidates(r.hits), stats)
                                } catch {
                                    firstError.withLock { if $0 == nil { $0 = error } }
                                }
                                j += nThreads
                            }
                        }
                    }
                }
                if let error = firstError.withLock({ $0 }) { throw error }
                return results
            }
            // No filter: blocks of queries (at most the index's block size, at least one per thread)
            // go to the index together.
            let blockSize = max(1, min(index.batchBlockSize, (which.count + nThreads - 1) / nThreads))
            let blocks = (which.count + blockSize - 1) / blockSize
            results.withUnsafeMutableBufferPointer { out in
                queries.withUnsafeBufferPointer { qb in
                    let shared = UnsafeTransfer((out, qb, visibility, admit))
                    DispatchQueue.concurrentPerform(iterations: min(nThreads, blocks)) { t in
                        let (out, qb, visibility, admit) = shared.value
                        var b = t
                        while b < blocks {
                            let range = (b * blockSize)..<min(which.count, (b + 1) * blockSize)
                            do {
                                let found = try index.search(queries: range.map { qb.baseAddress! + which[$0] * d }, k: count,
                                                             parameters: sp, visibility: admit)
                                for (o, j) in range.enumerated() {
                                    out[j].0 = visibility.candidates(found[o])
                                }
                            } catch {
                                firstError.withLock { if $0 == nil { $0 = error } }
                            }
                            b += min(nThreads, blocks)
                        }
                    }
                }
            }
            if let error = firstError.withLock({ $0 }) { throw error }
            return results
        }
        return (found, stable)
    }

    /// The refine stage: exact scores of candidate slots from the snapshot's stored vectors,
    /// best `k` first, with the ids read from the blocks (a slot the snapshot does not hold is
    /// dropped; `filter`, when given, is applied to those ids). Reads only the blocks the
    /// candidates are in, each once.
    func rescore(_ txn: ReadTxn, _ query: UnsafePointer<Float>, _ candidates: [IndexCandidate], k: Int,
                 filter: CandidateFilter) throws -> [(score: Float, id: UInt64)] {
        var top = TopK(k: k)
        let d = dimension, B = UInt32(slotsPerBlock)
        var blockNumber = UInt32.max
        var block: UnsafeRawBufferPointer?
        var aligned = [Float](repeating: 0, count: d)
        for c in candidates.sorted(by: { $0.slot < $1.slot }) {
            let b = c.slot / B, o = Int(c.slot % B)
            if b != blockNumber {
                blockNumber = b
                block = try txn.get(txn.dbis.blocks, Keys.block(cid, b))
                if let got = block { try verifyBlock(b, got) }
            }
            guard let block, let base = block.baseAddress else { continue }
            let id = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: o * 8, as: UInt64.self))
            if id == emptySlotID { continue }
            switch filter {
            case .none: break
            case .metadata(let f): if !f(id, try metadata(txn, id) ?? [:]) { continue }
            case .slots(let f): if !f.contains(c.slot) { continue }
            }
            let row = base + rowsOffset + o * d * 4
            let score: Float
            if Int(bitPattern: row) % 4 == 0 {
                score = kernel.score(query, row.assumingMemoryBound(to: Float.self), dim: d)
            } else {
                score = aligned.withUnsafeMutableBytes { a in
                    a.copyMemory(from: UnsafeRawBufferPointer(start: row, count: d * 4))
                    return kernel.score(query, a.baseAddress!.assumingMemoryBound(to: Float.self), dim: d)
                }
            }
            top.push(score: score, id: id)
        }
        return top.sorted()
    }
}

extension SlotVisibility {
    /// An index's hits with the ids this visibility maps their slots to (`emptySlotID` for a
    /// slot it does not map).
    func candidates(_ hits: [(score: Float, slot: UInt32)]) -> [IndexCandidate] {
        hits.map { IndexCandidate(score: $0.score, slot: $0.slot, id: id(of: $0.slot) ?? emptySlotID) }
    }
}
