import CLMDB
import Testing
@testable import VDBCore
import VDBSupport

/// What IVF indexes cost on disk (record version 3: list chunks sized to fill whole LMDB pages),
/// that a reopened index is the one that was built, and that record version 2 (32 entries per
/// chunk) still loads and stays consistent under writes.
@Suite struct IVFDiskTests {
    /// 384-d, the dimension of the scaling study (and of MiniLM), where 32-entry chunks of
    /// IVF_SQ8 wasted a quarter of their pages.
    static let wide = IndexTestSet(dim: 384, clusters: 16, seed: 20261201, base: 3000, queries: 20)
    static let params = IndexParameters(nlist: 6, seed: 5)

    @Test func chunkSizesFillPages() {
        // IVF_FLAT chunks hold slots only: 32 of them are a small value in a leaf page.
        #expect(IVFCore.chunkEntries(codec: .flat, dimension: 384) == 32)
        #expect(IVFCore.chunkEntries(codec: .sq8, dimension: 32) == 32)
        for d in [64, 100, 128, 384, 512, 768, 1536] {
            let n = IVFCore.chunkEntries(codec: .sq8, dimension: d)
            let value = 4 + n * (4 + d + 4) + RecordChecksum.size      // count, entries, checksum
            let pages = (value + 16 + 4095) / 4096                      // LMDB's overflow header
            #expect(n >= 32, "d \(d): \(n) entries")
            #expect(Double(value + 16) >= 0.99 * Double(pages * 4096), "d \(d): \(n) entries use \(value + 16) of \(pages * 4096) bytes")
        }
        #expect(IVFCore.chunkEntries(codec: .sq8, dimension: 384) == 73)
    }

    /// Built and reopened from its records: the same lists in the same order, the same codes,
    /// the same answers; then again after adds and removes rewrote some chunks.
    @Test(arguments: [KernelMetric.l2, .ip])
    func reopenedIndexEqualsBuilt(metric: KernelMetric) throws {
        let data = Self.wide
        let records = InMemoryIndexRecords()
        let initial = 2500
        let index = try buildIndex(IVFSQ8Index.self, data, metric, Self.params, rows: initial, records: records)
        #expect(index.core.chunkEntries == 73)
        try Self.expectSame(index, try reload(IVFSQ8Index.self, data, metric, Self.params, records: records), data, metric)
        // Every list record but a list's last holds a full chunk.
        try Self.expectChunked(records, entries: 73, lists: index.core.listSlots.map(\.count))

        try removeSlots(index, stride(from: 0, to: initial, by: 7).map { UInt32($0) }, writer: records)
        try addRows(index, data, metric, Array(initial..<data.baseRows), writer: records)  // writes the removals too
        let reopened = try reload(IVFSQ8Index.self, data, metric, Self.params, records: records)
        try Self.expectSame(index, reopened, data, metric)
        try Self.expectChunked(records, entries: 73, lists: index.core.listSlots.map(\.count))
    }

    /// IVF_SQ8 on disk, through the database: the index adds its 8-bit codes, its slots and a
    /// per-entry float, and little else (32-entry chunks took 512 bytes per vector at 384-d);
    /// the database holds the float vectors once.
    @Test func sq8DatabaseSizeBound() throws {
        let data = Self.wide, d = data.dim, n = data.baseRows
        let tmp = TempDir(); defer { tmp.cleanup() }
        let expected: [[SearchHit]]
        let queries = (0..<data.queryRows).map { Array(data.queriesL2[($0 * d)..<(($0 + 1) * d)]) }
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "sq", dimension: d, metric: .l2)
            try c.insert(contiguous: data.baseL2)
            let flatBytes = db.bytesOnDisk
            try c.buildIndex(kind: .ivfSQ8, parameters: IndexParameters(nlist: 2, seed: 5))
            let pages = try db.env.read { txn in
                var st = MDB_stat()
                mdb_stat(txn.raw, txn.dbis.index, &st)
                return st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages
            }
            let perVector = Double(pages * 4096) / Double(n)
            // Codes (d), slot (4), float (4), and below 3% for chunk tails, centroids and keys.
            #expect(perVector <= 1.03 * Double(d + 8), "index: \(perVector) bytes per vector")
            // The file grows by little more than that (the build's copies of a few small pages).
            let grown = Double(db.bytesOnDisk - flatBytes) / Double(n)
            #expect(grown <= 1.05 * Double(d + 8), "data.mdb grew by \(grown) bytes per vector")
            // With the float vectors once, that is under 1.3x the raw vectors at
            // 100k and 1M (Docs/scaling.md); at this size LMDB's fixed pages weigh more.
            #expect(Double(db.bytesOnDisk) <= 1.35 * Double(n * d * 4), "data.mdb \(db.bytesOnDisk) bytes, raw \(n * d * 4)")
            expected = try queries.map { try c.search($0, k: 10, parameters: SearchParameters(nprobe: 1)) }
            try c.checkIndexInvariants()
        }
        let db = try Database(path: tmp.path)
        let c = try db.collection(named: "sq")
        try c.checkIndexInvariants()
        #expect(try queries.map { try c.search($0, k: 10, parameters: SearchParameters(nprobe: 1)) } == expected)
    }

    /// IVF_FLAT lists are filled from the stored vectors when the collection opens (on all
    /// cores, straight into each list's place in one arena): reopened after deletes and inserts,
    /// the lists hold the same vectors in the same order, and searches answer the same; lists
    /// that grow after the open keep their entries.
    @Test(arguments: [KernelMetric.l2, .ip])
    func ivfFlatListsRefilledFromStorage(metric: KernelMetric) throws {
        let data = Self.wide, d = data.dim
        let tmp = TempDir(); defer { tmp.cleanup() }
        let queries = (0..<data.queryRows).map { Array(data.queriesL2[($0 * d)..<(($0 + 1) * d)]) }
        let sp = SearchParameters(nprobe: 3)
        func lists(_ c: Collection) throws -> (slots: [[UInt32]], bytes: [[UInt8]]) {
            try c.withSnapshot { snap in
                let core = try #require(try snap.index() as? IVFIndexBase).core
                return core.lock.read { (core.listSlots, core.listData.map(\.bytes)) }
            }
        }
        let before: (slots: [[UInt32]], bytes: [[UInt8]]), expected: [[SearchHit]]
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "flat", dimension: d, metric: metric == .l2 ? .l2 : .cosine)
            try c.insert(contiguous: Array(data.baseL2[0..<(2500 * d)]))
            try c.buildIndex(kind: .ivfFlat, parameters: Self.params)
            _ = try c.delete(ids: stride(from: 0, to: 2500, by: 5).map { UInt64($0) })
            try c.insert(contiguous: Array(data.baseL2[(2500 * d)...]))  // also writes the lists the deletes changed
            before = try lists(c)
            expected = try queries.map { try c.search($0, k: 10, parameters: sp) }
        }
        let grown: (slots: [[UInt32]], bytes: [[UInt8]])
        do {
            let db = try Database(path: tmp.path)
            let c = try db.collection(named: "flat")
            try c.checkIndexInvariants()
            let after = try lists(c)
            #expect(after.slots == before.slots)
            #expect(after.bytes == before.bytes)
            #expect(before.bytes.reduce(0) { $0 + $1.count } == (data.baseRows - 500) * d * 4)
            #expect(try queries.map { try c.search($0, k: 10, parameters: sp) } == expected)
            // Lists placed at their exact size at load grow into memory of their own.
            try c.insert(contiguous: Array(data.baseL2[0..<(300 * d)]))
            try c.checkIndexInvariants()
            grown = try lists(c)
        }
        let db = try Database(path: tmp.path)
        let c = try db.collection(named: "flat")
        let again = try lists(c)
        #expect(again.slots == grown.slots)
        #expect(again.bytes == grown.bytes)
    }

    /// An index written by record version 2 (32 entries per chunk, no chunk size in the meta
    /// record) loads as it was, and writes keep that layout until it is rebuilt.
    @Test func version2ChunksLoadAndStayConsistent() throws {
        let data = Self.wide, metric = KernelMetric.l2
        let records = InMemoryIndexRecords()
        let index = try buildIndex(IVFSQ8Index.self, data, metric, Self.params, rows: 2000, records: records)
        try Self.downgradeToVersion2(records, index.core)
        let old = try reload(IVFSQ8Index.self, data, metric, Self.params, records: records)
        #expect(old.core.chunkEntries == 32)
        try Self.expectSame(index, old, data, metric)
        try removeSlots(old, [3, 500, 1999], writer: records)
        try addRows(old, data, metric, Array(2000..<2100), writer: records)
        let again = try reload(IVFSQ8Index.self, data, metric, Self.params, records: records)
        #expect(again.core.chunkEntries == 32)
        try Self.expectSame(old, again, data, metric)
        try Self.expectChunked(records, entries: 32, lists: again.core.listSlots.map(\.count))
        let meta = try #require(try records.get(RecordKey.make(UInt8(ascii: "M"))))
        #expect(meta.loadUnaligned(as: UInt32.self) == 2)

        // A record version from a later build is refused, naming it.
        var future = Array(meta)
        future.replaceSubrange(0..<4, with: [9, 0, 0, 0])
        try future.withUnsafeBytes { try records.put(RecordKey.make(UInt8(ascii: "M")), $0) }
        #expect { try reload(IVFSQ8Index.self, data, metric, Self.params, records: records) } throws: {
            "\($0)".contains("record version 9")
        }
    }

    // MARK: helpers

    static func expectSame(_ a: IVFSQ8Index, _ b: IVFSQ8Index, _ data: IndexTestSet, _ metric: KernelMetric) throws {
        #expect(a.core.listSlots == b.core.listSlots)
        #expect(a.core.listData.map(\.bytes) == b.core.listData.map(\.bytes))
        let sp = SearchParameters(nprobe: 2)
        let x = try searchAll(a, data, metric, sp), y = try searchAll(b, data, metric, sp)
        #expect(x.map { $0.map(\.slot) } == y.map { $0.map(\.slot) })
        #expect(x.map { $0.map(\.score) } == y.map { $0.map(\.score) })
    }

    /// Every list is stored as ceil(count / entries) chunk records, all full but the last.
    static func expectChunked(_ records: InMemoryIndexRecords, entries: Int, lists: [Int]) throws {
        var seen = [Int](repeating: 0, count: lists.count)
        try records.forEach(prefix: [UInt8(ascii: "L")]) { key, value in
            let l = Int(try #require(RecordKey.number(key, at: 1)))
            let c = Int(try #require(RecordKey.number(key, at: 5)))
            let count = Int(value.loadUnaligned(as: UInt32.self))
            #expect(c == seen[l], "list \(l) chunk \(c)")
            #expect(count == min(entries, lists[l] - c * entries), "list \(l) chunk \(c): \(count) entries")
            seen[l] += 1
        }
        #expect(seen == lists.map { ($0 + entries - 1) / entries })
    }

    /// Rewrites the records as record version 2 stored them: 32 entries per chunk, and a meta
    /// record that ends after the metric.
    static func downgradeToVersion2(_ records: InMemoryIndexRecords, _ core: IVFCore) throws {
        let metaKey = RecordKey.make(UInt8(ascii: "M"))
        var meta = Array(try #require(try records.get(metaKey)))
        meta.replaceSubrange(0..<4, with: [2, 0, 0, 0])
        meta.removeLast(4)
        try meta.withUnsafeBytes { try records.put(metaKey, $0) }
        var keys: [[UInt8]] = []
        try records.forEach(prefix: [UInt8(ascii: "L")]) { key, _ in keys.append(key) }
        for k in keys { try records.delete(k) }
        let eb = core.entryBytes
        for (l, slots) in core.listSlots.enumerated() {
            for c in stride(from: 0, to: slots.count, by: 32) {
                let n = min(32, slots.count - c)
                var b = RecordBuilder()
                b.append(UInt32(n))
                for s in slots[c..<(c + n)] { b.append(s) }
                core.listData[l].withUnsafeBytes { b.append(raw: UnsafeRawBufferPointer(rebasing: $0[(c * eb)..<((c + n) * eb)])) }
                try b.write(RecordKey.make(UInt8(ascii: "L"), UInt32(l), UInt32(c / 32)), to: records)
            }
        }
    }
}
