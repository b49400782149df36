import Foundation
import Testing
@testable import VDBCore

/// A tiny exact index used only to test the storage <-> index seam: it keeps slot -> vector in
/// memory and persists one record per slot (key = slot big-endian, value = the floats).
final class RecordingIndex: VectorIndex, @unchecked Sendable {  // state guarded by `lock`
    let kind: IndexKind = .hnsw
    let parameters: IndexParameters
    let dimension: Int
    let metric: KernelMetric
    private let lock = NSLock()
    private var vectors: [UInt32: [Float]] = [:]
    /// Set by tests to make the next `add` on a 4-d index fail (an index error mid-transaction).
    nonisolated(unsafe) static var failNextAdd = false

    init(dimension: Int, metric: KernelMetric, parameters: IndexParameters) {
        self.dimension = dimension
        self.metric = metric
        self.parameters = parameters
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return vectors.count }
    var memoryBytes: Int { count * dimension * 4 }

    /// "S" + slot (big-endian): odd-length keys, so LMDB leaves the values 2-byte aligned.
    static func key(_ s: UInt32) -> [UInt8] { [0x53] + withUnsafeBytes(of: s.bigEndian) { Array($0) } }

    static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                      slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                      writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> RecordingIndex {
        guard !slots.isEmpty else { throw VDBError.invalidArgument("cannot build an index over no vectors") }
        let idx = RecordingIndex(dimension: dimension, metric: metric, parameters: parameters)
        try idx.add(slots: slots, vectors: vectors, writer: writer)
        progress?(1)
        return idx
    }

    static func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                     reader: IndexRecordReader) throws -> RecordingIndex {
        let idx = RecordingIndex(dimension: dimension, metric: metric, parameters: parameters)
        try reader.forEach(prefix: []) { key, value in
            // Storage promises 8-byte-aligned record buffers (LMDB itself aligns small values to 2).
            #expect(Int(bitPattern: value.baseAddress) % 8 == 0)
            let slot = key.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 1, as: UInt32.self)) }
            idx.vectors[slot] = Array(value.bindMemory(to: Float.self))
        }
        return idx
    }

    func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws {
        if RecordingIndex.failNextAdd && dimension == 4 {  // only the 4-d test collection fails
            RecordingIndex.failNextAdd = false
            // Change memory first, then fail: storage must discard this state.
            lock.lock(); self.vectors[slots[0]] = Array(repeating: 0, count: dimension); lock.unlock()
            throw VDBError.invalidArgument("injected index failure")
        }
        for (i, s) in slots.enumerated() {
            let v = Array(vectors[(i * dimension)..<((i + 1) * dimension)])
            try v.withUnsafeBytes { try writer.put(RecordingIndex.key(s), $0) }
            lock.lock(); self.vectors[s] = v; lock.unlock()
        }
    }

    func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        for s in slots {
            try writer.delete(RecordingIndex.key(s))
            lock.lock(); vectors[s] = nil; lock.unlock()
        }
    }

    /// For 5-d indexes: score with the exact vectors storage hands back (re-ranking path).
    nonisolated(unsafe) static var exactSource: Collection?
    nonisolated(unsafe) static var sawSnapshot = false

    func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        lock.lock()
        let snapshot = vectors
        lock.unlock()
        var top = TopK(k: k)
        if dimension == 5, let source = RecordingIndex.exactSource {
            RecordingIndex.sawSnapshot = SnapshotVectors.current != nil
            let slots = Array(snapshot.keys)
            try slots.withUnsafeBufferPointer { sp in
                try source.withVectors(slots: sp) { i, v in
                    if let v { top.push(score: metric.score(query, v, dim: dimension), id: UInt64(slots[i])) }
                }
            }
            return top.sorted().map { ($0.score, UInt32($0.id)) }
        }
        for (s, v) in snapshot where filter?(s) ?? true {
            top.push(score: v.withUnsafeBufferPointer { metric.score(query, $0.baseAddress!, dim: dimension) }, id: UInt64(s))
        }
        return top.sorted().map { ($0.score, UInt32($0.id)) }
    }
}

@Suite struct IndexSeamTests {
    @Test func indexIsBuiltUpdatedPersistedAndReloaded() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let types: [IndexKind: any VectorIndex.Type] = [.hnsw: RecordingIndex.self]
        let base = randomVectors(300, 8, seed: 11)
        do {
            let db = try Database(path: tmp.path, indexTypes: types)
            let c = try db.createCollection(name: "x", dimension: 8, metric: .l2, index: .hnsw)
            #expect(c.activeIndexKind == .flat)  // not built yet
            try c.insert(Array(base[0..<200]))
            try c.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8))
            #expect(c.activeIndexKind == .hnsw)
            try c.insert(Array(base[200..<300]))           // add through the index
            #expect(try c.delete(ids: [0, 1, 2]) == 3)     // remove through the index
            let info = try c.info()
            #expect(info.index == .hnsw && info.indexBuilt && info.parameters.m == 8)
            #expect(info.indexMemoryBytes == 297 * 8 * 4)
            // Index search agrees with the exact answer.
            let hits = try c.search(base[150], k: 5)
            let exact = bruteForce(Array(base[3...]), ids: (3..<300).map(UInt64.init), base[150], k: 5, metric: .l2)
            #expect(hits.map(\.id) == exact.map(\.0))
        }
        // A new Database (same process) loads the index from its records, without a build.
        let db = try Database(path: tmp.path, indexTypes: types)
        let c = try db.collection(named: "x")
        let hits = try c.search(base[299], k: 3)
        #expect(hits.first?.id == 299)
        #expect(try c.info().indexMemoryBytes == 297 * 8 * 4)
        // The built-in HNSW (the default implementation) cannot read this test index's records,
        // and says so with a clear error instead of crashing.
        let plain = try Database(path: tmp.path)
        #expect(throws: IndexError.self) { try plain.collection(named: "x").search(base[0], k: 1) }
        // Dropping the index goes back to exact search.
        try c.dropIndex()
        #expect(c.activeIndexKind == .flat)
        #expect(try c.info().indexMemoryBytes == 0)
        #expect(try c.search(base[299], k: 1).first?.id == 299)
    }

    @Test func failedWriteDiscardsIndexChanges() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path, indexTypes: [.hnsw: RecordingIndex.self])
        let c = try db.createCollection(name: "x", dimension: 4, metric: .ip)
        try c.insert([[1, 0, 0, 0], [0, 1, 0, 0]])
        try c.buildIndex(kind: .hnsw)
        RecordingIndex.failNextAdd = true
        #expect(throws: VDBError.invalidArgument("injected index failure")) { try c.insert([[0, 0, 1, 0]]) }
        #expect(try c.count() == 2)
        // The in-memory index was reloaded from LMDB: the failed slot is gone, old ones intact.
        #expect(try c.info().indexMemoryBytes == 2 * 4 * 4)
        #expect(try c.search([1, 0, 0, 0], k: 1).first?.id == 0)
        try c.insert([[0, 0, 1, 0]])
        #expect(try c.search([0, 0, 1, 0], k: 1).first?.id == 2)
    }

    @Test func exactVectorsForReRanking() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path, indexTypes: [.hnsw: RecordingIndex.self])
        let c = try db.createCollection(name: "r", dimension: 5, metric: .cosine)
        let base = randomVectors(40, 5, seed: 12)
        try c.insert(base)
        try c.delete(ids: [3])
        // Outside a search: its own read transaction; stored (normalized) vectors, nil when empty.
        var got: [[Float]?] = []
        try ([0, 3, 39, 4000] as [UInt32]).withUnsafeBufferPointer { sp in
            try c.withVectors(slots: sp) { _, v in got.append(v.map { Array(UnsafeBufferPointer(start: $0, count: 5)) }) }
        }
        let v0 = try c.get(id: 0)?.vector, v39 = try c.get(id: 39)?.vector
        #expect(got[0] == v0 && got[2] == v39)
        #expect(got[1] == nil && got[3] == nil)
        // Inside an index search: the search's own snapshot, published to the index's thread.
        try c.buildIndex(kind: .hnsw)
        RecordingIndex.exactSource = c
        defer { RecordingIndex.exactSource = nil }
        let hits = try c.search(base[17], k: 3)
        #expect(RecordingIndex.sawSnapshot)
        #expect(hits.first?.id == 17 && abs((hits.first?.distance ?? 0) - 1) < 1e-5)
        #expect(hits.map(\.id) == bruteForce(base, ids: (0..<40).map(UInt64.init), base[17], k: 4, metric: .cosine).map(\.0).filter { $0 != 3 }.prefix(3).map { $0 })
    }
}
