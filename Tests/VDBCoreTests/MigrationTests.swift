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
                try Self.rewriteGraphInLegacyBlocks(reader: reader, writer: writer, version: 1, m: Self.params.m)
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

    /// Rewrites an HNSW index's "G" records in the 32-slot blocks of record versions 1 and 2, and
    /// its meta as they wrote it (no block-rows field) with `version`.
    static func rewriteGraphInLegacyBlocks(reader: TxnIndexReader, writer: TxnIndexWriter, version: UInt32, m: Int) throws {
        let metaKey = RecordKey.make(UInt8(ascii: "M"))
        let meta = Array(try #require(try reader.get(metaKey)))
        // version, dimension, M, efConstruction (4 each), metric (1), entry, max level, capacity, block rows.
        #expect(meta.count == 33)
        let blockRows = Int(meta.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 29, as: UInt32.self) })
        let nodeBytes = (1 + 2 * m) * 4, upperBytes = (1 + m) * 4
        var nodes: [(level: UInt8, l0: [UInt8], upper: [UInt8])] = []
        var keys: [[UInt8]] = []
        try reader.forEach(prefix: [UInt8(ascii: "G")]) { key, value in
            keys.append(Array(key))
            let b = Array(value)
            let rows = Int(b[0]) | Int(b[1]) << 8
            let blk = try #require(RecordKey.number(key, at: 1))
            #expect(nodes.count == Int(blk) * blockRows)
            var at = 2 + rows + rows * nodeBytes
            for r in 0..<rows {
                let level = b[2 + r]
                let l0 = Array(b[(2 + rows + r * nodeBytes)..<(2 + rows + (r + 1) * nodeBytes)])
                let upper = Array(b[at..<(at + Int(Int8(bitPattern: level) > 0 ? level : 0) * upperBytes)])
                at += upper.count
                nodes.append((level, l0, upper))
            }
            #expect(at == b.count)
        }
        for key in keys { try writer.delete(key) }
        for (blk, first) in stride(from: 0, to: nodes.count, by: HNSWIndex.legacyGraphBlock).enumerated() {
            let block = nodes[first..<min(nodes.count, first + HNSWIndex.legacyGraphBlock)]
            var b = RecordBuilder()
            b.append(UInt16(block.count))
            for n in block { b.append(n.level) }
            for n in block { n.l0.withUnsafeBytes { b.append(raw: $0) } }
            for n in block { n.upper.withUnsafeBytes { b.append(raw: $0) } }
            try b.write(RecordKey.make(UInt8(ascii: "G"), UInt32(blk)), to: writer)
        }
        var legacyMeta = Array(meta[0..<29])
        legacyMeta.replaceSubrange(0..<4, with: withUnsafeBytes(of: version.littleEndian) { Array($0) })
        try legacyMeta.withUnsafeBytes { try writer.put(metaKey, $0) }
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

    /// Graph blocks, with their count, checksum and LMDB's 16-byte overflow header, and the meta's version and block rows.
    static func graphLayout(_ db: Database, _ c: Collection) throws -> (version: UInt32, blockRows: Int?, blocks: Int, largestPages: Int) {
        try db.env.read { txn in
            let reader = TxnIndexReader(txn: txn, prefix: c.prefix)
            let meta = Array(try #require(try reader.get(RecordKey.make(UInt8(ascii: "M")))))
            var blocks = 0, largest = 0
            try reader.forEach(prefix: [UInt8(ascii: "G")]) { _, value in
                blocks += 1
                largest = max(largest, (value.count + RecordChecksum.size + 16 + 4095) / 4096)
            }
            let version = meta.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let rows = meta.count >= 33 ? Int(meta.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 29, as: UInt32.self) }) : nil
            return (version, rows, blocks, largest)
        }
    }

    /// Record version 3 sizes graph blocks to one 4 KiB page (27 slots at M 16; version 2's 32
    /// slots took two). A version-2 index loads and searches the same, keeps its 32-slot blocks
    /// through writes (its meta rewritten as version 3 saying so), and a rebuild moves it to pages.
    @Test func version2GraphBlocksLoadKeepTheirLayoutAndARebuildFitsThemToPages() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let params = IndexParameters(m: 16, efConstruction: 64, seed: 9, buildThreads: 1)
        let base = randomVectors(1000, Self.d, seed: 41)
        let queries = randomVectors(8, Self.d, seed: 42)
        #expect(HNSWIndex.pageGraphBlockRows(m: 16) == 27)
        let expected: [[SearchHit]]
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "v2", dimension: Self.d, metric: .l2)
            try c.insert(base)
            try c.buildIndex(kind: .hnsw, parameters: params)
            let fresh = try Self.graphLayout(db, c)
            #expect(fresh.version == 3 && fresh.blockRows == 27 && fresh.blocks == (1000 + 26) / 27 && fresh.largestPages == 1,
                    "\(fresh)")
            expected = try c.search(batch: queries, k: 10, parameters: Self.wide)
            try db.env.write { txn in
                try Self.rewriteGraphInLegacyBlocks(reader: TxnIndexReader(txn: txn.reader, prefix: c.prefix),
                                                    writer: TxnIndexWriter(txn: txn, prefix: c.prefix), version: 2, m: 16)
            }
            let legacy = try Self.graphLayout(db, c)
            #expect(legacy.version == 2 && legacy.blockRows == nil && legacy.blocks == (1000 + 31) / 32 && legacy.largestPages == 2, "\(legacy)")
        }
        do {
            let db = try Database(path: tmp.path)
            let c = try db.collection(named: "v2")
            #expect(try c.search(batch: queries, k: 10, parameters: Self.wide) == expected)
            try c.checkIndexInvariants()
            try c.insert([base[0].map { $0 + 0.25 }], ids: [10_000])
            let written = try Self.graphLayout(db, c)
            #expect(written.version == 3 && written.blockRows == 32, "\(written)")
        }
        do {
            let db = try Database(path: tmp.path)
            let c = try db.collection(named: "v2")
            try c.checkIndexInvariants()
            #expect(try c.search(base[0].map { $0 + 0.25 }, k: 1, parameters: Self.wide).first?.id == 10_000)
            try c.buildIndex(kind: .hnsw, parameters: params)
            let rebuilt = try Self.graphLayout(db, c)
            #expect(rebuilt.version == 3 && rebuilt.blockRows == 27 && rebuilt.largestPages == 1, "\(rebuilt)")
        }
    }
}
