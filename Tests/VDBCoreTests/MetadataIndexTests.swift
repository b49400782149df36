import CLMDB
import Foundation
import Testing
@testable import VDBCore
import VDBSupport

/// The metadata index follows every write: insert, upsert (which moves an id to a new slot),
/// delete, re-insert, rolled-back transactions, fields declared on existing vectors.
@Suite struct MetadataIndexTests {
    static let fields = [FieldDefinition(name: "lang", type: .keyword), FieldDefinition(name: "year", type: .int),
                         FieldDefinition(name: "score", type: .float), FieldDefinition(name: "taken_at", type: .time)]

    /// Seeded metadata with every field sometimes missing, plus an undeclared key.
    static func metadata(_ i: Int, seed: UInt64) -> Metadata {
        var rng = SplitMix64(seed: seed &+ UInt64(i))
        var m: Metadata = [:]
        let langs = ["en", "fr", "de", "ja", "zh"]
        if rng.next() % 5 != 0 { m["lang"] = .string(langs[Int(rng.next() % 5)]) }
        if rng.next() % 4 != 0 { m["year"] = .int(Int64(2000 + rng.next() % 25)) }
        if rng.next() % 3 != 0 { m["score"] = rng.next() % 2 == 0 ? .double(Double(rng.next() % 1000) / 100) : .int(Int64(rng.next() % 10)) }
        if rng.next() % 3 != 0 {
            let t = 1_600_000_000 + Double(rng.next() % 100_000_000)
            m["taken_at"] = rng.next() % 2 == 0 ? .string(MetadataTime.format(t)) : .double(t)
        }
        m["note"] = .string("n\(rng.next() % 7)")
        return m
    }

    static let filters: [Filter] = {
        let shorthand = [["lang=en"], ["lang in fr,de", "year>=2010"], ["year<2005"], ["score>=5"], ["score=3"],
                         ["taken_at>=2022-01-01"], ["lang!=en"], ["note=n3", "lang=ja"], ["year=2011"], ["score<=0.5"]]
        var out = shorthand.map { try! Filter(where: $0) }
        out.append(try! Filter(json: "{\"must\": [{\"is_null\": {\"key\": \"lang\"}}]}"))
        out.append(try! Filter(json: "{\"should\": [{\"key\": \"lang\", \"match\": {\"value\": \"zh\"}}, {\"key\": \"year\", \"range\": {\"gt\": 2020}}], \"must_not\": [{\"is_null\": {\"key\": \"score\"}}]}"))
        out.append(try! Filter(json: "{\"must\": [{\"key\": \"lang\", \"match\": {\"except\": [\"en\", \"fr\"]}}]}"))
        return out
    }()

    /// The index agrees with the stored metadata, and every filter counts what a scan counts.
    static func check(_ c: Collection, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try c.verifyFieldIndex()
        var all: [Metadata] = []
        try c.forEachMetadata { _, m in all.append(m); return true }
        let total = try c.count()
        let withoutMetadata = total - all.count
        let q = [Float](repeating: 0.5, count: c.dimension)
        for f in filters {
            let expected = all.filter { f.matches($0, fields: fields) }.count + (f.matches([:], fields: fields) ? withoutMetadata : 0)
            let plan = try c.searchExplained(contiguous: q, k: 3, where: f)[0].plan
            #expect(plan.matches == expected, "\(f.json)", sourceLocation: sourceLocation)
        }
    }

    @Test func maintainedByEveryWrite() throws {
        let dir = TempDir("mindex"); defer { dir.cleanup() }
        let db = try Database(path: dir.path)
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2, fields: Self.fields)
        #expect(try c.fields() == Self.fields)
        let n = 300
        let vectors = randomVectors(n, 4, seed: 1)
        try c.insert(vectors, ids: (0..<n).map(UInt64.init), metadata: (0..<n).map { Self.metadata($0, seed: 1) })
        try Self.check(c)
        // Upsert: new slots, changed or removed metadata (every third gets none).
        let up = (0..<80).map { UInt64($0 * 3) }
        try c.upsert(randomVectors(80, 4, seed: 2), ids: up, metadata: up.map { $0 % 9 == 0 ? nil : Self.metadata(Int($0), seed: 2) })
        try Self.check(c)
        // Delete, then re-insert some of the deleted ids (their slots are reused).
        let gone = (0..<60).map { UInt64($0 * 5 + 1) }
        #expect(try c.delete(ids: gone) == 60)
        try Self.check(c)
        try c.insert(randomVectors(30, 4, seed: 3), ids: Array(gone.prefix(30)), metadata: (0..<30).map { Self.metadata($0, seed: 3) })
        try Self.check(c)
        // Several writes in one transaction, then a rolled-back one that changes nothing.
        try db.write { txn in
            let w = try txn.collection(named: "c")
            try w.upsert(randomVectors(10, 4, seed: 4), ids: (200..<210).map(UInt64.init), metadata: (0..<10).map { Self.metadata($0, seed: 4) })
            try w.delete(ids: [201, 250])
            // Reads inside the transaction see its own index changes.
            let hits = try w.search([0, 0, 0, 0], k: 400, where: try Filter(where: ["note=n1"]))
            #expect(!hits.contains { $0.id == 201 || $0.id == 250 })
        }
        try Self.check(c)
        let before = try c.searchExplained(contiguous: [0, 0, 0, 0], k: 5, where: try Filter(where: ["lang=en"]))[0].plan.matches
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try db.write { txn in
                try txn.collection(named: "c").delete(ids: Array(0..<300).map(UInt64.init))
                throw Stop()
            }
        }
        #expect(try c.searchExplained(contiguous: [0, 0, 0, 0], k: 5, where: try Filter(where: ["lang=en"]))[0].plan.matches == before)
        try Self.check(c)
        // A value that does not fit its field is refused, naming it; nothing is written.
        let countBefore = try c.count()
        do {
            try c.insert([[1, 1, 1, 1]], ids: [999], metadata: [["year": "soon"]])
            Issue.record("expected an error")
        } catch let VDBError.invalidArgument(m) {
            #expect(m.contains("'year'") && m.contains("id 999") && m.contains("\"soon\"") && m.contains("int"), "\(m)")
        }
        #expect(try c.count() == countBefore)
        #expect(throws: VDBError.self) { try c.insert([[1, 1, 1, 1]], metadata: [["taken_at": "yesterday"]]) }
        #expect(throws: VDBError.self) { try c.insert([[1, 1, 1, 1]], metadata: [["lang": .string(String(repeating: "x", count: 300))]]) }
        try Self.check(c)
    }

    @Test func fieldsAddedToExistingVectors() throws {
        let dir = TempDir("mindex-add"); defer { dir.cleanup() }
        let db = try Database(path: dir.path)
        let c = try db.createCollection(name: "c", dimension: 4, metric: .cosine)
        try c.insert(randomVectors(200, 4, seed: 5), metadata: (0..<200).map { Self.metadata($0, seed: 5) })
        let filter = try Filter(where: ["lang=fr", "year>=2012"])
        let scanned = try c.searchExplained(contiguous: [1, 0, 0, 0], k: 10, where: filter)[0]
        #expect(scanned.plan.scannedKeys == ["lang", "year"])
        try c.addFields(Self.fields)
        try c.addFields([Self.fields[0]])  // again: nothing to do
        try Self.check(c)
        let indexed = try c.searchExplained(contiguous: [1, 0, 0, 0], k: 10, where: filter)[0]
        #expect(indexed.plan.scannedKeys.isEmpty)
        #expect(indexed.hits == scanned.hits && indexed.plan.matches == scanned.plan.matches)
        // Another type for a declared field, and existing values that do not fit, are refused.
        #expect(throws: VDBError.self) { try c.addFields([FieldDefinition(name: "lang", type: .int)]) }
        do {
            try c.addFields([FieldDefinition(name: "note", type: .int)])
            Issue.record("expected an error")
        } catch let VDBError.invalidArgument(m) {
            #expect(m.contains("'note'") && m.contains("is not an integer"), "\(m)")
        }
        #expect(try c.fields() == Self.fields)
        // Dropping a field removes its records; the key is filtered by scan again.
        #expect(try c.dropField(named: "lang"))
        #expect(try !c.dropField(named: "lang"))
        let dropped = try c.searchExplained(contiguous: [1, 0, 0, 0], k: 10, where: filter)[0]
        #expect(dropped.plan.scannedKeys == ["lang"] && dropped.hits == scanned.hits)
        try c.verifyFieldIndex()
        // Dropping the collection removes every record of its index.
        try db.dropCollection(named: "c")
        let left = try db.env.read { txn in
            var n = 0
            try txn.scan(txn.dbis.fields, prefix: []) { _, _ in n += 1; return true }
            return n
        }
        #expect(left == 0)
    }

    /// `Database.merge` declares the union of the shards' indexed fields on the merged
    /// collection, indexes what it copies, and refuses a field two shards type differently.
    @Test func mergeCarriesIndexedFields() throws {
        let dir = TempDir("mindex-merge"); defer { dir.cleanup() }
        let a = try Database(path: dir.sub("a")), b = try Database(path: dir.sub("b"))
        let ca = try a.createCollection(name: "c", dimension: 4, metric: .l2, fields: [Self.fields[0], Self.fields[1]])
        let cb = try b.createCollection(name: "c", dimension: 4, metric: .l2, fields: [Self.fields[1], Self.fields[3]])
        try ca.insert(randomVectors(50, 4, seed: 7), ids: (0..<50).map(UInt64.init), metadata: (0..<50).map { Self.metadata($0, seed: 7) })
        try cb.insert(randomVectors(50, 4, seed: 8), ids: (50..<100).map(UInt64.init), metadata: (0..<50).map { Self.metadata($0, seed: 8) })
        let out = try Database(path: dir.sub("out"))
        _ = try out.merge(shards: [a, b])
        let merged = try out.collection(named: "c")
        #expect(try merged.fields() == [Self.fields[0], Self.fields[1], Self.fields[3]])
        try merged.verifyFieldIndex()
        let c = try Database(path: dir.sub("c"))
        try c.createCollection(name: "c", dimension: 4, metric: .l2, fields: [FieldDefinition(name: "year", type: .float)])
        #expect(throws: VDBError.self) { try Database(path: dir.sub("out2")).merge(shards: [a, c]) }
    }

    /// A database written before the `fields` DBI existed opens (the DBI is created) and takes fields.
    @Test func databaseWithoutTheFieldsDBIOpens() throws {
        let dir = TempDir("mindex-old"); defer { dir.cleanup() }
        do {
            let db = try Database(path: dir.path)
            let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
            try c.insert(randomVectors(20, 4, seed: 6), metadata: (0..<20).map { Self.metadata($0, seed: 6) })
        }
        // Remove the DBI as if the file came from an older build.
        var env: OpaquePointer?
        #expect(mdb_env_create(&env) == 0)
        mdb_env_set_maxdbs(env, 16)
        #expect(mdb_env_open(env, dir.path, 0, 0o644) == 0)
        var txn: OpaquePointer?
        #expect(mdb_txn_begin(env, nil, 0, &txn) == 0)
        var dbi: MDB_dbi = 0
        #expect(mdb_dbi_open(txn, "fields", 0, &dbi) == 0)
        #expect(mdb_drop(txn, dbi, 1) == 0)
        #expect(mdb_txn_commit(txn) == 0)
        mdb_env_close(env)

        let db = try Database(path: dir.path)
        let c = try db.collection(named: "c")
        #expect(try c.count() == 20)
        try c.addFields(Self.fields)
        try Self.check(c)
    }
}
