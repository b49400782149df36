import Foundation
import Testing
@testable import VDBCore

/// Export (Arrow IPC, JSONL, NPY) and import: round trips are lossless, errors name the problem.
@Suite struct ExchangeTests {
    /// A collection with every metadata shape an export must keep: all four types, missing keys,
    /// a key whose values have several types, keys named like the fixed columns, non-ASCII text.
    func makeCollection(_ db: Database, name: String = "things", metric: Metric = .l2, count: Int = 300) throws -> Collection {
        let c = try db.createCollection(name: name, dimension: 5, metric: metric)
        let vectors = randomVectors(count, 5, seed: 11)
        var metas: [Metadata?] = []
        for i in 0..<count {
            if i % 7 == 3 { metas.append(nil); continue }
            var m: Metadata = ["label": .string("item \(i) · café ✓"), "rank": .int(Int64(i) - 150), "score": .double(Double(i) / 3)]
            if i % 2 == 0 { m["even"] = .bool(i % 4 == 0) }
            m["mixed"] = i % 3 == 0 ? .int(Int64(i)) : i % 3 == 1 ? .string("s\(i)") : .double(0.5 + Double(i))
            if i % 5 == 0 { m["id"] = .string("not the id") ; m["vector"] = .int(7) }
            if i == 10 { m["score"] = .double(.infinity) }
            metas.append(m)
        }
        try c.insert(vectors, ids: (0..<count).map { UInt64($0) * 1_000_003 + 17 }, metadata: metas)
        try c.setProperties(["clip.model.fingerprint": "abc123", "note": "exported"])
        return c
    }

    /// Every (id, vector bits, metadata) of a collection, sorted by id.
    func contents(_ c: Collection) throws -> [(UInt64, [UInt32], Metadata)] {
        let (ids, _) = try c.allVectors()
        return try ids.sorted().map { id in
            let r = try #require(try c.get(id: id))
            return (id, r.vector.map(\.bitPattern), r.metadata)
        }
    }

    func expectSameContents(_ a: Collection, _ b: Collection) throws {
        let x = try contents(a), y = try contents(b)
        #expect(x.count == y.count)
        for (p, q) in zip(x, y) {
            #expect(p.0 == q.0)
            #expect(p.1 == q.1, "vector of id \(p.0) differs")
            #expect(p.2 == q.2, "metadata of id \(p.0) differs: \(p.2) vs \(q.2)")
        }
    }

    @Test(arguments: [Metric.l2, .cosine])
    func arrowRoundTripIsLossless(metric: Metric) throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("a"))
        let c = try makeCollection(db, metric: metric)
        let file = tmp.sub("things.arrows")
        var reports: [Int] = []
        let summary = try c.export(to: file, format: .arrow, options: ExportOptions(batchSize: 64)) { done, total in
            #expect(total == 300)
            reports.append(done)
        }
        #expect(summary.count == 300 && reports == [64, 128, 192, 256, 300])
        let reader = try ArrowTableReader.open(file)
        #expect(reader.header.metric == metric && reader.header.dimension == 5 && reader.header.count == 300)
        #expect(reader.header.properties == ["clip.model.fingerprint": "abc123", "note": "exported"])
        let other = try Database(path: tmp.sub("b"))
        let (imported, n) = try other.importTable(reader, into: "copy", batchSize: 50)
        #expect(n == 300 && imported.metric == metric)
        #expect(try imported.properties() == ["clip.model.fingerprint": "abc123", "note": "exported"])
        try expectSameContents(c, imported)
    }

    @Test func schemaOfAnExportIsTypedPerKey() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let c = try makeCollection(try Database(path: tmp.sub("a")))
        try c.export(to: tmp.sub("t.arrows"), format: .arrow)
        let handle = try #require(FileHandle(forReadingAtPath: tmp.sub("t.arrows")))
        let stream = try ArrowStreamReader(source: FileDescriptorSource(fd: handle.fileDescriptor, name: "t"))
        let fields = Dictionary(uniqueKeysWithValues: stream.schema.fields.map { ($0.name, $0) })
        #expect(fields["id"]?.type == .int(bitWidth: 64, signed: false))
        #expect(fields["vector"]?.type == .fixedSizeList(size: 5, ArrowField(name: "item", nullable: false, type: .float(bits: 32))))
        #expect(fields["label"]?.type == .utf8 && fields["rank"]?.type == .int(bitWidth: 64, signed: true))
        #expect(fields["score"]?.type == .float(bits: 64) && fields["even"]?.type == .bool)
        #expect(fields["mixed"]?.type == .utf8 && fields["mixed"]?.metadata["vdb.type"] == "tagged")
        // Metadata keys named like the fixed columns get another column name and keep their key.
        #expect(fields["_id"]?.metadata["vdb.key"] == "id" && fields["_vector"]?.metadata["vdb.key"] == "vector")
        var rows = 0
        while let batch = try stream.nextBatch() { rows += batch.length }
        #expect(rows == 300)
    }

    @Test func jsonlAndNpyExportsReadBack() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("a"))
        let c = try db.createCollection(name: "v", dimension: 4, metric: .ip)
        let vectors = randomVectors(50, 4, seed: 3)
        try c.insert(vectors, ids: (0..<50).map { UInt64($0 * 3) },
                     metadata: (0..<50).map { ["name": .string("n\($0)"), "x": .double(Double($0) + 0.25)] })
        try c.export(to: tmp.sub("v.jsonl"), format: .jsonl, options: ExportOptions(batchSize: 7))
        let back = try VectorFiles.readAll(tmp.sub("v.jsonl"))
        #expect(back.ids == (0..<50).map { UInt64($0 * 3) })
        #expect(back.vectors.map(\.bitPattern) == vectors.flatMap { $0 }.map(\.bitPattern))
        #expect(back.metadata?[9] == ["name": "n9", "x": 9.25])

        let npy = try c.export(to: tmp.sub("v.npy"), format: .npy)
        #expect(npy.files == [tmp.sub("v.npy"), tmp.sub("v.ids.npy")])
        let arr = try VectorFiles.readAll(tmp.sub("v.npy"))
        #expect(arr.vectors.map(\.bitPattern) == vectors.flatMap { $0 }.map(\.bitPattern))
        let idBytes = try Data(contentsOf: URL(fileURLWithPath: tmp.sub("v.ids.npy")))
        #expect(idBytes.count % 16 == 0 || (idBytes.count - 50 * 8) % 64 == 0)
        let header = String(decoding: idBytes.prefix(128), as: UTF8.self)
        #expect(header.contains("'descr': '<u8'") && header.contains("'shape': (50,)"))
        let ids = idBytes.suffix(50 * 8).withUnsafeBytes { raw in (0..<50).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) } }
        #expect(ids == (0..<50).map { UInt64($0 * 3) })
    }

    @Test func exportErrorsNameTheProblem() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("a"))
        let c = try db.createCollection(name: "big", dimension: 2, metric: .l2)
        try c.insert([[1, 2]], ids: [UInt64(1) << 63])
        #expect(throws: VDBError.invalidArgument("id 9223372036854775808 does not fit a signed 64-bit id column: export with the uint64 id type")) {
            try c.export(to: tmp.sub("x.arrows"), format: .arrow, options: ExportOptions(idType: .int64))
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("x.arrows")), "a failed export leaves no file")
        try c.upsert([[1, 2]], ids: [UInt64(1) << 63], metadata: [["v": .double(.nan)]])
        #expect(throws: VDBError.self) { try c.export(to: tmp.sub("x.jsonl"), format: .jsonl) }
        #expect(throws: VDBError.io(path: tmp.sub("none/x.npy"), message: "cannot create: No such file or directory")) {
            try c.export(to: tmp.sub("none/x.npy"), format: .npy)
        }
    }

    @Test func malformedTablesAreRefusedWithTheReason() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let c = try makeCollection(try Database(path: tmp.sub("a")))
        let file = tmp.sub("t.arrows")
        try c.export(to: file, format: .arrow, options: ExportOptions(batchSize: 100))
        let full = try Data(contentsOf: URL(fileURLWithPath: file))
        // Cut in the middle of a record batch.
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: tmp.sub("cut.arrows")))
        let reader = try ArrowTableReader.open(tmp.sub("cut.arrows"))
        #expect {
            while try reader.next(maxCount: 1000) != nil {}
        } throws: { error in
            "\(error)".contains("ends in the middle of a message")
        }
        // Not an Arrow stream at all.
        try Data("hello, this is text".utf8).write(to: URL(fileURLWithPath: tmp.sub("text.arrows")))
        #expect(throws: VDBError.self) { _ = try ArrowTableReader.open(tmp.sub("text.arrows")) }
        // A table without a vector column.
        let schema = ArrowSchema(fields: [ArrowField(name: "id", nullable: false, type: .int(bitWidth: 64, signed: false))])
        #expect(throws: VDBError.badInput(path: "x", message: "no 'vector' column (columns: id)")) {
            _ = try VectorTableDecoder(schema: schema, source: "x")
        }
    }

    @Test func flatBuffersRoundTripASchema() throws {
        let schema = ArrowSchema(fields: [
            ArrowField(name: "id", nullable: false, type: .int(bitWidth: 64, signed: true)),
            ArrowField(name: "v", nullable: true, type: .list(ArrowField(name: "item", nullable: true, type: .float(bits: 16))),
                       metadata: ["k": "v", "é": "ü"]),
            ArrowField(name: "flag", nullable: true, type: .bool),
        ], metadata: ["a": "1", "b": ""])
        let header: FlatObject = .table([.int16(0), .object(.tables(schema.fields.map(ArrowIPC.fieldObject))), ArrowIPC.keyValues(schema.metadata)])
        let bytes = ArrowIPC.message(headerType: 1, header: header, bodyLength: 0)
        #expect(bytes.count % 8 == 0)
        let root = try FlatBufferReader(bytes: bytes, source: "t").root()
        #expect(try root.scalar(0, Int16.self, default: 0) == 4 && root.scalar(1, UInt8.self, default: 0) == 1)
        let decoded = try ArrowStreamReader.decodeSchema(try #require(try root.table(2)))
        #expect(decoded == schema)
    }
}
