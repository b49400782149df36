import CLMDB
import Foundation
import Synchronization
import Testing
@testable import VDBCore

/// Format version 2: every vector block, metadata record and index record carries a CRC32C;
/// reads verify it, `Database.check` verifies everything else too, and damage in one collection
/// stays in that collection.
@Suite struct IntegrityTests {
    /// A database with two collections: "a" (l2, HNSW, metadata, deletes and upserts) and "b"
    /// (cosine, flat).
    static func populated(_ path: String) throws -> Database {
        let db = try Database(path: path)
        let a = try db.createCollection(name: "a", dimension: 8, metric: .l2)
        let base = randomVectors(400, 8, seed: 1)
        try a.insert(base, metadata: (0..<400).map { ["n": .int(Int64($0)), "s": .string("v\($0 % 7)")] })
        try a.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 40, buildThreads: 1))
        try a.delete(ids: [3, 4, 5, 200])
        try a.upsert([base[0]], ids: [7], metadata: [["n": 7]])
        let b = try db.createCollection(name: "b", dimension: 4, metric: .cosine)
        try b.insert(randomVectors(50, 4, seed: 2))
        return db
    }

    /// Changes one byte of the stored value of `key` in `dbi`, below the checksum (as a bad disk
    /// sector would; the value is rewritten raw, not resealed).
    static func flipByte(_ db: Database, _ dbi: (DBIs) -> MDB_dbi, key: [UInt8], at offset: Int) throws {
        try db.env.write { txn in
            let d = dbi(txn.dbis)
            var v = Array(try #require(try txn.get(d, key)))
            v[offset] ^= 0x20
            try txn.put(d, key, v)
        }
    }

    @Test func freshDatabaseChecksClean() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Self.populated(tmp.path)
        let report = try db.check()
        #expect(report.ok, "\(report)")
        #expect(report.formatVersion == 2)
        #expect(report.fileBytes >= report.requiredBytes && report.requiredBytes > 0)
        let a = try #require(report.collections.first { $0.name == "a" })
        #expect(a.count == 396 && a.blocks == 1 && a.metadataRecords == 396 && a.index == .hnsw && a.indexRecords > 0)
        #expect(try db.check(collection: "b").collections.map(\.name) == ["b"])
        #expect(throws: VDBError.collectionNotFound("nope")) { try db.check(collection: "nope") }
    }

    @Test func aDamagedBlockIsReportedAndStaysInItsCollection() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Self.populated(tmp.path)
        let a = try db.collection(named: "a"), b = try db.collection(named: "b")
        _ = try b.search([1, 0, 0, 0], k: 5)  // verified once, before the damage
        func failsItsChecksum(_ block: String) -> (any Error) -> Bool {
            { e in
                guard case VDBError.corrupt(let m) = e else { return false }
                return m.contains("block 0 of '\(block)' fails its checksum")
            }
        }
        // A byte inside the rows of block 0 of the flat collection "b".
        try Self.flipByte(db, { $0.blocks }, key: Keys.block(b.cid, 0), at: b.rowsOffset + 8 * 4 + 1)
        #expect(performing: { _ = try b.get(id: 10) }, throws: failsItsChecksum("b"))
        #expect(performing: { _ = try b.search([1, 0, 0, 0], k: 5) }, throws: failsItsChecksum("b"))
        #expect(performing: { _ = try b.search(batch: randomVectors(3, 4, seed: 4), k: 5) }, throws: failsItsChecksum("b"))
        // Writes that would rewrite the block refuse too (no fresh checksum over damaged data).
        #expect(performing: { try b.insert([[0.5, 0.5, 0.5, 0.5]]) }, throws: failsItsChecksum("b"))
        // The other collection and the overview are unaffected.
        #expect(try a.search(randomVectors(1, 8, seed: 3)[0], k: 5).count == 5)
        #expect(try db.collections().count == 2)
        let report = try db.check()
        #expect(!report.ok)
        #expect(report.collections.first { $0.name == "a" }?.ok == true)
        let problems = try #require(report.collections.first { $0.name == "b" }).problems
        #expect(problems.first?.hasPrefix("block 0 fails its checksum") == true, "\(problems)")
        #expect(problems.count == 1, "the damaged block's slots are not reported again: \(problems)")
        // An indexed collection: reads of the block fail, and so does loading its index from it
        // (a new Database value loads the index again).
        try Self.flipByte(db, { $0.blocks }, key: Keys.block(a.cid, 0), at: a.rowsOffset + 8 * 4 + 1)
        #expect(performing: { _ = try a.get(id: 10) }, throws: failsItsChecksum("a"))
        let again = try Database(path: tmp.path).collection(named: "a")
        #expect(performing: { _ = try again.search(randomVectors(1, 8, seed: 3)[0], k: 5) }, throws: failsItsChecksum("a"))
    }

    /// Opening an HNSW collection of several blocks copies them on every core
    /// (`forEachBlockConcurrently`): the reopened index answers as the one built, and a damaged
    /// block in the middle still stops the load with its name.
    @Test func concurrentLoadOfManyBlocksMatchesAndChecks() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dim = 256
        let before: [[UInt64]]
        let queries = randomVectors(20, dim, seed: 6)
        do {
            let db = try Database(path: tmp.path)
            let c = try db.createCollection(name: "many", dimension: dim, metric: .l2)
            try c.insert(randomVectors(1500, dim, seed: 5))
            #expect(c.slotsPerBlock < 500, "the test needs several blocks")
            try c.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 40, buildThreads: 1))
            before = try queries.map { try c.search($0, k: 10).map(\.id) }
        }
        let db = try Database(path: tmp.path)
        let c = try db.collection(named: "many")
        #expect(try queries.map { try c.search($0, k: 10).map(\.id) } == before)
        try Self.flipByte(db, { $0.blocks }, key: Keys.block(c.cid, 2), at: c.rowsOffset + 8 * 4 + 1)
        let reopened = try Database(path: tmp.path).collection(named: "many")
        #expect { _ = try reopened.search(queries[0], k: 5) } throws: { e in
            guard case VDBError.corrupt(let m) = e else { return false }
            return m.contains("block 2 of 'many' fails its checksum")
        }
    }

    @Test func damagedMetadataAndIndexRecordsAreReported() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Self.populated(tmp.path)
        let a = try db.collection(named: "a")
        try Self.flipByte(db, { $0.metadata }, key: Keys.id(a.cid, 9), at: 3)
        #expect { _ = try a.get(id: 9) } throws: { e in
            guard case VDBError.corrupt(let m) = e else { return false }
            return m.contains("metadata of id 9 in 'a' fails its checksum")
        }
        #expect(try a.get(id: 10)?.metadata["n"] == .int(10))
        var problems = try db.check(collection: "a").collections[0].problems
        #expect(problems.contains { $0.contains("metadata of id 9 fails its checksum") }, "\(problems)")
        // Repair the metadata, damage an index record: the index cannot load, check says which.
        try a.upsert([try #require(try a.get(id: 10)).vector], ids: [9], metadata: [["n": 9]])
        let graphKey = Keys.collection(a.cid) + RecordKey.make(UInt8(ascii: "G"), 0)
        try Self.flipByte(db, { $0.index }, key: graphKey, at: 5)
        problems = try db.check(collection: "a").collections[0].problems
        #expect(problems.count == 1 && problems[0].hasPrefix("index record G") && problems[0].contains("fails its checksum"), "\(problems)")
    }

    @Test func checkFindsStructuralDamage() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Self.populated(tmp.path)
        let a = try db.collection(named: "a")
        try db.env.write { txn in
            // An id map entry lost, a free-list entry for a live slot, and an orphan metadata record.
            try txn.delete(txn.dbis.ids, Keys.id(a.cid, 20))
            try txn.put(txn.dbis.free, Keys.slot(a.cid, 30), [])
            try txn.putSealed(txn.dbis.metadata, Keys.id(a.cid, 4), try MetadataCodec.encode(["x": 1]))
        }
        let problems = try db.check().collections.first { $0.name == "a" }!.problems
        #expect(problems.contains("id 20 is stored in slot 20 but missing from the id map"), "\(problems)")
        #expect(problems.contains("free slot 30 holds a vector"), "\(problems)")
        #expect(problems.contains("metadata of id 4 belongs to no stored vector"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("the free list has") }, "\(problems)")
    }

    @Test func truncatedFileIsRefusedBeforeMapping() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let copy = tmp.sub("copy")
        do {
            let db = try Self.populated(tmp.sub("db"))
            _ = try db.backup(to: copy)
        }
        let file = (copy as NSString).appendingPathComponent("data.mdb")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        for cut in [12288, size / 2, size - 4096] {
            #expect(truncate(file, off_t(cut)) == 0)
            #expect { try Database(path: copy) } throws: { e in
                guard case VDBError.corrupt(let m) = e else { return false }
                return m.contains("is \(cut) bytes but LMDB's metadata says") && m.contains("truncated")
            }
            // Never written to.
            #expect(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int == cut)
        }
    }

    @Test func backupIsConsistentWhileAWriterRuns() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("db"))
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
        try c.insert(randomVectors(40, 4, seed: 5))
        try c.buildIndex(kind: .ivfFlat, parameters: IndexParameters(nlist: 4, buildThreads: 1))
        let stop = StopFlag()
        let writer = Thread {
            var i = 0
            while !stop.value.load(ordering: .relaxed) && i < 400 {
                _ = try? c.insert(randomVectors(10, 4, seed: UInt64(100 + i)))
                i += 1
            }
        }
        writer.start()
        var summaries: [BackupSummary] = []
        for i in 0..<3 { summaries.append(try db.backup(to: tmp.sub("backup\(i)"))) }
        stop.value.store(true, ordering: .relaxed)
        while writer.isExecuting { usleep(1000) }
        for s in summaries {
            #expect(s.check.ok, "\(s.check)")
            let n = try Database(path: s.path).collection(named: "c").count()
            #expect(n >= 40 && (n - 40) % 10 == 0, "a backup holds whole committed batches only: \(n)")
        }
        #expect(throws: VDBError.self) { try db.backup(to: tmp.sub("backup0")) }  // not empty
    }
}

/// A flag a test thread polls.
final class StopFlag: Sendable {
    let value = Atomic(false)
}

/// Format version 1 (no checksums) is converted to version 2 when opened, in one transaction.
@Suite struct FormatMigrationTests {
    /// The fixture database written by a format-1 build, extracted into `dir`.
    static func extractFixture(into dir: String) throws -> String {
        let archive = packageRoot.appendingPathComponent("Tests/VDBCoreTests/Fixtures/format1.tar.xz").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-xJf", archive, "-C", dir]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0, "tar -xJf \(archive)")
        return (dir as NSString).appendingPathComponent("format1")
    }

    static func formatStamp(_ db: Database) throws -> UInt32 {
        try db.env.read { txn in
            let f = try #require(try txn.get(txn.dbis.meta, Array("format".utf8)))
            return UInt32(littleEndian: f.loadUnaligned(as: UInt32.self))
        }
    }

    struct Expected: Decodable {
        var collection: String
        var vector: [Float]
        var k: Int
        var results: [[JSONValue]]
    }

    /// Just enough JSON for the expected results: numbers, strings, booleans, objects.
    enum JSONValue: Decodable, Equatable {
        case number(Double), string(String), bool(Bool), object([String: JSONValue])
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else { self = .object(try c.decode([String: JSONValue].self)) }
        }
    }

    @Test func aDatabaseWrittenByFormat1IsConvertedAndSearchesTheSame() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let path = try Self.extractFixture(into: tmp.path)
        let expected = try String(contentsOfFile: (path as NSString).appendingPathComponent("expected.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(Expected.self, from: Data($0.utf8)) }
        #expect(expected.count == 12)
        let db = try Database(path: path)
        #expect(try Self.formatStamp(db) == 2)
        let report = try db.check()
        #expect(report.ok, "\(report)")
        #expect(report.collections.map(\.name) == ["colors", "docs", "plain"])
        #expect(report.collections.map(\.count) == [18, 296, 50])
        for e in expected {
            let hits = try db.collection(named: e.collection).search(e.vector, k: e.k, parameters: SearchParameters(nprobe: 8, ef: 64))
            #expect(hits.count == e.results.count)
            for (h, r) in zip(hits, e.results) {
                #expect(r[0] == .number(Double(h.id)))
                if case .number(let d) = r[1] { #expect(abs(Double(h.distance) - d) < 1e-5) }
                if case .object(let m) = r[2] {
                    #expect(m.count == h.metadata.count)
                    for (key, v) in m {
                        switch (v, h.metadata[key]) {
                        case (.number(let n), .int(let i)?): #expect(Double(i) == n)
                        case (.string(let s), .string(let t)?): #expect(s == t)
                        case (.bool(let b), .bool(let c)?): #expect(b == c)
                        default: Issue.record("metadata \(key) of id \(h.id): \(v) vs \(String(describing: h.metadata[key]))")
                        }
                    }
                }
            }
        }
        // Writes after the conversion keep every record sealed; the index keeps working.
        let docs = try db.collection(named: "docs")
        try docs.insert([[Float](repeating: 0.25, count: 8)], ids: [1000], metadata: [["n": 1000]])
        try docs.delete(ids: [10])
        #expect(try db.check().ok)
    }

    @Test func strippedChecksumsAreAddedBackOnOpen() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        var before: [[SearchHit]] = []
        let queries = randomVectors(5, 8, seed: 77)
        do {
            let db = try IntegrityTests.populated(tmp.path)
            let a = try db.collection(named: "a")
            before = try queries.map { try a.search($0, k: 10) }
            // Back to format 1: every trailer removed, the stamp set to 1.
            try db.env.write { txn in
                for dbi in [txn.dbis.blocks, txn.dbis.metadata, txn.dbis.index] {
                    var records: [([UInt8], [UInt8])] = []
                    try txn.reader.scan(dbi, prefix: []) { k, v in records.append((Array(k), Array(v.dropLast(4)))); return true }
                    for (k, v) in records { try txn.put(dbi, k, v) }
                }
            }
            try db._setFormatVersion(1)
        }
        let db = try Database(path: tmp.path)
        #expect(try Self.formatStamp(db) == 2)
        #expect(try db.check().ok)
        let a = try db.collection(named: "a")
        #expect(try queries.map { try a.search($0, k: 10) } == before)
        #expect(try a.get(id: 7)?.metadata == ["n": 7])
    }
}

/// The metadata index of indexed fields is sealed like every other record.
@Suite struct MetadataIndexIntegrityTests {
    @Test func aDamagedMetadataIndexRecordIsReported() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
        try c.addFields([FieldDefinition(name: "lang", type: .keyword), FieldDefinition(name: "year", type: .int)])
        try c.insert(randomVectors(50, 4, seed: 1), metadata: (0..<50).map { ["lang": .string($0 % 2 == 0 ? "en" : "fr"), "year": .int(Int64(2000 + $0))] })
        #expect(try db.check().ok)
        #expect(try c.search([0, 0, 0, 0], k: 100, where: try Filter(where: ["lang=en"])).count == 25)
        // Damage every metadata-index record of the collection.
        let keys: [[UInt8]] = try db.env.read { txn in
            var all: [[UInt8]] = []
            try txn.scan(txn.dbis.fields, prefix: c.prefix) { k, _ in all.append(Array(k)); return true }
            return all
        }
        #expect(keys.count >= 3)
        for key in keys { try IntegrityTests.flipByte(db, { $0.fields }, key: key, at: 0) }
        let problems = try db.check().collections[0].problems
        #expect(problems.count == keys.count && problems.allSatisfy { $0.hasPrefix("metadata index record") && $0.contains("fails its checksum") },
                "\(problems)")
        for condition in ["lang=en", "year>=2010"] {
            #expect(throws: VDBError.self) { _ = try c.search([0, 0, 0, 0], k: 100, where: try Filter(where: [condition])) }
        }
    }
}
