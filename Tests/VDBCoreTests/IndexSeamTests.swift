import Foundation
import Synchronization
import Testing
@testable import VDBCore

/// A tiny exact index used only to test the storage <-> index seam: it keeps slot -> vector in
/// memory and persists one record per slot (key = slot big-endian, value = the floats).
final class RecordingIndex: VectorIndex, @unchecked Sendable {  // `vectors` and `pending` are guarded by `lock`
    let kind: IndexKind = .hnsw
    let parameters: IndexParameters
    let dimension: Int
    let metric: KernelMetric
    private let lock = NSLock()
    private var vectors: [UInt32: [Float]] = [:]
    private var pending: [UInt32] = []
    /// Set by tests to make the next `add` on a 4-d index fail (an index error mid-transaction).
    nonisolated(unsafe) static var failNextAdd = false
    /// Loads so far (to check what loads an index and what does not).
    static let loads = Atomic<Int>(0)
    /// For 5-d indexes: scores reported by the index are wrong on purpose (the collection's
    /// re-rank stage must replace them with exact ones).
    static let skewed = 5

    init(dimension: Int, metric: KernelMetric, parameters: IndexParameters) {
        self.dimension = dimension
        self.metric = metric
        self.parameters = parameters
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return vectors.count - pending.count }
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
                     records: IndexRecordReader, vectors: SlotVectorSource) throws -> RecordingIndex {
        loads.add(1, ordering: .relaxed)
        let idx = RecordingIndex(dimension: dimension, metric: metric, parameters: parameters)
        try records.forEach(prefix: []) { key, value in
            // Storage promises 8-byte-aligned record buffers (LMDB itself aligns small values to 2).
            #expect(Int(bitPattern: value.baseAddress) % 8 == 0)
            let slot = key.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 1, as: UInt32.self)) }
            idx.vectors[slot] = Array(value.bindMemory(to: Float.self))
        }
        // The stored vectors the seam hands over agree with the records.
        try vectors.forEachRun { first, n, ids, rows in
            for r in 0..<n where ids.map({ $0[r] != emptySlotID }) ?? true {
                #expect(idx.vectors[first + UInt32(r)] == Array(UnsafeBufferPointer(start: rows + r * dimension, count: dimension)))
            }
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
            lock.lock(); self.vectors[s] = v; pending.removeAll { $0 == s }; lock.unlock()
        }
    }

    func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        for s in slots { try writer.delete(RecordingIndex.key(s)) }
        lock.lock(); pending += slots; lock.unlock()
    }

    func didCommit() {
        lock.lock(); for s in pending { vectors[s] = nil }; pending = []; lock.unlock()
    }

    func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                visibility: SlotVisibility?, filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        lock.lock()
        let snapshot = vectors
        let gone = Set(pending)
        lock.unlock()
        var top = TopK(k: k)
        for (s, v) in snapshot where (visibility?.contains(s) ?? !gone.contains(s)) && (filter?(s) ?? true) {
            var score = v.withUnsafeBufferPointer { metric.score(query, $0.baseAddress!, dim: dimension) }
            if dimension == RecordingIndex.skewed { score = -score }  // worst first
            top.push(score: score, id: UInt64(s))
        }
        return top.sorted().map { ($0.score, UInt32($0.id)) }
    }

    func checkInvariants(liveSlots: Set<UInt32>?) throws {
        lock.lock(); defer { lock.unlock() }
        if let liveSlots, Set(vectors.keys).subtracting(pending) != liveSlots {
            throw VDBError.corrupt("RecordingIndex holds \(vectors.count - pending.count) slots, storage \(liveSlots.count)")
        }
    }
}

@Suite(.serialized) struct IndexSeamTests {
    @Test func indexIsBuiltUpdatedPersistedAndReloaded() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let types: [IndexKind: any VectorIndex.Type] = [.hnsw: RecordingIndex.self]
        let base = randomVectors(300, 8, seed: 11)
        let memory: Int
        do {
            let db = try Database(path: tmp.path, indexTypes: types)
            let c = try db.createCollection(name: "x", dimension: 8, metric: .l2, index: .hnsw)
            #expect(c.activeIndexKind == .flat)  // not built yet
            try c.insert(Array(base[0..<200]))
            try c.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8))
            #expect(c.activeIndexKind == .hnsw)
            try c.checkIndexInvariants()
            try c.insert(Array(base[200..<300]))           // add through the index
            try c.checkIndexInvariants()
            #expect(try c.delete(ids: [0, 1, 2]) == 3)     // remove through the index
            try c.checkIndexInvariants()
            let info = try c.info()
            #expect(info.index == .hnsw && info.indexBuilt && info.parameters.m == 8)
            #expect(info.indexMemoryBytes >= 297 * 8 * 4)
            memory = info.indexMemoryBytes
            // Index search agrees with the exact answer.
            let hits = try c.search(base[150], k: 5)
            let exact = bruteForce(Array(base[3...]), ids: (3..<300).map(UInt64.init), base[150], k: 5, metric: .l2)
            #expect(hits.map(\.id) == exact.map(\.0))
        }
        // A new Database (same process): info reads the stored statistics without loading the
        // index; the first search loads it from its records, without a build.
        let db = try Database(path: tmp.path, indexTypes: types)
        let c = try db.collection(named: "x")
        let loads = RecordingIndex.loads.load(ordering: .relaxed)
        #expect(try c.info().indexMemoryBytes == memory)
        #expect(try db.collections().map(\.indexMemoryBytes) == [memory])
        #expect(RecordingIndex.loads.load(ordering: .relaxed) == loads)
        let hits = try c.search(base[299], k: 3)
        #expect(hits.first?.id == 299)
        #expect(RecordingIndex.loads.load(ordering: .relaxed) == loads + 1)
        try c.checkIndexInvariants()
        // The built-in HNSW (the default implementation) cannot read this test index's records,
        // and says so with a clear error instead of crashing.
        let plain = try Database(path: tmp.path)
        #expect(throws: VDBError.corruptIndexRecord(key: "M", reason: "no HNSW index records found")) {
            try plain.collection(named: "x").search(base[0], k: 1)
        }
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
        #expect(try c.search([0, 0, 1, 0], k: 3).map(\.id).sorted() == [0, 1])
        try c.checkIndexInvariants()
        #expect(try c.search([1, 0, 0, 0], k: 1).first?.id == 0)
        try c.insert([[0, 0, 1, 0]])
        #expect(try c.search([0, 0, 1, 0], k: 1).first?.id == 2)
        try c.checkIndexInvariants()
    }

    /// The re-rank stage works for any index: the index's candidates are re-scored with the
    /// stored vectors of the search's snapshot, so reported distances are exact.
    @Test func rerankStageRescoresAnyIndex() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path, indexTypes: [.hnsw: RecordingIndex.self])
        let c = try db.createCollection(name: "r", dimension: RecordingIndex.skewed, metric: .cosine)
        let base = randomVectors(40, RecordingIndex.skewed, seed: 12)
        try c.insert(base)
        try c.delete(ids: [3])
        try c.buildIndex(kind: .hnsw)
        let exact = bruteForce(base, ids: (0..<40).map(UInt64.init), base[17], k: 40, metric: .cosine).filter { $0.0 != 3 }
        // Without re-ranking, the (deliberately wrong) index order comes back.
        let raw = try c.search(base[17], k: 3)
        #expect(raw.map(\.id) == exact.suffix(3).reversed().map(\.0))
        // With it, the index proposes k * rerankFactor candidates (here all) and the collection
        // keeps the exact best k, with exact distances.
        let hits = try c.search(base[17], k: 3, parameters: SearchParameters(rerank: true, rerankFactor: 20))
        #expect(hits.map(\.id) == exact.prefix(3).map(\.0))
        #expect(hits.first?.id == 17 && abs((hits.first?.distance ?? 0) - 1) < 1e-5)
        for (h, e) in zip(hits, exact) { #expect(abs(Double(h.distance) - e.1) < 1e-5) }
        // A factor that overflows asks for more candidates than are stored: capped at the count,
        // so every vector is re-scored and the exact best come back.
        let all = try c.search(base[17], k: 3, parameters: SearchParameters(rerank: true, rerankFactor: Int.max))
        #expect(all.map(\.id) == exact.prefix(3).map(\.0))
    }
}
