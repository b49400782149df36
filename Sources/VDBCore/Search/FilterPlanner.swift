// Filtered search: evaluate the filter into a bitset of slots (indexed fields from the metadata
// index, other keys by one scan of the metadata), count it, and choose the path: an exact scan of
// the matches when they are few, else the index with the bitset checked inside its traversal,
// falling back to the exact scan when the index would do more work than that or returns fewer
// than k results. See Docs/architecture.md, "Filtered search".

import CVDBKernels
import Dispatch
import VDBSupport

/// How a filtered search ran (``Collection/searchExplained(contiguous:k:parameters:where:)``,
/// `vdb search --explain`, the `plan` field of `vdb search --json`).
public struct SearchPlan: Sendable, Hashable, Codable {
    /// The path a search took.
    public enum Path: String, Sendable, Codable {
        /// No filter: the index (or the exact scan when there is none) as usual.
        case unfiltered
        /// Exact distances to every matching vector (few matches, or no index).
        case exact
        /// The index, with the filter checked inside its traversal.
        case index
        /// The index first, then the exact scan of the matches (`fallback` says why).
        case indexThenExact = "index_then_exact"
    }

    public var path: Path
    /// The index kind of the collection (`flat` when it has none built).
    public var index: IndexKind
    /// Matches expected from each condition's count as if the conditions were independent
    /// (nil without a filter). Far from `matches` when conditions are correlated.
    public var estimatedMatches: Int?
    /// Vectors the filter admits, counted exactly on the metadata index (nil without a filter).
    public var matches: Int?
    /// Vectors in the collection.
    public var vectors: Int
    /// Up to this many matches, the matches are scanned exactly.
    public var exactThreshold: Int
    /// Distances the index computed (index paths; 0 when the index does not count them).
    public var nodesVisited: Int?
    /// Vectors scored by the exact scan (exact paths).
    public var vectorsScored: Int?
    /// HNSW: the candidate list size used; IVF: the lists scanned.
    public var ef: Int?
    public var nprobe: Int?
    /// Why an index search was followed by the exact scan.
    public var fallback: String?
    /// Keys that are not indexed fields, evaluated by reading every vector's metadata.
    public var scannedKeys: [String]

    /// A one-line summary, as `vdb search --explain` prints it.
    public var summary: String {
        var parts = ["path \(path.rawValue)", "index \(index)"]
        if let matches {
            parts.append("matches \(matches) of \(vectors)")
            if let estimatedMatches { parts.append("estimated \(estimatedMatches)") }
            parts.append("exact up to \(exactThreshold) matches")
        }
        if let nodesVisited { parts.append("visited \(nodesVisited)") }
        if let ef { parts.append("ef \(ef)") }
        if let nprobe { parts.append("nprobe \(nprobe)") }
        if let vectorsScored { parts.append("scored \(vectorsScored)") }
        if let fallback { parts.append("fallback: \(fallback)") }
        if !scannedKeys.isEmpty { parts.append("scanned metadata for \(scannedKeys.joined(separator: ", "))") }
        return parts.joined(separator: ", ")
    }
}

/// A filter evaluated on one snapshot.
struct FilterEvaluation {
    var matches: SlotBitset
    var count: Int
    var estimated: Int
    var scannedKeys: [String]
}

/// Evaluates a ``Filter`` into the set of slots it admits in one snapshot.
struct FilterEvaluator {
    let collection: Collection
    let txn: ReadTxn
    let state: CollectionState
    let schema: FieldSchema

    /// A filter as a boolean expression over leaves (conditions on one key).
    indirect enum Expr {
        case leaf(Int)
        case and([Expr])
        case or([Expr])
        case not(Expr)
    }

    struct Leaf {
        enum Test {
            case present
            case match([MetadataValue])
            case range(NumericRange)
        }
        var key: String
        var test: Test
    }

    private var leaves: [Leaf] = []
    private var live: SlotBitset?

    init(collection: Collection, txn: ReadTxn, state: CollectionState, schema: FieldSchema) {
        self.collection = collection
        self.txn = txn
        self.state = state
        self.schema = schema
    }

    private mutating func leaf(_ key: String, _ test: Leaf.Test) -> Expr {
        leaves.append(Leaf(key: key, test: test))
        return .leaf(leaves.count - 1)
    }

    private mutating func expr(_ f: Filter) -> Expr {
        var parts = f.must.map { expr($0) }
        if !f.should.isEmpty { parts.append(.or(f.should.map { expr($0) })) }
        if !f.mustNot.isEmpty { parts.append(.not(.or(f.mustNot.map { expr($0) }))) }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    private mutating func expr(_ c: FilterCondition) -> Expr {
        switch c {
        case let .match(key, .value(v)): return leaf(key, .match([v]))
        case let .match(key, .any(vs)): return leaf(key, .match(vs))
        case let .match(key, .except(vs)): return .and([leaf(key, .present), .not(leaf(key, .match(vs)))])
        case let .range(key, r): return leaf(key, .range(r.numeric))
        case let .isNull(key): return .not(leaf(key, .present))
        case let .filter(f): return expr(f)
        }
    }

    /// Whether the metadata index answers `leaf` (else the metadata is scanned for it).
    private func indexed(_ leaf: Leaf) -> IndexedField? {
        guard let f = schema.field(named: leaf.key) else { return nil }
        if case .range = leaf.test, f.type == .keyword { return nil }
        return f
    }

    /// The slots `filter` admits, their count, and the independence estimate.
    mutating func evaluate(_ filter: Filter) throws -> FilterEvaluation {
        leaves = []
        let root = expr(filter)
        let slots = Int(state.highSlot)
        let reader = MetadataIndexReader(txn: txn, cid: collection.cid, slots: slots)
        var sets = [SlotBitset?](repeating: nil, count: leaves.count)
        var scanned: [Int] = []
        for (i, l) in leaves.enumerated() {
            guard let f = indexed(l) else { scanned.append(i); continue }
            switch l.test {
            case .present:
                sets[i] = try reader.present(f)
            case .match(let values):
                let converted = values.compactMap { f.type.comparable($0) }
                if f.type == .keyword {
                    sets[i] = try reader.keyword(f, values: converted.compactMap { if case .keyword(let t) = $0 { return t } else { return nil } })
                } else {
                    let raws = Set(converted.compactMap(MetadataIndexCodec.raw))
                    let doubles: [Double] = f.type == .int ? [] : converted.compactMap { if case .double(let d) = $0 { return d } else { return nil } }
                    sets[i] = try reader.column(f) { raw in
                        // Floats compare as numbers (0.0 equals -0.0), ints bit for bit.
                        raws.contains(raw) || doubles.contains(Double(bitPattern: raw))
                    }
                }
            case .range(let r):
                let type = f.type
                sets[i] = try reader.column(f) { raw in r.contains(MetadataIndexCodec.number(raw, type)) }
            }
        }
        if !scanned.isEmpty { try scan(scanned, into: &sets, slots: slots) }
        let n = Double(state.count)
        func estimate(_ e: Expr) -> Double {
            switch e {
            case .leaf(let i): return n > 0 ? Double(sets[i]?.count ?? 0) / n : 0
            case .and(let es): return es.reduce(1) { $0 * estimate($1) }
            case .or(let es): return 1 - es.reduce(1) { $0 * (1 - estimate($1)) }
            case .not(let e): return 1 - estimate(e)
            }
        }
        let result = try combine(root, sets, slots: slots)
        let keys = scanned.map { leaves[$0].key }
        var uniqueKeys: [String] = []
        for k in keys where !uniqueKeys.contains(k) { uniqueKeys.append(k) }
        return FilterEvaluation(matches: result, count: result.count, estimated: Int((estimate(root) * n).rounded()),
                                scannedKeys: uniqueKeys)
    }

    /// One pass over every vector's metadata, evaluating the leaves `which` (keys without an index).
    private func scan(_ which: [Int], into sets: inout [SlotBitset?], slots: Int) throws {
        var keys: [String] = []
        for i in which where !keys.contains(leaves[i].key) { keys.append(leaves[i].key) }
        let wanted = keys.map { Array($0.utf8) }
        let keyOf = which.map { keys.firstIndex(of: leaves[$0].key)! }
        let types = which.map { schema.field(named: leaves[$0].key)?.type }
        var found = [SlotBitset](repeating: SlotBitset(slots: slots), count: which.count)
        var values = [MetadataValue?](repeating: nil, count: keys.count)
        try collection.forEachMetadataRecord(txn) { _, slot, record in
            for i in 0..<values.count { values[i] = nil }
            try MetadataCodec.forEachValue(record, of: wanted) { i, v in values[i] = v }
            for (j, li) in which.enumerated() {
                guard let v = values[keyOf[j]] else { continue }
                let hit: Bool
                switch leaves[li].test {
                case .present: hit = true
                case .match(let vs): hit = FilterMatch.any(vs).matches(v, types[j])
                case .range(let r): hit = FilterRange.number(v, types[j]).map { r.contains($0) } ?? false
                }
                if hit { found[j].insert(slot) }
            }
        }
        for (j, li) in which.enumerated() { sets[li] = found[j] }
    }

    private mutating func combine(_ e: Expr, _ sets: [SlotBitset?], slots: Int) throws -> SlotBitset {
        switch e {
        case .leaf(let i):
            return sets[i] ?? SlotBitset(slots: slots)
        case .and(let es):
            guard let first = es.first else { return try liveSlots(slots) }
            var out = try combine(first, sets, slots: slots)
            for e in es.dropFirst() { out.formIntersection(try combine(e, sets, slots: slots)) }
            return out
        case .or(let es):
            var out = SlotBitset(slots: slots)
            for e in es { out.formUnion(try combine(e, sets, slots: slots)) }
            return out
        case .not(let e):
            var out = try liveSlots(slots)
            out.subtract(try combine(e, sets, slots: slots))
            return out
        }
    }

    /// The slots holding a vector in the snapshot (read once, from the blocks' id headers).
    private mutating func liveSlots(_ slots: Int) throws -> SlotBitset {
        if let live { return live }
        var out = SlotBitset(slots: slots)
        try collection.forEachBlock(txn, state: state) { first, n, ids, _ in
            for o in 0..<n where ids[o] != emptySlotID { out.insert(first + UInt32(o)) }
        }
        live = out
        return out
    }
}

extension Collection {
    /// Searches prepared `queries` with `filter` in `scope` (see the top of this file). All
    /// queries share one evaluation of the filter; each query reports its own plan.
    func filteredSearch(_ scope: SearchScope, _ queries: [Float], nq: Int, k: Int, parameters: SearchParameters,
                        threads: Int, filter: Filter) throws -> [(top: [(score: Float, id: UInt64)], plan: SearchPlan)] {
        let txn = scope.txn, st = scope.state
        var evaluator = FilterEvaluator(collection: self, txn: txn, state: st, schema: try schema(txn))
        let eval = try evaluator.evaluate(filter)
        let threshold = max(0, parameters.filterExactThreshold)
        var plan = SearchPlan(path: .exact, index: scope.index?.live.index.kind ?? .flat, estimatedMatches: eval.estimated,
                              matches: eval.count, vectors: Int(st.count), exactThreshold: threshold,
                              scannedKeys: eval.scannedKeys)
        guard eval.count > 0 else {
            plan.vectorsScored = 0
            return Array(repeating: ([], plan), count: nq)
        }
        guard let view = scope.index, eval.count > threshold else {
            plan.vectorsScored = eval.count
            return try exactSearch(scope, queries, which: Array(0..<nq), k: k, matches: eval.matches, threads: threads).map { ($0, plan) }
        }
        let outcomes = try eval.matches.withFilter(matches: eval.count, live: Int(st.count)) { f in
            try indexSearch(scope, view, queries, nq: nq, k: k, parameters: parameters, threads: threads, filter: .slots(f))
        }
        var results: [(top: [(score: Float, id: UInt64)], plan: SearchPlan)] = []
        var fallback: [Int] = []
        for (qi, o) in outcomes.enumerated() {
            var p = plan
            p.path = .index
            p.nodesVisited = o.visited
            p.ef = o.ef
            p.nprobe = o.nprobe
            if o.exhausted || o.top.count < min(k, eval.count) {
                p.path = .indexThenExact
                p.fallback = o.exhausted ? "the index search would visit more vectors than match"
                                         : "the index search found \(o.top.count) of \(min(k, eval.count)) results"
                p.vectorsScored = eval.count
                fallback.append(qi)
            }
            results.append((o.top, p))
        }
        if !fallback.isEmpty {
            let exact = try exactSearch(scope, queries, which: fallback, k: k, matches: eval.matches, threads: threads)
            for (j, qi) in fallback.enumerated() { results[qi].top = exact[j] }
        }
        return results
    }

    /// Exact top-k of the queries `which` among the slots of `matches`. A batch of
    /// ``filteredBatchQueries`` queries or more goes through the sgemm path of ``flatBatch(views:cacheEpoch:_:nq:k:threads:matches:)``
    /// on the gathered matches; fewer go through ``exactScan(_:_:_:which:k:matches:threads:)``.
    func exactSearch(_ scope: SearchScope, _ queries: [Float], which: [Int], k: Int,
                     matches: SlotBitset, threads: Int) throws -> [[(score: Float, id: UInt64)]] {
        let d = dimension
        if which.count >= Self.filteredBatchQueries, let views = try blockViews(scope.txn, scope.state) {
            // `which` is ascending and distinct: all of the queries need no copy.
            var q = queries
            if which.count * d != queries.count {
                q = []
                q.reserveCapacity(which.count * d)
                for qi in which { q.append(contentsOf: queries[(qi * d)..<((qi + 1) * d)]) }
            }
            return flatBatch(views: views, cacheEpoch: scope.cacheEpoch, q, nq: which.count, k: k, threads: threads, matches: matches)
        }
        return try exactScan(scope.txn, scope.state, queries, which: which, k: k, matches: matches, threads: threads)
    }

    /// From this many queries a filtered exact search scores the matches with sgemm (measured
    /// on ann-dev at 50% selectivity, 1,000 queries: FLAT filtered went from 6-7x slower than
    /// unfiltered to about the same).
    static let filteredBatchQueries = 8

    /// Exact top-k of the queries `which` among the slots of `matches`, query by query: each block
    /// holding a match is read once, in place; a block that is mostly matches (80% or more) is
    /// scored with the batch kernel, any other match by match (measured: the batch kernel is only
    /// about 15% faster per row). Queries run on `threads` threads.
    func exactScan(_ txn: ReadTxn, _ st: CollectionState, _ queries: [Float], which: [Int], k: Int,
                   matches: SlotBitset, threads: Int) throws -> [[(score: Float, id: UInt64)]] {
        struct Run {
            var rows: UnsafePointer<Float>
            var ids: UnsafePointer<UInt64>
            var n: Int
            var offsets: [Int32]
            var dense: Bool
        }
        let B = slotsPerBlock, d = dimension
        let high = Int(st.highSlot)
        var runs: [Run] = []
        var copies: [UnsafeMutableRawPointer] = []
        defer { for c in copies { c.deallocate() } }
        for b in 0..<((high + B - 1) / B) {
            let lo = b * B, hi = min(high, lo + B)
            let c = matches.count(in: lo..<hi)
            if c == 0 { continue }
            guard let block = try txn.get(txn.dbis.blocks, Keys.block(cid, UInt32(b))), var base = block.baseAddress else { continue }
            try verifyBlock(UInt32(b), block)
            if Int(bitPattern: base) % 8 != 0 {
                let copy = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 16)
                copy.copyMemory(from: base, byteCount: blockBytes)
                copies.append(copy)
                base = UnsafeRawPointer(copy)
            }
            var offsets: [Int32] = []
            offsets.reserveCapacity(c)
            for s in lo..<hi where matches.contains(UInt32(s)) { offsets.append(Int32(s - lo)) }
            runs.append(Run(rows: (base + rowsOffset).assumingMemoryBound(to: Float.self),
                            ids: base.assumingMemoryBound(to: UInt64.self), n: hi - lo, offsets: offsets,
                            dense: 5 * c >= 4 * (hi - lo)))
        }
        let kernel = self.kernel
        var out = [[(score: Float, id: UInt64)]](repeating: [], count: which.count)
        out.withUnsafeMutableBufferPointer { results in
            queries.withUnsafeBufferPointer { qb in
                let shared = UnsafeTransfer((results, qb, runs))
                parallelFor(count: which.count, threads: threads) { j in
                    let (results, qb, runs) = shared.value
                    let query = qb.baseAddress! + which[j] * d
                    var top = TopK(k: k)
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: B)
                    defer { scores.deallocate() }
                    for r in runs {
                        if r.dense {
                            if kernel == .l2 {
                                vdb_l2sq_batch(query, r.rows, r.n, d, scores)
                            } else {
                                vdb_ip_batch(query, r.rows, r.n, d, scores)
                                vdb_scores_from_ip(scores, r.n, 0, nil, 0)
                            }
                            for o in r.offsets {
                                let id = UInt64(littleEndian: r.ids[Int(o)])
                                if id != emptySlotID { top.push(score: scores[Int(o)], id: id) }
                            }
                        } else {
                            for o in r.offsets {
                                let id = UInt64(littleEndian: r.ids[Int(o)])
                                if id != emptySlotID { top.push(score: kernel.score(query, r.rows + Int(o) * d, dim: d), id: id) }
                            }
                        }
                    }
                    results[j] = top.sorted()
                }
            }
        }
        return out
    }
}
