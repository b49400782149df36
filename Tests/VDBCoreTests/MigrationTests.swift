import Foundation
import Testing
@testable import VDBCore

/// Databases whose index records were written by record version 1 (HNSW with its own copy of
/// the vectors in "V" records, IVF_FLAT lists holding the floats) still load and search the
/// same; the first write converts them to version 2 (one copy of the vectors, in storage).
@Suite struct MigrationTests {
    static let d = 16
    static let params = IndexParameters(nlist: 8, m: 8, efConstruction: 64, seed: 9, buildThreads: 1)
    static let wide = SearchParameters(nprobe: 64, ef: 200)

    /// Rewrites the collection's index records as record version 1 stored them, in place.
    static func downgradeToVersion1(_ db: Database, _ c: Collection, kind: IndexKind) throws {
        try db.env.write { txn in
            let reader = TxnIndexReader(txn: txn.reader, prefix: c.prefix)
            let writer = TxnIndexWriter(txn: txn, prefix: c.prefix)
            let st = try c.state(txn.reader)
            // Rows by slot, freed ones included (version 1 kept the vectors of deleted nodes).
            var rows: [UInt32: [Float]] = [:]
            try c.forEachBlock(txn.reader, state: st) { first, n, _, r in
                for o in 0..<n { rows[first + UInt32(o)] = Array(UnsafeBufferPointer(start: r + o * d, count: d)) }
            }
            let metaKey = RecordKey.make(UInt8(ascii: "M"))
            var meta = Array(try #require(try reader.get(metaKey)))
            meta.replaceSubrange(0..<4, with: [1, 0, 0, 0])
            try meta.withUnsafeBytes { try writer.put(metaKey, $0) }
            switch kind {
            case .hnsw:
                // version, dimension, M, efConstruction (4 each), metric (1), entry, max level: capacity at 25.
                let capacity = Int(meta.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 25, as: UInt32.self) })
                for blk in 0..<((capacity + 15) / 16) {
                    var b = RecordBuilder()
                    for s in (blk * 16)..<min(capacity, blk * 16 + 16) {
                        (rows[UInt32(s)] ?? [Float](repeating: 0, count: d)).withUnsafeBufferPointer { b.append(floats: $0) }
                    }
                    try b.write(RecordKey.make(UInt8(ascii: "V"), UInt32(blk)), to: writer)
                }
            case .ivfFlat:
                var chunks: [([UInt8], [UInt32])] = []
                try reader.forEach(prefix: [UInt8(ascii: "L")]) { key, value in
                    let n = Int(value.loadUnaligned(as: UInt32.self))
                    chunks.append((key, (0..<n).map { value.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: UInt32.self) }))
                }
                for (key, slots) in chunks {
                    var b = RecordBuilder()
                    b.append(UInt32(slots.count))
                    for s in slots { b.append(s) }
                    for s in slots { try #require(rows[s]).withUnsafeBufferPointer { b.append(floats: $0) } }
                    try b.write(key, to: writer)
                }
            default:
                Issue.record("no version 1 layout for \(kind)")
            }
        }
    }

    /// Record version and whether any version-1 layout is left.
    static func recordLayout(_ db: Database, _ c: Collection) throws -> (version: UInt32, legacy: Bool) {
        try db.env.read { txn in
            let reader = TxnIndexReader(txn: txn, prefix: c.prefix)
            let meta = try #require(try reader.get(RecordKey.make(UInt8(ascii: "M"))))
            var legacy = false
            try reader.forEach(prefix: [UInt8(ascii: "V")]) { _, _ in legacy = true }
            try reader.forEach(prefix: [UInt8(ascii: "L")]) { _, v in
                if v.count != 4 + 4 * Int(v.loadUnaligned(as: UInt32.self)) { legacy = true }
            }
            return (meta.loadUnaligned(as: UInt32.self), legacy)
        }
    }

    @Test(arguments: [IndexKind.hnsw, .ivfFlat])
    func version1IndexLoadsAndIsConvertedByTheFirstWrite(kind: IndexKind) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let base = randomVectors(600, Self.d, seed: 31)
        let queries = randomVectors(8, Self.d, seed: 32)
        let expected: [[SearchHit]]
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "old", dimension: Self.d, metric: .l2)
            try c.insert(base)
            try c.buildIndex(kind: kind, parameters: Self.params)
            try c.delete(ids: Array(0..<30))                     // deleted nodes stay in the graph
            try c.upsert([base[40].map { $0 + 0.5 }], ids: [40])  // moved to a new slot
            expected = try c.search(batch: queries, k: 10, parameters: Self.wide)
            try Self.downgradeToVersion1(db, c, kind: kind)
            #expect(try Self.recordLayout(db, c) == (1, true))
        }
        do {
            // A new process-level environment reads the version-1 records.
            let db = try Database(path: tmp.path)
            let c = try db.collection(named: "old")
            #expect(try c.search(batch: queries, k: 10, parameters: Self.wide) == expected)
            try c.checkIndexInvariants()
            #expect(try Self.recordLayout(db, c) == (1, true))   // reading changes nothing
            // The first write converts the records.
            try c.insert([base[0]], ids: [10_000])
            try c.checkIndexInvariants()
            #expect(try Self.recordLayout(db, c) == (kind == .hnsw ? HNSWIndex.version : IVFCore.version, false))
            #expect(try c.search(base[0], k: 1, parameters: Self.wide).first?.id == 10_000)
        }
        let db = try Database(path: tmp.path)
        let c = try db.collection(named: "old")
        try c.checkIndexInvariants()
        #expect(try c.search(batch: queries, k: 10, parameters: Self.wide).map { $0.filter { $0.id != 10_000 }.prefix(9) }
                == expected.map { $0.prefix(9) })
    }
}
