import Foundation
import Testing
import CVDBKernels
@testable import VDBCore

/// A subset of the ann-dev set (`../shared/data/ann-dev` or `$VDB_ANN_DEV`) with exact ground truth
/// computed here by brute force. Loaded once per process.
final class ANNDevSubset: @unchecked Sendable {
    // Immutable after init.
    static let baseCount = 5000
    static let queryCount = 200
    static let directory: String? = {
        if let env = ProcessInfo.processInfo.environment["VDB_ANN_DEV"], FileManager.default.fileExists(atPath: env + "/base.fvecs") {
            return env
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/data/ann-dev").path
        return FileManager.default.fileExists(atPath: dir + "/base.fvecs") ? dir : nil
    }()
    static var available: Bool { directory != nil }
    static let shared: ANNDevSubset? = directory.flatMap { try? ANNDevSubset(directory: $0) }

    let dim: Int
    /// Raw vectors (for l2) and L2-normalized ones (for ip), row-major.
    let baseL2: [Float], baseIP: [Float]
    let queriesL2: [Float], queriesIP: [Float]

    init(directory: String) throws {
        func read(_ name: String, rows: Int) throws -> (Int, [Float]) {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            return data.withUnsafeBytes { raw -> (Int, [Float]) in
                let d = Int(raw.load(as: Int32.self))
                let n = min(rows, raw.count / (4 + 4 * d))
                var out = [Float](repeating: 0, count: n * d)
                for r in 0..<n {
                    for j in 0..<d { out[r * d + j] = raw.loadUnaligned(fromByteOffset: r * (4 + 4 * d) + 4 + 4 * j, as: Float.self) }
                }
                return (d, out)
            }
        }
        let (d, b) = try read("base.fvecs", rows: Self.baseCount)
        let (_, q) = try read("query.fvecs", rows: Self.queryCount)
        dim = d
        baseL2 = b
        queriesL2 = q
        func normalized(_ x: [Float]) -> [Float] {
            var y = x
            for r in 0..<(x.count / d) {
                var s: Float = 0
                for j in 0..<d { s += x[r * d + j] * x[r * d + j] }
                let n = s.squareRoot()
                for j in 0..<d { y[r * d + j] = x[r * d + j] / n }
            }
            return y
        }
        baseIP = normalized(b)
        queriesIP = normalized(q)
    }

    var baseRows: Int { baseL2.count / dim }
    var queryRows: Int { queriesL2.count / dim }

    func base(_ m: KernelMetric) -> [Float] { m == .l2 ? baseL2 : baseIP }
    func queries(_ m: KernelMetric) -> [Float] { m == .l2 ? queriesL2 : queriesIP }

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

/// Builds an index of type `I` over rows 0..<rows of the subset (slot = row).
func buildIndex<I: VectorIndex>(_ type: I.Type, _ data: ANNDevSubset, _ metric: KernelMetric, _ params: IndexParameters,
                                rows: Int? = nil, records: InMemoryIndexRecords) throws -> I {
    let n = rows ?? data.baseRows
    let slots = (0..<UInt32(n)).map { $0 }
    let vectors = Array(data.base(metric)[0..<(n * data.dim)])
    return try slots.withUnsafeBufferPointer { s in
        try vectors.withUnsafeBufferPointer { v in
            try I.build(dimension: data.dim, metric: metric, parameters: params, slots: s, vectors: v, writer: records, progress: nil)
        }
    }
}

/// Top-k slots of every query.
func searchAll(_ index: any VectorIndex, _ data: ANNDevSubset, _ metric: KernelMetric, k: Int = 10,
               _ sp: SearchParameters, filter: ((UInt32) -> Bool)? = nil) throws -> [[(score: Float, slot: UInt32)]] {
    let q = data.queries(metric)
    return try q.withUnsafeBufferPointer { qb in
        try (0..<data.queryRows).map { i in
            try index.search(query: qb.baseAddress! + i * data.dim, k: k, parameters: sp, filter: filter)
        }
    }
}

func slotsOf(_ r: [[(score: Float, slot: UInt32)]]) -> [[UInt32]] { r.map { $0.map(\.slot) } }

/// Adds rows `rows` of the subset (slot = row) to `index`.
func addRows(_ index: any VectorIndex, _ data: ANNDevSubset, _ metric: KernelMetric, _ rows: [Int], writer: IndexRecordWriter) throws {
    let slots = rows.map { UInt32($0) }
    let b = data.base(metric)
    var v = [Float]()
    v.reserveCapacity(rows.count * data.dim)
    for r in rows { v.append(contentsOf: b[(r * data.dim)..<((r + 1) * data.dim)]) }
    try slots.withUnsafeBufferPointer { s in
        try v.withUnsafeBufferPointer { vb in try index.add(slots: s, vectors: vb, writer: writer) }
    }
}

/// Unit tests of the pieces the indexes are built from (no dataset needed).
@Suite struct IndexKernelTests {
    @Test func packedScoresOrderLikeFloats() {
        let values: [Float] = [-.infinity, -1e30, -3.5, -1, -0.0, 0, 1e-30, 1, 2.25, 1e30, .infinity]
        for a in values {
            for b in values where a < b {
                #expect(packScore(a, 7) < packScore(b, 1), "\(a) < \(b)")
            }
            #expect(unpackScore(packScore(a, 3)) == a)
        }
        #expect(packScore(1, 2) < packScore(1, 3))
        #expect(unpackSlot(packScore(-2, 12345)) == 12345)
    }

    @Test func heapsSelectTheSmallest() {
        var rng = SplitMix64(seed: 9)
        let scores = (0..<500).map { _ in Float(Int(rng.next() % 100)) }
        let buf = UnsafeMutablePointer<UInt64>.allocate(capacity: 600)
        defer { buf.deallocate() }
        var top = MaxHeap(buf)
        for (i, s) in scores.enumerated() {
            let key = packScore(s, UInt32(i))
            if top.count < 10 { top.push(key) } else if key < top.top { top.replaceTop(key) }
        }
        let got = top.drainSorted().map(\.slot)
        let want = scores.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.prefix(10).map { UInt32($0.offset) }
        #expect(got == Array(want))
        var mh = MinHeap(buf)
        for (i, s) in scores.enumerated() { mh.push(packScore(s, UInt32(i))) }
        var prev: UInt64 = 0
        while mh.count > 0 { let v = mh.pop(); #expect(v >= prev); prev = v }
    }

    @Test func recordStoreIteratesPrefixInKeyOrder() throws {
        let r = InMemoryIndexRecords()
        for k in [RecordKey.make(76, 2, 0), RecordKey.make(76, 1, 1), RecordKey.make(76, 1, 0), RecordKey.make(77)] {
            try [UInt8](k).withUnsafeBytes { try r.put(k, $0) }
        }
        var seen: [[UInt8]] = []
        try r.forEach(prefix: [76]) { k, v in seen.append(k); #expect(Array(v) == k) }
        #expect(seen == [RecordKey.make(76, 1, 0), RecordKey.make(76, 1, 1), RecordKey.make(76, 2, 0)])
        try r.delete(RecordKey.make(77))
        #expect(try r.get(RecordKey.make(77)) == nil)
        #expect(r.recordCount == 3)
    }
}
