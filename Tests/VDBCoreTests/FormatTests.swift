import Foundation
import Testing
@testable import VDBCore

@Suite struct FormatTests {
    func npy(_ descr: String, shape: String, fortran: Bool = false, payload: Data) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        var len = UInt16(header.utf8.count).littleEndian
        withUnsafeBytes(of: &len) { d.append(contentsOf: $0) }
        d.append(contentsOf: header.utf8)
        d.append(payload)
        return d
    }

    @Test func readsFvecsBvecsIvecsNpyAndJSONL() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try FileManager.default.createDirectory(at: tmp.url, withIntermediateDirectories: true)
        let vs = randomVectors(5, 3, seed: 1)
        try writeFvecs(tmp.sub("a.fvecs"), vs)
        let r = try VectorFiles.open(tmp.sub("a.fvecs"))
        #expect(r.dimension == 3 && r.count == 5)
        let c1 = try #require(try r.next(maxCount: 2))
        #expect(c1.count == 2 && c1.vectors == vs[0] + vs[1])
        #expect(try VectorFiles.readAll(tmp.sub("a.fvecs")).vectors == vs.flatMap { $0 })

        // bvecs and ivecs
        var b = Data(), iv = Data()
        for row in [[1, 2], [3, 250]] as [[Int]] {
            var d = Int32(2).littleEndian
            withUnsafeBytes(of: &d) { b.append(contentsOf: $0); iv.append(contentsOf: $0) }
            b.append(contentsOf: row.map { UInt8($0) })
            for x in row { var v = Int32(x).littleEndian; withUnsafeBytes(of: &v) { iv.append(contentsOf: $0) } }
        }
        try b.write(to: URL(fileURLWithPath: tmp.sub("a.bvecs")))
        try iv.write(to: URL(fileURLWithPath: tmp.sub("gt.ivecs")))
        #expect(try VectorFiles.readAll(tmp.sub("a.bvecs")).vectors == [1, 2, 3, 250])
        #expect(try VectorFiles.readIvecs(tmp.sub("gt.ivecs")) == [[1, 2], [3, 250]])

        // npy float32 and float16
        let f32: [Float] = [1, 2, 3, 4, 5, -6.5]
        try npy("<f4", shape: "(2, 3)", payload: f32.withUnsafeBytes { Data($0) }).write(to: URL(fileURLWithPath: tmp.sub("a.npy")))
        let n = try VectorFiles.readAll(tmp.sub("a.npy"))
        #expect(n.dimension == 3 && n.vectors == f32)
        let halves: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x0001, 0x7BFF, 0x0000]  // 1, -2, 0.5, 2^-24, 65504, 0
        try npy("<f2", shape: "(3, 2)", payload: halves.withUnsafeBytes { Data($0) }).write(to: URL(fileURLWithPath: tmp.sub("h.npy")))
        #expect(try VectorFiles.readAll(tmp.sub("h.npy")).vectors == [1, -2, 0.5, Float(sign: .plus, exponent: -24, significand: 1), 65504, 0])

        // jsonl with ids and metadata
        let lines = """
            {"id": 7, "vector": [1, 2.5, -3], "metadata": {"file": "a.jpg", "n": 3, "x": 0.5, "ok": true}}

            {"id": 18446744073709551614, "vector": [0, 0, 1]}
            """
        try Data(lines.utf8).write(to: URL(fileURLWithPath: tmp.sub("a.jsonl")))
        let j = try VectorFiles.readAll(tmp.sub("a.jsonl"))
        #expect(j.dimension == 3 && j.count == 2)
        #expect(j.ids == [7, 18_446_744_073_709_551_614])
        #expect(j.vectors == [1, 2.5, -3, 0, 0, 1])
        #expect(j.metadata?[0] == ["file": "a.jpg", "n": 3, "x": 0.5, "ok": true])
        #expect(j.metadata?[1] == nil)
    }

    @Test func malformedFilesGetClearErrors() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try FileManager.default.createDirectory(at: tmp.url, withIntermediateDirectories: true)
        func message(_ path: String) -> String {
            do { _ = try VectorFiles.readAll(path); return "no error" } catch { return "\(error)" }
        }
        #expect(message(tmp.sub("missing.fvecs")).contains("No such file"))
        #expect(message(tmp.sub("a.txt")).contains("unknown vector file extension"))
        // Truncated fvecs.
        try writeFvecs(tmp.sub("t.fvecs"), randomVectors(3, 4, seed: 2))
        let full = try Data(contentsOf: URL(fileURLWithPath: tmp.sub("t.fvecs")))
        try full.prefix(full.count - 3).write(to: URL(fileURLWithPath: tmp.sub("t.fvecs")))
        #expect(message(tmp.sub("t.fvecs")).contains("not a whole number"))
        // fvecs with a record of another dimension.
        try writeFvecs(tmp.sub("m.fvecs"), randomVectors(2, 4, seed: 3))
        var m = try Data(contentsOf: URL(fileURLWithPath: tmp.sub("m.fvecs")))
        m[20] = 5  // second record claims 5 components
        try m.write(to: URL(fileURLWithPath: tmp.sub("m.fvecs")))
        #expect(message(tmp.sub("m.fvecs")).contains("record 1 has dimension 5, expected 4"))
        // npy: wrong dtype, 1-D, fortran order, truncated.
        try npy("<f8", shape: "(1, 2)", payload: Data(count: 16)).write(to: URL(fileURLWithPath: tmp.sub("d.npy")))
        #expect(message(tmp.sub("d.npy")).contains("unsupported dtype"))
        try npy("<f4", shape: "(4,)", payload: Data(count: 16)).write(to: URL(fileURLWithPath: tmp.sub("o.npy")))
        #expect(message(tmp.sub("o.npy")).contains("2-D"))
        try npy("<f4", shape: "(2, 2)", fortran: true, payload: Data(count: 16)).write(to: URL(fileURLWithPath: tmp.sub("f.npy")))
        #expect(message(tmp.sub("f.npy")).contains("Fortran"))
        try npy("<f4", shape: "(3, 2)", payload: Data(count: 16)).write(to: URL(fileURLWithPath: tmp.sub("s.npy")))
        #expect(message(tmp.sub("s.npy")).contains("truncated"))
        try Data("hello".utf8).write(to: URL(fileURLWithPath: tmp.sub("b.npy")))
        #expect(message(tmp.sub("b.npy")).contains("not a NumPy"))
        // jsonl: wrong dimension (line 2), missing vector, bad JSON, mixed ids, bad metadata.
        try Data("{\"vector\": [1, 2]}\n{\"vector\": [1, 2, 3]}\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("w.jsonl")))
        #expect(message(tmp.sub("w.jsonl")).contains("line 2: vector has 3 components, expected 2"))
        try Data("{\"id\": 1}\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("v.jsonl")))
        #expect(message(tmp.sub("v.jsonl")).contains("line 1: missing \"vector\""))
        try Data("{\"vector\": [1]}\n{\"vector\": [1,\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("j.jsonl")))
        #expect(message(tmp.sub("j.jsonl")).contains("line 2: invalid JSON"))
        try Data("{\"id\": 1, \"vector\": [1]}\n{\"vector\": [2]}\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("i.jsonl")))
        #expect(message(tmp.sub("i.jsonl")).contains("every record has an \"id\" or none"))
        try Data("{\"vector\": [1], \"metadata\": {\"a\": [1, 2]}}\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("x.jsonl")))
        #expect(message(tmp.sub("x.jsonl")).contains("line 1: bad value at metadata.a: metadata values must be strings, numbers or booleans"))
        // Ids that are JSON numbers but not ids.
        for (id, want) in [("-5", "got -5"), ("1.5", "got 1.5"), ("\"7\"", "got the string \"7\"")] {
            try Data("{\"id\": \(id), \"vector\": [1]}\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("n.jsonl")))
            #expect(message(tmp.sub("n.jsonl")).contains("line 1: \"id\" must be a"), "\(id)")
            #expect(message(tmp.sub("n.jsonl")).contains(want), "\(id)")
        }
        try Data("".utf8).write(to: URL(fileURLWithPath: tmp.sub("e.jsonl")))
        #expect(message(tmp.sub("e.jsonl")).contains("no JSON records"))
    }
}
