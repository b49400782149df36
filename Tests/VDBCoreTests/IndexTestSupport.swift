import Foundation
import Testing
@testable import VDBCore
import VDBSupport

/// The data the index tests run on: seeded synthetic vectors that look like embeddings (a
/// mixture of Gaussian clusters of different spreads, not uniform noise), with queries from the
/// same mixture and exact ground truth by brute force. Identical on every machine; built once
/// per process.
final class IndexTestSet: Sendable {
    static let baseCount = 4000
    static let queryCount = 200
    static let shared = IndexTestSet(dim: 32, clusters: 48, seed: 20251130)

    let dim: Int
    /// Raw vectors (for l2) and L2-normalized ones (for ip), row-major.
    let baseL2: [Float], baseIP: [Float]
    let queriesL2: [Float], queriesIP: [Float]

    init(dim: Int, clusters: Int, seed: UInt64, base: Int = IndexTestSet.baseCount, queries: Int = IndexTestSet.queryCount) {
        var rng = SplitMix64(seed: seed)
        func gaussian() -> Float {
            let u1 = (Double(rng.next() >> 11) + 1) / Double(1 << 53)
            let u2 = Double(rng.next() >> 11) / Double(1 << 53)
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        let centers = (0..<(clusters * dim)).map { _ in gaussian() }
        let spreads = (0..<clusters).map { _ in 0.25 + Float(rng.next() % 1000) / 1000 * 0.5 }
        func sample(_ n: Int) -> [Float] {
            var out = [Float]()
            out.reserveCapacity(n * dim)
            for _ in 0..<n {
                let c = Int(rng.next() % UInt64(clusters))
                for j in 0..<dim { out.append(centers[c * dim + j] + spreads[c] * gaussian()) }
            }
            return out
        }
        self.dim = dim
        baseL2 = sample(base)
        queriesL2 = sample(queries)
        baseIP = Self.normalized(baseL2, dim)
        queriesIP = Self.normalized(queriesL2, dim)
    }

    static func normalized(_ x: [Float], _ d: Int) -> [Float] {
        var y = x
        for r in 0..<(x.count / d) {
            var s: Float = 0
            for j in 0..<d { s += x[r * d + j] * x[r * d + j] }
            let n = s.squareRoot()
            for j in 0..<d { y[r * d + j] = x[r * d + j] / n }
        }
        return y
    }

    var baseRows: Int { baseL2.count / dim }
    var queryRows: Int { queriesL2.count / dim }

    func base(_ m: KernelMetric) -> [Float] { m == .l2 ? baseL2 : baseIP }
    func queries(_ m: KernelMetric) -> [Float] { m == .l2 ? queriesL2 : queriesIP }
    /// Row `i` of the base vectors.
    func row(_ m: KernelMetric, _ i: Int) -> [Float] { Array(base(m)[(i * dim)..<((i + 1) * dim)]) }
    /// The base vectors as an index `load` reads them (slot = row).
    func vectors(_ m: KernelMetric) -> ContiguousSlotVectors { ContiguousSlotVectors(vectors: base(m), dimension: dim) }

    /// Exact top-k slots of each query over the given rows (slot = row), excluding `excluded`.
    func groundTruth(_ m: KernelMetric, k: Int = 10, rows: Int? = nil, excluded: Set<UInt32> = [],
                     filter: ((UInt32) -> Bool)? = nil) -> [[UInt32]] {
        let b = base(m), q = queries(m)
        let n = rows ?? baseRows
        return b.withUnsafeBufferPointer { bb in
            q.withUnsafeBufferPointer { qb in
                (0..<queryRows).map { i in
                    var top = TopK(k: k)
                    for r in 0..<n where !excluded.contains(UInt32(r)) && (filter?(UInt32(r)) ?? true) {
                        top.push(score: m.score(qb.baseAddress! + i * dim, bb.baseAddress! + r * dim, dim: dim), id: UInt64(r))
                    }
                    return top.sorted().map { UInt32($0.id) }
                }
            }
        }
    }
}

/// recall@k of `results` against `truth`.
func recall(_ results: [[UInt32]], _ truth: [[UInt32]]) -> Double {
    var hits = 0, total = 0
    for (r, t) in zip(results, truth) {
        hits += Set(r).intersection(t).count
        total += t.count
    }
    return total == 0 ? 0 : Double(hits) / Double(total)
}

/// Builds an index of type `I` over rows 0..<rows of the set (slot = row) and checks its invariants.
func buildIndex<I: VectorIndex>(_ type: I.Type, _ data: IndexTestSet, _ metric: KernelMetric, _ params: IndexParameters,
                                rows: Int? = nil, records: InMemoryIndexRecords) throws -> I {
    let n = rows ?? data.baseRows
    let slots = (0..<UInt32(n)).map { $0 }
    let vectors = Array(data.base(metric)[0..<(n * data.dim)])
    let index = try slots.withUnsafeBufferPointer { s in
        try vectors.withUnsafeBufferPointer { v in
            try I.build(dimension: data.dim, metric: metric, parameters: params, slots: s, vectors: v, writer: records, progress: nil)
        }
    }
    try index.checkInvariants(liveSlots: Set(slots))
    return index
}

/// Reopens an index from its records and the set's vectors, and checks its invariants.
func reload<I: VectorIndex>(_ type: I.Type, _ data: IndexTestSet, _ metric: KernelMetric, _ params: IndexParameters,
                            records: InMemoryIndexRecords, live: Set<UInt32>? = nil) throws -> I {
    let index = try I.load(dimension: data.dim, metric: metric, parameters: params, records: records, vectors: data.vectors(metric))
    try index.checkInvariants(liveSlots: live)
    return index
}

/// Top-k slots of every query (no visibility: the index's own live slots).
func searchAll(_ index: any VectorIndex, _ data: IndexTestSet, _ metric: KernelMetric, k: Int = 10,
               _ sp: SearchParameters, filter: ((UInt32) -> Bool)? = nil) throws -> [[(score: Float, slot: UInt32)]] {
    let q = data.queries(metric)
    return try q.withUnsafeBufferPointer { qb in
        try (0..<data.queryRows).map { i in
            try index.search(query: qb.baseAddress! + i * data.dim, k: k, parameters: sp, visibility: nil, filter: filter)
        }
    }
}

func slotsOf(_ r: [[(score: Float, slot: UInt32)]]) -> [[UInt32]] { r.map { $0.map(\.slot) } }

/// Adds rows `rows` of the set (slot = row) to `index`, then checks its invariants against `live`.
func addRows(_ index: any VectorIndex, _ data: IndexTestSet, _ metric: KernelMetric, _ rows: [Int], writer: IndexRecordWriter,
             live: Set<UInt32>? = nil) throws {
    let slots = rows.map { UInt32($0) }
    let b = data.base(metric)
    var v = [Float]()
    v.reserveCapacity(rows.count * data.dim)
    for r in rows { v.append(contentsOf: b[(r * data.dim)..<((r + 1) * data.dim)]) }
    try slots.withUnsafeBufferPointer { s in
        try v.withUnsafeBufferPointer { vb in try index.add(slots: s, vectors: vb, writer: writer) }
    }
    try index.checkInvariants(liveSlots: live)
}

/// Removes slots from `index` as storage does (remove, then the commit), then checks its invariants.
func removeSlots(_ index: any VectorIndex, _ slots: [UInt32], writer: IndexRecordWriter, live: Set<UInt32>? = nil) throws {
    try index.remove(slots: slots, writer: writer)
    try index.checkInvariants(liveSlots: nil)
    index.didCommit()
    try index.checkInvariants(liveSlots: live)
}
